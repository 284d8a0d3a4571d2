// The ops API under /v1 on the HTTP listener: one fastify plugin a resource (*-routes.ts), each built
// on the route kit (route-kit.ts: token checks, body parsing, compare-and-set commits, store errors).
// Every change goes through the fleet store (persisted, audited, then published to every instance);
// a handler never touches a Snapshot directly.
// Errors: stable codes from errors.ts as `{ error: { code, message } }`; bad input is a 4xx, never a 500.

import type { FastifyInstance } from 'fastify';
import { consoleRoutes } from './console-routes.js';
import { drainRoutes } from './drain-routes.js';
import { endpointRoutes } from './endpoint-routes.js';
import { OpsError, toOpsError } from './errors.js';
import { rampRoutes } from './ramp-routes.js';
import { readRoutes } from './read-routes.js';
import { reloadRoutes } from './reload-routes.js';
import { OPS_PREFIX, type OpsDeps } from './route-kit.js';
import { splitRoutes } from './split-routes.js';
import { tenantRoutes } from './tenant-routes.js';

/** Every resource of the API, each a plugin given the same dependencies. */
const RESOURCES = [readRoutes, drainRoutes, endpointRoutes, splitRoutes, rampRoutes, tenantRoutes, reloadRoutes, consoleRoutes];

export function registerOpsRoutes(app: FastifyInstance, deps: OpsDeps): void {
  app.register(async (v1) => {
    v1.setErrorHandler((err, req, reply) => {
      const e = toOpsError(err);
      if (e.status >= 500) deps.log?.error({ err, url: req.url }, 'ops API error');
      if (e.status === 401) reply.header('www-authenticate', 'Bearer realm="regiondns"');
      reply.code(e.status).send(e.body());
    });
    v1.setNotFoundHandler((req, reply) => {
      reply.code(404).send(new OpsError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}: see GET ${OPS_PREFIX}/openapi.yaml`).body());
    });
    for (const resource of RESOURCES) v1.register(resource, deps);
  }, { prefix: OPS_PREFIX });
}
