// What the ops API lets a caller read and never changes: GET /v1/state, /v1/explain, /v1/drift,
// /v1/audit and /v1/health (a read token, or none with open reads), and the API's own description,
// GET /v1/openapi.yaml (public).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { RRType } from '../dns/constants.js';
import { parseSubnet } from '../dns/ecs.js';
import { explainQuery } from '../query/explain.js';
import { driftReport } from './drift.js';
import { OpsError } from './errors.js';
import { addRoute, hostnameParam, isStoreUnavailable, query, type OpsDeps } from './route-kit.js';
import { stateView } from './state-view.js';

const AUDIT_DEFAULT = 100;
const AUDIT_MAX = 1000;

export async function readRoutes(v1: FastifyInstance, deps: OpsDeps): Promise<void> {
  const { store } = deps;

  addRoute(v1, deps, 'GET', '/state', 'read', async () => stateView(deps));

  addRoute(v1, deps, 'GET', '/explain', 'read', async (req) => {
    const q = query(req);
    if (!q.hostname) throw new OpsError('BAD_REQUEST', 'query parameter "hostname" is required');
    if (!q.client) throw new OpsError('BAD_REQUEST', 'query parameter "client" is required (an IP address or subnet, e.g. 203.0.113.7 or 203.0.113.0/24)');
    const fqdn = hostnameParam(q.hostname, 'hostname');
    let client;
    try {
      client = parseSubnet(q.client);
    } catch (err) {
      throw new OpsError('BAD_REQUEST', `client: ${(err as Error).message}`);
    }
    const type = (q.type ?? 'A').toUpperCase();
    if (type !== 'A' && type !== 'AAAA') throw new OpsError('BAD_REQUEST', `type: "${q.type}" is not A or AAAA`);
    return explainQuery(deps.snapshot(), fqdn, type === 'A' ? RRType.A : RRType.AAAA, client);
  });

  addRoute(v1, deps, 'GET', '/drift', 'read', async () => {
    const self = deps.identity?.();
    const others = self && deps.otherInstances ? await deps.otherInstances() : { instances: [], error: null };
    return driftReport({
      snapshot: deps.snapshot(),
      drains: store.get('drain').values(),
      weights: store.get('weights').values(),
      ramps: store.get('ramp').values(),
      tenants: store.get('tenant').values(),
      instances: self ? [{ id: deps.instanceId, ...self }, ...others.instances] : [],
      instancesError: others.error,
      now: deps.now(),
    });
  });

  addRoute(v1, deps, 'GET', '/audit', 'read', async (req) => {
    const q = query(req);
    let limit = AUDIT_DEFAULT;
    if (q.limit !== undefined) {
      limit = Number(q.limit);
      if (!/^[0-9]+$/.test(q.limit) || limit < 1 || limit > AUDIT_MAX) throw new OpsError('BAD_REQUEST', `limit: an integer from 1 to ${AUDIT_MAX}`);
    }
    try {
      return { entries: await store.audit(limit) };
    } catch (err) {
      // Redis unreachable: say so (503 with the store's reason), not "internal error".
      if (isStoreUnavailable(err)) throw new OpsError('STORE_UNAVAILABLE', `the audit log cannot be read now (${(err as Error).message})`);
      throw err;
    }
  });

  addRoute(v1, deps, 'GET', '/health', 'read', async () => {
    if (!deps.healthReport) throw new OpsError('NOT_FOUND', 'health reporting is not enabled on this instance');
    return deps.healthReport();
  });

  addRoute(v1, deps, 'GET', '/openapi.yaml', 'public', async (_req, _who, reply) => {
    reply.header('content-type', 'application/yaml; charset=utf-8');
    return openapiText();
  });
}

let openapiCache: string | null = null;

/** The spec beside the compiled module (dist/ops/openapi.yaml, copied by the build), or the source copy. */
function openapiText(): string {
  if (openapiCache !== null) return openapiCache;
  const candidates = [new URL('./openapi.yaml', import.meta.url), new URL('../../src/ops/openapi.yaml', import.meta.url)];
  for (const u of candidates) {
    try {
      openapiCache = readFileSync(fileURLToPath(u), 'utf8');
      return openapiCache;
    } catch { /* try the next */ }
  }
  throw new OpsError('NOT_FOUND', 'openapi.yaml is not installed beside the server (run npm run build)');
}
