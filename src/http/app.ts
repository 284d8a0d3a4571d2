// The HTTP listener: metrics, liveness and readiness, apart from the query path.
// Built apart from listening so tests use inject(); later the ops API mounts here too.

import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready: boolean;
  /** "ok", or what is degraded and why. */
  status: string;
  detail?: Record<string, unknown>;
}

export interface HttpDeps {
  registry: Registry;
  /** The /metrics text when it is more than this process's registry (a multi-core server adds its workers'). */
  metrics?: () => Promise<string>;
  readiness(): Readiness;
  /** Facts for /healthz (version, snapshot). */
  liveness(): Record<string, unknown>;
}

export function buildHttpApp(deps: HttpDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.registry.contentType);
    return deps.metrics ? deps.metrics() : deps.registry.metrics();
  });

  // Liveness: the process is up and its event loop turns. Never depends on Redis or probes.
  app.get('/healthz', async () => ({ status: 'ok', ...deps.liveness() }));

  // Readiness: should this instance get traffic? 503 until zones are loaded.
  app.get('/readyz', async (_req, reply) => {
    const r = deps.readiness();
    reply.code(r.ready ? 200 : 503);
    return { status: r.status, ...(r.detail ?? {}) };
  });

  return app;
}
