// The OpenAPI spec held against the routes: the same operations both ways, and every example request
// accepted by the real route.
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { OpsErrors } from '../../src/ops/errors.js';
import { registerOpsRoutes } from '../../src/ops/routes.js';
import { cleanup, startFleet, WRITE, type Fleet } from './fixture.js';

const SPEC_PATH = new URL('../../src/ops/openapi.yaml', import.meta.url);
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

interface Parameter { name: string; in: string; required?: boolean; example?: unknown; $ref?: string }
interface Operation {
  operationId: string;
  security?: unknown[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { example?: unknown }> };
  responses: Record<string, { content?: Record<string, unknown> } | undefined>;
}
interface Spec {
  openapi: string;
  info: { description: string };
  paths: Record<string, Record<string, unknown> & { parameters?: Parameter[] }>;
  components: { parameters: Record<string, Parameter> };
}

const spec = parse(readFileSync(SPEC_PATH, 'utf8')) as Spec;

function resolve(p: Parameter): Parameter {
  if (!p.$ref) return p;
  const name = p.$ref.replace('#/components/parameters/', '');
  const found = spec.components.parameters[name];
  if (!found) throw new Error(`unresolved ${p.$ref}`);
  return found;
}

interface SpecOp { method: string; path: string; op: Operation; params: Parameter[] }

const specOps: SpecOp[] = Object.entries(spec.paths).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m]).map((m) => {
    const op = item[m] as Operation;
    return { method: m.toUpperCase(), path, op, params: [...(item.parameters ?? []), ...(op.parameters ?? [])].map(resolve) };
  }),
);

/** `/v1/regions/{region}/drain` with the parameters' examples filled in, plus the query string. */
function exampleUrl(o: SpecOp): string {
  let url = o.path;
  const query = new URLSearchParams();
  for (const p of o.params) {
    if (p.in === 'path') {
      expect(p.example, `${o.op.operationId}: path parameter ${p.name} needs an example`).toBeDefined();
      url = url.replace(`{${p.name}}`, encodeURIComponent(String(p.example)));
    } else if (p.in === 'query' && p.example !== undefined) {
      query.set(p.name, String(p.example));
    } else if (p.in === 'query' && p.required) {
      throw new Error(`${o.op.operationId}: required query parameter ${p.name} needs an example`);
    }
  }
  return query.size ? `${url}?${query}` : url;
}

describe('openapi.yaml', () => {
  it('is OpenAPI 3 and lists every error code of errors.ts', () => {
    expect(spec.openapi).toMatch(/^3\./);
    for (const { code, status } of Object.values(OpsErrors)) expect(spec.info.description).toContain(`| ${code} | ${status} |`);
  });

  it('describes exactly the routes registered under /v1', async () => {
    const app = Fastify();
    const routes: string[] = [];
    app.addHook('onRoute', (r) => {
      for (const m of [r.method].flat()) {
        // '::' in a route is a literal ':' (POST /v1/tenants::import serves /v1/tenants:import).
        if (m !== 'HEAD' && r.url.startsWith('/v1')) routes.push(`${m} ${r.url.replaceAll('::', ':')}`);
      }
    });
    const fleet = await startFleet();
    try {
      registerOpsRoutes(app, fleet.deps);
      await app.ready();
    } finally {
      await app.close();
      await fleet.close();
      cleanup(fleet.dir);
    }
    const documented = specOps.map((o) => `${o.method} ${o.path.replace(/\{([^}]+)\}/g, ':$1')}`);
    expect(routes.length).toBeGreaterThan(10);
    expect([...routes].sort()).toEqual([...documented].sort());
  });

  it('every operation documents its errors', () => {
    for (const o of specOps) {
      const codes = Object.keys(o.op.responses);
      const isPublic = Array.isArray(o.op.security) && o.op.security.length === 0;
      if (!isPublic) expect(codes, `${o.op.operationId} 401`).toContain('401');
      if (o.op.requestBody || o.params.length) expect(codes, `${o.op.operationId} 400`).toContain('400');
      if (o.method !== 'GET') expect(codes, `${o.op.operationId} 403/503`).toEqual(expect.arrayContaining(['403', '503']));
    }
  });

  describe('every example request is accepted by its route', () => {
    let fleet: Fleet;
    afterEach(async () => {
      await fleet.close();
      cleanup(fleet.dir);
    });

    // Operations that act on something another operation creates first (with that one's example).
    const prerequisite: Record<string, string> = {
      undrainRegion: 'drainRegion', undrainEndpoint: 'drainEndpoint', clearSplit: 'setSplit', getRamp: 'startRamp', stopRamp: 'startRamp', getTenant: 'setTenant', deleteTenant: 'setTenant',
    };
    const byId = new Map(specOps.map((o) => [o.op.operationId, o]));

    async function send(o: SpecOp) {
      const body = o.op.requestBody ? Object.values(o.op.requestBody.content)[0].example : undefined;
      if (o.op.requestBody?.required) expect(body, `${o.op.operationId}: a required body needs an example`).toBeDefined();
      return fleet.app.inject({ method: o.method as 'GET', url: exampleUrl(o), headers: WRITE, ...(body === undefined ? {} : { payload: body as object }) });
    }

    /** A stream never ends, so inject() cannot wait for it: read its first event over a real socket. */
    async function firstEvent(o: SpecOp): Promise<{ status: number; text: string }> {
      const address = await fleet.app.listen({ host: '127.0.0.1', port: 0 });
      const abort = new AbortController();
      const res = await fetch(`${address}${exampleUrl(o)}`, { headers: WRITE, signal: abort.signal });
      const reader = res.body!.getReader();
      const { value } = await reader.read();
      abort.abort();
      return { status: res.status, text: new TextDecoder().decode(value) };
    }

    it.each(specOps.map((o) => [o.op.operationId, o] as const))('%s', async (id, o) => {
      fleet = await startFleet({ healthReport: () => ({ ok: true }), tenants: true });
      if (o.op.responses['200']?.content?.['text/event-stream']) {
        const first = await firstEvent(o);
        expect(first.status).toBe(200);
        expect(first.text).toMatch(/^event: state\nid: 1\ndata: \{"seq":1,"state":\{"version":/);
        return;
      }
      const pre = prerequisite[id];
      if (pre) expect((await send(byId.get(pre)!)).statusCode).toBe(200);
      const res = await send(o);
      expect(res.statusCode, res.body).toBeLessThan(400);
      if (o.op.requestBody) expect(fleet.store.version(), `${id} wrote nothing`).toBeGreaterThan(pre ? 1 : 0);
    });
  });
});
