// The HTTP listener's own routes and errors: /healthz says 503 while the instance cannot serve DNS,
// and fastify's errors answer with our error body.
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildHttpApp } from '../../src/http/app.js';
import { toOpsError } from '../../src/ops/errors.js';

function app(serving: boolean) {
  return buildHttpApp({ registry: new client.Registry(), readiness: () => ({ ready: serving, status: serving ? 'ok' : '0/2 workers serving' }), liveness: () => ({ snapshotVersion: 3 }), servingDns: () => serving });
}

describe('HTTP listener', () => {
  it('/healthz is 503 while no DNS is served, 200 otherwise', async () => {
    const down = await app(false).inject({ method: 'GET', url: '/healthz' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toEqual({ status: 'not serving DNS', snapshotVersion: 3 });
    const up = await app(true).inject({ method: 'GET', url: '/healthz' });
    expect(up.statusCode).toBe(200);
    expect(up.json()).toEqual({ status: 'ok', snapshotVersion: 3 });
  });

  it('an unknown route outside /v1 answers with our error body', async () => {
    const r = await app(true).inject({ method: 'GET', url: '/nope' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ error: { code: 'REGIONDNS_ERR_NOT_FOUND', message: 'no route GET /nope' } });
  });

  it('a malformed URL answers with our error body', async () => {
    const r = await app(true).inject({ method: 'GET', url: '/metrics/%zz' });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('REGIONDNS_ERR_BAD_REQUEST');
  });

  it("fastify's FST_ERR_* map to REGIONDNS_ERR_*", () => {
    const fst = (code: string, statusCode: number) => Object.assign(new Error(`${code} message`), { code, statusCode });
    expect(toOpsError(fst('FST_ERR_CTP_BODY_TOO_LARGE', 413)).code).toBe('REGIONDNS_ERR_BODY_TOO_LARGE');
    expect(toOpsError(fst('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415)).code).toBe('REGIONDNS_ERR_UNSUPPORTED_MEDIA_TYPE');
    expect(toOpsError(fst('FST_ERR_CTP_EMPTY_JSON_BODY', 400)).code).toBe('REGIONDNS_ERR_BAD_REQUEST');
    expect(toOpsError(fst('FST_ERR_BAD_URL', 400)).code).toBe('REGIONDNS_ERR_BAD_REQUEST');
    expect(toOpsError(fst('FST_ERR_SOMETHING_NEW', 400)).code).toBe('REGIONDNS_ERR_BAD_REQUEST');
    expect(toOpsError(new Error('boom'))).toMatchObject({ code: 'REGIONDNS_ERR_INTERNAL', status: 500, message: 'internal error (see the server log)' });
  });
});
