// Endpoint drains through inject(), on the real MemoryStore and Coordinator: audited, in the snapshot
// and GET /v1/state, the guard (409 unless forced), and every error.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API, cleanup, EU, READ, startFleet, WEB, WRITE, type Fleet } from './fixture.js';

let fleet: Fleet;
beforeEach(async () => { fleet = await startFleet(); });
afterEach(async () => {
  await fleet.close();
  cleanup(fleet.dir);
});

async function call(method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = WRITE) {
  const res = await fleet.app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, body: res.json() as Record<string, any> };
}

function expectError(r: { status: number; body: Record<string, any> }, status: number, code: string, message?: RegExp) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error.code).toBe(code);
  if (message) expect(r.body.error.message).toMatch(message);
}

const records = (fqdn: string, region: string) => fleet.coordinator.snapshot().steered.get(fqdn)!.records.get(region)!.a.length;

describe('POST/DELETE /v1/endpoints/{address}/drain', () => {
  it('drains an endpoint in every pool that lists it, audits it, shows it in the state, and undrains it', async () => {
    // 192.0.2.10 is api's us-east endpoint; api still has eu-central.
    const r = await call('POST', '/v1/endpoints/192.0.2.10/drain', { reason: 'lb swap' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.drain).toMatchObject({ address: '192.0.2.10', reason: 'lb swap', hostnames: null, by: 'alice' });
    expect(r.body.message).toBe(`192.0.2.10 drained in every pool that lists it (${API})`);
    expect(records(API, 'us-east')).toBe(0);
    expect(records(WEB, 'us-east')).toBe(1);
    const st = await call('GET', '/v1/state', undefined, READ);
    expect(st.body.endpointDrains).toEqual([{ address: '192.0.2.10', reason: 'lb swap', by: 'alice', at: expect.any(Number), hostnames: null }]);
    expect((await fleet.store.audit(1))[0]).toMatchObject({ action: 'endpoint.drain', target: '192.0.2.10', actor: 'alice', reason: 'lb swap' });

    const u = await call('DELETE', '/v1/endpoints/192.0.2.10/drain', { reason: 'done' });
    expect(u.status).toBe(200);
    expect(u.body.undrained).toMatchObject({ address: '192.0.2.10' });
    expect(records(API, 'us-east')).toBe(1);
    expect((await fleet.store.audit(1))[0]).toMatchObject({ action: 'endpoint.undrain', target: '192.0.2.10', reason: 'done' });
    expectError(await call('DELETE', '/v1/endpoints/192.0.2.10/drain'), 404, 'REGIONDNS_ERR_NOT_DRAINED', /192\.0\.2\.10 is not drained/);
  });

  it('refuses a drain that leaves a hostname with no operational region (409 naming it), unless forced', async () => {
    // eu.gslb.example.com. has one region with one endpoint.
    const r = await call('POST', '/v1/endpoints/198.51.100.30/drain', { reason: 'x' });
    expectError(r, 409, 'REGIONDNS_ERR_LAST_REGION', /eu\.gslb\.example\.com\. \(A\) \(eu-central: 0 of 1 IPv4 endpoints healthy, min-healthy 1\)/);
    expect(fleet.store.version()).toBe(0);
    // Health counts: with eu-central down for web, draining web's us-east endpoint strands it.
    fleet.setHealth('eu-central', { up: false, reason: 'HTTP 500' });
    expectError(await call('POST', '/v1/endpoints/192.0.2.20/drain', { reason: 'x' }), 409, 'REGIONDNS_ERR_LAST_REGION', /web\.gslb\.example\.com\. \(A\).*eu-central: HTTP 500/);
    const forced = await call('POST', '/v1/endpoints/198.51.100.30/drain', { reason: 'x', force: true });
    expect(forced.status).toBe(200);
    expect(forced.body.message).toMatch(/forced: eu\.gslb\.example\.com\. \(A\) now has no operational region/);
    expect((await fleet.store.audit(1))[0].detail).toEqual({ forced: true, stranded: [`${EU} (A)`] });
  });

  it('a drain for some hostnames only covers their pools; IPv6 addresses are matched in any spelling', async () => {
    const r = await call('POST', '/v1/endpoints/192.0.2.10/drain', { reason: 'x', hostnames: ['API.gslb.example.com'] });
    expect(r.body.drain.hostnames).toEqual([API]);
    expectError(await call('POST', '/v1/endpoints/192.0.2.10/drain', { reason: 'x', hostnames: [WEB] }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /web\.gslb\.example\.com\. has no pool listing 192\.0\.2\.10 \(hostnames that do: api\.gslb\.example\.com\.\)/);
    expectError(await call('POST', '/v1/endpoints/2001:DB8::99/drain', { reason: 'x' }), 404, 'REGIONDNS_ERR_UNKNOWN_ENDPOINT', /2001:db8::99 is in no pool/);
  });

  it('rejects what is not an address, a subnet, a missing reason, and a read-only token', async () => {
    expectError(await call('POST', '/v1/endpoints/lb.example.net/drain', { reason: 'x' }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /not an IPv4 or IPv6 address/);
    expectError(await call('POST', `/v1/endpoints/${encodeURIComponent('192.0.2.0/24')}/drain`, { reason: 'x' }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /one address, not a subnet/);
    expectError(await call('POST', '/v1/endpoints/192.0.2.10/drain', {}), 400, 'REGIONDNS_ERR_BAD_REQUEST', /reason/);
    expectError(await call('POST', '/v1/endpoints/192.0.2.10/drain', { reason: 'x' }, READ), 403, 'REGIONDNS_ERR_FORBIDDEN');
  });
});
