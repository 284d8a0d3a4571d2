// Every ops route and every error through inject(), on the real MemoryStore and Coordinator.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry, Drain, Ramp, WeightOverride } from '../../src/state/fleet-store.js';
import { strandedBy } from '../../src/ops/route-kit.js';
import { API, cleanup, EU, READ, startFleet, WEB, WRITE, type Fleet } from './fixture.js';

let fleet: Fleet;
beforeEach(async () => { fleet = await startFleet(); });
afterEach(async () => {
  await fleet.close();
  cleanup(fleet.dir);
});

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = WRITE) {
  const res = await fleet.app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, body: res.json() as Record<string, any>, headers: res.headers };
}

function expectError(r: { status: number; body: Record<string, any> }, status: number, code: string, message?: RegExp) {
  expect(r.status).toBe(status);
  expect(r.body.error.code).toBe(code);
  if (message) expect(r.body.error.message).toMatch(message);
}

const audit = async (): Promise<AuditEntry[]> => fleet.store.audit(100);

describe('GET /v1/state', () => {
  it('lists regions with health and drains, hostnames with file and effective weights', async () => {
    fleet.setHealth('ap-south', { up: false, reason: '3 of 3 probers: HTTP 500' });
    const r = await call('GET', '/v1/state', undefined, READ);
    expect(r.status).toBe(200);
    expect(r.body.version).toBe(0);
    expect(r.body.snapshotVersion).toBe(fleet.coordinator.snapshot().version);
    expect(r.body.regions).toEqual([
      { id: 'us-east', location: { lat: 39.04, lon: -77.49 }, health: { up: true, reason: 'up' }, drained: false, drain: null },
      { id: 'eu-central', location: { lat: 50.11, lon: 8.68 }, health: { up: true, reason: 'up' }, drained: false, drain: null },
      { id: 'ap-south', location: { lat: 19.08, lon: 72.88 }, health: { up: false, reason: '3 of 3 probers: HTTP 500' }, drained: false, drain: null },
    ]);
    const api = r.body.hostnames.find((h: { fqdn: string }) => h.fqdn === API);
    expect(api).toEqual({
      fqdn: API,
      regions: ['us-east', 'eu-central', 'ap-south'],
      sets: [
        { name: 'stable', regions: ['us-east', 'eu-central'], fileWeight: 99.9, weight: 99.9, share: 99.9 },
        { name: 'canary', regions: ['ap-south'], fileWeight: 0.1, weight: 0.1, share: 0.1 },
      ],
      override: null,
      ramp: null,
    });
  });

  it('shows drains, overrides and ramps', async () => {
    await call('POST', '/v1/regions/eu-central/drain', { reason: 'db failover', hostnames: ['web.gslb.example.com'] });
    await call('POST', '/v1/hostnames/api.gslb.example.com/ramp', { set: 'canary', steps: [1, 50, 100], every: '10m' });
    const r = await call('GET', '/v1/state', undefined, READ);
    expect(r.body.version).toBe(2);
    const eu = r.body.regions.find((x: { id: string }) => x.id === 'eu-central');
    expect(eu).toMatchObject({ drained: true, drain: { reason: 'db failover', by: 'alice', hostnames: [WEB] } });
    const api = r.body.hostnames.find((h: { fqdn: string }) => h.fqdn === API);
    expect(api.sets.map((s: { weight: number }) => s.weight)).toEqual([99, 1]);
    expect(api.override).toMatchObject({ weights: { stable: 99, canary: 1 }, by: 'alice' });
    expect(api.ramp).toMatchObject({ set: 'canary', step: 0, state: 'running' });
  });
});

describe('drain and undrain', () => {
  it('drains a region for every hostname, audits it, and undrains it', async () => {
    const r = await call('POST', '/v1/regions/us-east/drain', { reason: 'db failover' });
    expect(r.status).toBe(200);
    expect(r.body.drain).toMatchObject({ region: 'us-east', reason: 'db failover', hostnames: null, by: 'alice' });
    expect(r.body.version).toBe(1);
    expect(r.body.message).toBe('us-east drained for every hostname');
    expect(fleet.coordinator.snapshot().drains.get('us-east')).toMatchObject({ reason: 'db failover' });
    expect(fleet.coordinator.snapshot().isOperationalFor(API)('us-east').up).toBe(false);

    const u = await call('DELETE', '/v1/regions/us-east/drain', { reason: 'done' });
    expect(u.status).toBe(200);
    expect(u.body.undrained).toMatchObject({ region: 'us-east' });
    expect(fleet.coordinator.snapshot().drains.size).toBe(0);

    const entries = await audit();
    expect(entries.map((e) => [e.action, e.actor, e.target, e.reason])).toEqual([
      ['undrain', 'alice', 'us-east', 'done'],
      ['drain', 'alice', 'us-east', 'db failover'],
    ]);
    expect(entries[1].before).toBeNull();
    expect(entries[1].after).toMatchObject({ region: 'us-east', reason: 'db failover' });
    expect(entries[0].before).toMatchObject({ region: 'us-east' });
    expect(entries[0].after).toBeNull();
  });

  it('undrain without a body is fine; undrain of a region not drained is 404', async () => {
    expectError(await call('DELETE', '/v1/regions/us-east/drain'), 404, 'REGIONDNS_ERR_NOT_DRAINED', /us-east is not drained/);
    await call('POST', '/v1/regions/us-east/drain', { reason: 'x' });
    expect((await call('DELETE', '/v1/regions/us-east/drain')).status).toBe(200);
    expect((await audit())[0].reason).toBeNull();
  });

  it('drains for listed hostnames only (canonicalised), and replacing a drain records before → after', async () => {
    const r = await call('POST', '/v1/regions/us-east/drain', { reason: 'web deploy', hostnames: ['WEB.gslb.example.com', 'web.gslb.example.com.'] });
    expect(r.status).toBe(200);
    expect(r.body.drain.hostnames).toEqual([WEB]);
    const snap = fleet.coordinator.snapshot();
    expect(snap.isOperationalFor(WEB)('us-east').up).toBe(false);
    expect(snap.isOperationalFor(API)('us-east').up).toBe(true);
    const again = await call('POST', '/v1/regions/us-east/drain', { reason: 'all of it now' });
    expect(again.body.replaced).toMatchObject({ hostnames: [WEB] });
    expect(again.body.message).toMatch(/replacing the previous drain/);
    const [last] = await audit();
    expect(last.before).toMatchObject({ hostnames: [WEB] });
    expect(last.after).toMatchObject({ hostnames: null, reason: 'all of it now' });
  });

  it('404 for an unknown region; 400 for a bad body or an unknown hostname', async () => {
    expectError(await call('POST', '/v1/regions/mars-1/drain', { reason: 'x' }), 404, 'REGIONDNS_ERR_UNKNOWN_REGION', /no region "mars-1" \(known: us-east, eu-central, ap-south\)/);
    expectError(await call('DELETE', '/v1/regions/mars-1/drain'), 404, 'REGIONDNS_ERR_UNKNOWN_REGION');
    expectError(await call('POST', '/v1/regions/us-east/drain', {}), 400, 'REGIONDNS_ERR_BAD_REQUEST', /reason/);
    expectError(await call('POST', '/v1/regions/us-east/drain', { reason: '   ' }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /reason: must not be empty/);
    expectError(await call('POST', '/v1/regions/us-east/drain', { reason: 'x', hostname: ['api'] }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /hostname/);
    expectError(await call('POST', '/v1/regions/us-east/drain', { reason: 'x', hostnames: [] }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /at least one hostname/);
    expectError(await call('POST', '/v1/regions/us-east/drain', { reason: 'x', force: 'yes' }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /force/);
    expectError(await call('POST', '/v1/regions/us-east/drain', { reason: 'x', hostnames: ['nope.gslb.example.com'] }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /nope\.gslb\.example\.com\. is not a steered hostname/);
    expectError(await call('POST', '/v1/regions/us-east/drain', { reason: 'x', hostnames: ['eu.gslb.example.com'] }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /does not use region us-east/);
    expectError(await call('POST', '/v1/regions/us-east/drain', { reason: 'x', hostnames: ['bad..name'] }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /empty label/);
    expectError(await call('DELETE', '/v1/regions/us-east/drain', { why: 'x' }), 400, 'REGIONDNS_ERR_BAD_REQUEST');
    expect(fleet.store.version()).toBe(0);
  });

  it('409 when the drain would leave a hostname with no operational region, unless forced', async () => {
    const r = await call('POST', '/v1/regions/eu-central/drain', { reason: 'maintenance' });
    expectError(r, 409, 'REGIONDNS_ERR_LAST_REGION', /eu\.gslb\.example\.com\. \(eu-central: drained by alice: maintenance\)/);
    expect(r.body.error.message).toMatch(/force/);
    expect(r.body.error.detail.hostnames.map((h: { fqdn: string }) => h.fqdn)).toEqual([EU]);
    expect(fleet.store.version()).toBe(0);

    const forced = await call('POST', '/v1/regions/eu-central/drain', { reason: 'maintenance', force: true });
    expect(forced.status).toBe(200);
    expect(forced.body.message).toMatch(/forced: eu\.gslb\.example\.com\. now has no operational region/);
    expect((await audit())[0].detail).toEqual({ forced: true, stranded: [EU] });
  });

  it('counts health and other drains, per record set: us-east down + drain eu-central strands web and api\'s stable set', async () => {
    fleet.setHealth('us-east', { up: false, reason: 'HTTP 500' });
    const r = await call('POST', '/v1/regions/eu-central/drain', { reason: 'x', hostnames: ['web.gslb.example.com'] });
    expectError(r, 409, 'REGIONDNS_ERR_LAST_REGION', /web\.gslb\.example\.com\. \(us-east: HTTP 500; eu-central: drained by alice: x\)/);
    // api's canary (0.1%) still has ap-south, but its stable set (99.9% of answers) has no region left.
    const snap = fleet.coordinator.snapshot();
    const stranded = strandedBy(snap, { region: 'eu-central', reason: 'x', hostnames: null, by: 't', at: 0 } satisfies Drain);
    expect(stranded.map((s) => `${s.fqdn}/${s.set}`).sort()).toEqual([`${API}/stable`, `${EU}/all`, `${WEB}/all`]);
    const all = await call('POST', '/v1/regions/eu-central/drain', { reason: 'x' });
    expectError(all, 409, 'REGIONDNS_ERR_LAST_REGION', /api\.gslb\.example\.com\. set stable \(us-east: HTTP 500; eu-central: drained by alice: x\)/);
  });

  it('a set whose weight in force is 0 does not count; a split that gives it weight does', async () => {
    // ap-south only serves the canary: draining it strands canary (0.1%) unless its weight is 0.
    expectError(await call('POST', '/v1/regions/ap-south/drain', { reason: 'x' }), 409, 'REGIONDNS_ERR_LAST_REGION', /set canary \(ap-south: drained/);
    expect((await call('PUT', '/v1/hostnames/api.gslb.example.com/split', { sets: [{ name: 'stable', weight: 1 }, { name: 'canary', weight: 0 }] })).status).toBe(200);
    expect((await call('POST', '/v1/regions/ap-south/drain', { reason: 'x' })).status).toBe(200);
  });

  it('of two concurrent drains that together strand a record set, exactly one gets 409', async () => {
    for (let round = 0; round < 5; round++) {
      const [a, b] = await Promise.all([
        call('POST', '/v1/regions/us-east/drain', { reason: `round ${round}` }),
        call('POST', '/v1/regions/eu-central/drain', { reason: `round ${round}` }),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      expect(fleet.store.get('drain').size).toBe(1);
      const drained = [...fleet.store.get('drain').keys()][0];
      expect((await call('DELETE', `/v1/regions/${drained}/drain`, {})).status).toBe(200);
    }
  });

  it('a drain changes the explain answer', async () => {
    const before = await call('GET', '/v1/explain?hostname=web.gslb.example.com&client=192.0.2.1', undefined, READ);
    expect(before.status).toBe(200);
    expect(before.body.answer).toEqual(['web.gslb.example.com. 30 A 192.0.2.20']);
    await call('POST', '/v1/regions/us-east/drain', { reason: 'db failover' });
    const after = await call('GET', '/v1/explain?hostname=web.gslb.example.com&client=192.0.2.1', undefined, READ);
    expect(after.body.answer).toEqual(['web.gslb.example.com. 30 A 198.51.100.20']);
    expect(JSON.stringify(after.body.trace)).toMatch(/drained by alice: db failover/);
  });
});

describe('split', () => {
  const url = '/v1/hostnames/api.gslb.example.com/split';

  it('409 when it sends more answers to a set with no operational region, unless forced; moving traffic away is fine', async () => {
    // canary is ap-south only; with ap-south down, a split raising canary's share is refused.
    fleet.setHealth('ap-south', { up: false, reason: 'HTTP 500' });
    const up = await call('PUT', url, { sets: [{ name: 'stable', weight: 50 }, { name: 'canary', weight: 50 }] });
    expectError(up, 409, 'REGIONDNS_ERR_LAST_REGION', /sends more of api\.gslb\.example\.com\.'s answers to a record set with no operational region: record set canary \(ap-south: HTTP 500\)/);
    expect(fleet.store.version()).toBe(0);
    const down = await call('PUT', url, { sets: [{ name: 'stable', weight: 100 }, { name: 'canary', weight: 0 }] });
    expect(down.status).toBe(200);
    const forced = await call('PUT', url, { sets: [{ name: 'stable', weight: 50 }, { name: 'canary', weight: 50 }], force: true });
    expect(forced.status).toBe(200);
  });

  it('sets weights (snapshot.weightOverrides follows), clears them, audits both', async () => {
    const r = await call('PUT', url, { sets: [{ name: 'canary', weight: 1 }, { name: 'stable', weight: 99 }], reason: 'more canary' });
    expect(r.status).toBe(200);
    expect(r.body.override).toMatchObject({ fqdn: API, weights: { canary: 1, stable: 99 }, by: 'alice' });
    expect(r.body.message).toBe(`${API} split set: canary=1 stable=99`);
    expect(fleet.coordinator.snapshot().weightOverrides.get(API)).toEqual([99, 1]);
    expect(fleet.store.get('weights').get(API)).toMatchObject({ weights: { stable: 99, canary: 1 } });

    const c = await call('DELETE', url);
    expect(c.status).toBe(200);
    expect(c.body.message).toBe(`${API} is back to the weights of its file: stable=99.9 canary=0.1`);
    expect(fleet.coordinator.snapshot().weightOverrides.has(API)).toBe(false);
    expect((await audit()).map((e) => e.action)).toEqual(['split.clear', 'split']);
    expectError(await call('DELETE', url), 404, 'REGIONDNS_ERR_NO_SPLIT');
  });

  it.each([
    [{ sets: [{ name: 'stable', weight: 99 }] }, /missing: canary/],
    [{ sets: [{ name: 'stable', weight: 99 }, { name: 'canary', weight: 1 }, { name: 'blue', weight: 1 }] }, /no record set "blue" \(its sets: stable, canary\)/],
    [{ sets: [{ name: 'stable', weight: 99 }, { name: 'stable', weight: 1 }] }, /"stable" is named twice/],
    [{ sets: [{ name: 'stable', weight: -1 }, { name: 'canary', weight: 1 }] }, /sets\.0\.weight: must be ≥ 0/],
    [{ sets: [{ name: 'stable', weight: 0 }, { name: 'canary', weight: 0 }] }, /add up to a finite number above 0/],
    [{ sets: [{ name: 'stable', weight: 1e308 }, { name: 'canary', weight: 1e308 }] }, /finite/],
    [{ sets: [{ name: 'stable', weight: '99' }, { name: 'canary', weight: 1 }] }, /sets\.0\.weight/],
    [{ sets: [] }, /sets/],
    [{}, /sets/],
    [[1, 2], /body/],
  ])('400 for %j', async (body, message) => {
    expectError(await call('PUT', url, body), 400, 'REGIONDNS_ERR_BAD_REQUEST', message);
    expect(fleet.store.version()).toBe(0);
  });

  it('404 for a hostname that is not steered; 400 for a name that is not a name', async () => {
    expectError(await call('PUT', '/v1/hostnames/www.gslb.example.com/split', { sets: [] }), 404, 'REGIONDNS_ERR_UNKNOWN_HOSTNAME', /www\.gslb\.example\.com\. is not a steered hostname \(known: api/);
    expectError(await call('DELETE', '/v1/hostnames/nope.example/split'), 404, 'REGIONDNS_ERR_UNKNOWN_HOSTNAME');
    expectError(await call('PUT', `/v1/hostnames/${'x'.repeat(70)}.example/split`, { sets: [] }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /label longer than 63/);
  });

  it('409 while a ramp is running; allowed (and clears the ramp record) once it is halted', async () => {
    await call('POST', '/v1/hostnames/api.gslb.example.com/ramp', { set: 'canary', steps: [1, 100], every: '1h' });
    const body = { sets: [{ name: 'stable', weight: 50 }, { name: 'canary', weight: 50 }] };
    expectError(await call('PUT', url, body), 409, 'REGIONDNS_ERR_RAMP_RUNNING', /stop it first/);
    expectError(await call('DELETE', url), 409, 'REGIONDNS_ERR_RAMP_RUNNING');
    const ramp = fleet.store.get('ramp').get(API) as Ramp;
    await fleet.store.write([{ ns: 'ramp', key: API, value: { ...ramp, state: 'halted', haltReason: 'test' } }], { actor: 't', action: 't', target: API, reason: null, before: null, after: null });
    const r = await call('PUT', url, body);
    expect(r.status).toBe(200);
    expect(r.body.message).toMatch(/the halted ramp record was cleared/);
    expect(fleet.store.get('ramp').has(API)).toBe(false);
  });
});

describe('ramp', () => {
  const url = '/v1/hostnames/api.gslb.example.com/ramp';

  it('started after a split, records the weights in force so the other sets keep them', async () => {
    await call('PUT', '/v1/hostnames/api.gslb.example.com/split', { sets: [{ name: 'stable', weight: 97 }, { name: 'canary', weight: 3 }] });
    const r = await call('POST', url, { set: 'stable', steps: [50, 100], every: '1h' });
    expect(r.status).toBe(200);
    expect((fleet.store.get('ramp').get(API) as Ramp).base).toEqual({ stable: 97, canary: 3 });
    expect(r.body.override.weights).toEqual({ stable: 50, canary: 50 });
  });

  it('starts with step 0 and its weights in one write; GET shows it; DELETE stops it and keeps the weights', async () => {
    const now = Date.now();
    const r = await call('POST', url, { set: 'canary', steps: [0.1, 1, 5, 25, 100], every: '10m', 'halt-on': { 'unhealthy-regions': true }, reason: 'release 7' });
    expect(r.status).toBe(200);
    expect(r.body.ramp).toMatchObject({ fqdn: API, set: 'canary', steps: [0.1, 1, 5, 25, 100], everyMs: 600_000, step: 0, state: 'running', haltReason: null, haltOnUnhealthyRegions: true, by: 'alice' });
    expect(r.body.ramp.nextAt - r.body.ramp.startedAt).toBe(600_000);
    expect(r.body.ramp.startedAt).toBeGreaterThanOrEqual(now);
    expect(r.body.override.weights).toEqual({ stable: 99.9, canary: 0.1 });
    expect(r.body.version).toBe(1); // one write
    expect(r.body.message).toMatch(/next step \(1%\) in 10m/);
    const [entry] = await audit();
    expect(entry).toMatchObject({ action: 'ramp.start', actor: 'alice', target: API, reason: 'release 7', before: { ramp: null, weights: null } });

    const g = await call('GET', url, undefined, READ);
    expect(g.status).toBe(200);
    expect(g.body.ramp.step).toBe(0);
    expect(g.body.nextStepInMs).toBeGreaterThan(599_000);

    expectError(await call('POST', url, { set: 'canary', steps: [1], every: '1m' }), 409, 'REGIONDNS_ERR_RAMP_RUNNING');

    const s = await call('DELETE', url, { reason: 'errors' });
    expect(s.status).toBe(200);
    expect(s.body.message).toMatch(/current weights stay in force as a split \(stable=99\.9 canary=0\.1\)/);
    expect(fleet.store.get('ramp').has(API)).toBe(false);
    expect(fleet.store.get('weights').get(API)).toMatchObject({ weights: { stable: 99.9, canary: 0.1 } });
    expect((await audit())[0]).toMatchObject({ action: 'ramp.stop', reason: 'errors', after: null });
    expectError(await call('GET', url, undefined, READ), 404, 'REGIONDNS_ERR_NO_RAMP');
    expectError(await call('DELETE', url), 404, 'REGIONDNS_ERR_NO_RAMP');
  });

  it('every as milliseconds, halt-on off, a single step is done at once', async () => {
    const r = await call('POST', url, { set: 'stable', steps: [50], every: 5000, 'halt-on': { 'unhealthy-regions': false } });
    expect(r.body.ramp).toMatchObject({ everyMs: 5000, state: 'done', haltOnUnhealthyRegions: false });
    expect(r.body.override.weights).toEqual({ stable: 50, canary: 50 });
    // A done ramp is replaced by a new one.
    expect((await call('POST', url, { set: 'canary', steps: [5, 10], every: '1s' })).status).toBe(200);
  });

  it.each([
    [{ set: 'blue', steps: [1], every: '1m' }, /no record set "blue"/],
    [{ set: 'canary', steps: [5, 1], every: '1m' }, /strictly increasing: 5 then 1/],
    [{ set: 'canary', steps: [1, 1], every: '1m' }, /strictly increasing/],
    [{ set: 'canary', steps: [0, 1], every: '1m' }, /step 0 is not within/],
    [{ set: 'canary', steps: [1, 101], every: '1m' }, /step 101/],
    [{ set: 'canary', steps: [], every: '1m' }, /steps/],
    [{ set: 'canary', steps: [1], every: 'soon' }, /"soon" is not a duration/],
    [{ set: 'canary', steps: [1], every: '500ms' }, /every: from 1s to 30d \(got 500ms\)/],
    [{ set: 'canary', steps: [1], every: 10 }, /from 1s to 30d/],
    [{ set: 'canary', steps: [1], every: '31d' }, /from 1s to 30d \(got 31d\)/],
    [{ set: 'canary', steps: [1] }, /every/],
    [{ set: 'canary', steps: [1], every: '1m', 'halt-on': { 'unhealthy-region': true } }, /halt-on/],
    [{ set: 'canary', steps: [1], every: '1m', extra: 1 }, /extra/],
  ])('400 for %j', async (body, message) => {
    expectError(await call('POST', url, body), 400, 'REGIONDNS_ERR_BAD_REQUEST', message);
    expect(fleet.store.version()).toBe(0);
  });

  it('400 for a hostname with one record set; 404 for an unknown hostname', async () => {
    expectError(await call('POST', '/v1/hostnames/web.gslb.example.com/ramp', { set: 'all', steps: [1], every: '1m' }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /one record set/);
    expectError(await call('POST', '/v1/hostnames/nope.example/ramp', { set: 'all', steps: [1], every: '1m' }), 404, 'REGIONDNS_ERR_UNKNOWN_HOSTNAME');
    expectError(await call('GET', '/v1/hostnames/nope.example/ramp', undefined, READ), 404, 'REGIONDNS_ERR_UNKNOWN_HOSTNAME');
  });
});

describe('explain, audit, health, openapi', () => {
  it('explain: AAAA, subnets, and 400s for bad input', async () => {
    const r = await call('GET', '/v1/explain?hostname=web.gslb.example.com&client=2001:db8::/56&type=aaaa', undefined, READ);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ hostname: WEB, qtype: 'AAAA', client: '2001:db8::/56', steered: true });
    expectError(await call('GET', '/v1/explain?client=192.0.2.1', undefined, READ), 400, 'REGIONDNS_ERR_BAD_REQUEST', /"hostname" is required/);
    expectError(await call('GET', '/v1/explain?hostname=web.gslb.example.com', undefined, READ), 400, 'REGIONDNS_ERR_BAD_REQUEST', /"client" is required/);
    expectError(await call('GET', '/v1/explain?hostname=web.gslb.example.com&client=banana', undefined, READ), 400, 'REGIONDNS_ERR_BAD_REQUEST', /client: "banana" is not an IPv4 or IPv6/);
    expectError(await call('GET', '/v1/explain?hostname=web.gslb.example.com&client=192.0.2.0/33', undefined, READ), 400, 'REGIONDNS_ERR_BAD_REQUEST', /prefix length/);
    expectError(await call('GET', '/v1/explain?hostname=web.gslb.example.com&client=192.0.2.1&type=MX', undefined, READ), 400, 'REGIONDNS_ERR_BAD_REQUEST', /type/);
    expectError(await call('GET', '/v1/explain?hostname=a..b&client=192.0.2.1', undefined, READ), 400, 'REGIONDNS_ERR_BAD_REQUEST');
    expectError(await call('GET', '/v1/explain?hostname=a&hostname=b&client=192.0.2.1', undefined, READ), 400, 'REGIONDNS_ERR_BAD_REQUEST', /more than once/);
    const plain = await call('GET', '/v1/explain?hostname=www.gslb.example.com&client=192.0.2.1', undefined, READ);
    expect(plain.body).toMatchObject({ steered: false, answer: ['www.gslb.example.com. 300 A 192.0.2.80'] });
  });

  it('audit: newest first, limit default 100, 1..1000', async () => {
    for (let i = 0; i < 3; i++) {
      await call('POST', '/v1/regions/us-east/drain', { reason: `r${i}` });
    }
    const r = await call('GET', '/v1/audit?limit=2', undefined, READ);
    expect(r.status).toBe(200);
    expect(r.body.entries.map((e: AuditEntry) => e.reason)).toEqual(['r2', 'r1']);
    expect((await call('GET', '/v1/audit', undefined, READ)).body.entries).toHaveLength(3);
    for (const bad of ['0', '1001', 'ten', '1.5', '-1']) {
      expectError(await call('GET', `/v1/audit?limit=${bad}`, undefined, READ), 400, 'REGIONDNS_ERR_BAD_REQUEST', /limit/);
    }
  });

  it('health: 404 without a report, the report with one', async () => {
    expectError(await call('GET', '/v1/health', undefined, READ), 404, 'REGIONDNS_ERR_NOT_FOUND', /not enabled/);
    const other = await startFleet({ healthReport: () => ({ checks: 3 }) });
    try {
      const r = await other.app.inject({ method: 'GET', url: '/v1/health', headers: READ });
      expect(r.json()).toEqual({ checks: 3 });
    } finally {
      await other.close();
      cleanup(other.dir);
    }
  });

  it('openapi.yaml is served without a token', async () => {
    const r = await fleet.app.inject({ method: 'GET', url: '/v1/openapi.yaml' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/yaml/);
    expect(r.body).toMatch(/^openapi: 3/);
  });
});

describe('errors', () => {
  it('unknown /v1 routes are a JSON 404', async () => {
    expectError(await call('GET', '/v1/nope', undefined, READ), 404, 'REGIONDNS_ERR_NOT_FOUND', /no route GET \/v1\/nope/);
    expectError(await call('PATCH' as 'GET', '/v1/state', undefined, READ), 404, 'REGIONDNS_ERR_NOT_FOUND');
  });

  it('bad JSON, wrong content type and oversized bodies are 4xx, never 500', async () => {
    const bad = await fleet.app.inject({ method: 'POST', url: '/v1/regions/us-east/drain', headers: { ...WRITE, 'content-type': 'application/json' }, payload: '{"reason":' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('REGIONDNS_ERR_BAD_REQUEST');
    const empty = await fleet.app.inject({ method: 'POST', url: '/v1/regions/us-east/drain', headers: { ...WRITE, 'content-type': 'application/json' }, payload: '' });
    expect(empty.statusCode).toBe(400);
    const text = await fleet.app.inject({ method: 'POST', url: '/v1/regions/us-east/drain', headers: { ...WRITE, 'content-type': 'text/plain' }, payload: 'reason=x' });
    expect(text.statusCode).toBe(400);
    const xml = await fleet.app.inject({ method: 'POST', url: '/v1/regions/us-east/drain', headers: { ...WRITE, 'content-type': 'application/xml' }, payload: '<a/>' });
    expect(xml.statusCode).toBe(415);
    expect(xml.json().error.code).toBe('REGIONDNS_ERR_UNSUPPORTED_MEDIA_TYPE');
    const big = await fleet.app.inject({ method: 'POST', url: '/v1/regions/us-east/drain', headers: { ...WRITE, 'content-type': 'application/json' }, payload: JSON.stringify({ reason: 'x'.repeat(2 << 20) }) });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('REGIONDNS_ERR_BODY_TOO_LARGE');
    const proto = await call('POST', '/v1/regions/us-east/drain', JSON.parse('{"reason":"x","__proto__":{"force":true}}'));
    expect(proto.status).toBe(400);
    expect(fleet.store.version()).toBe(0);
  });

  it('503 when the store cannot persist, and nothing changed', async () => {
    await call('POST', '/v1/regions/us-east/drain', { reason: 'first' });
    const before = { version: fleet.store.version(), drains: new Map(fleet.store.get('drain')), audit: await audit(), snap: fleet.coordinator.snapshot() };
    fleet.store.database()!.setReadOnly(true); // as a file system remounted read-only

    for (const [method, url, body] of [
      ['POST', '/v1/regions/eu-central/drain', { reason: 'second', hostnames: ['api.gslb.example.com'], force: true }],
      ['DELETE', '/v1/regions/us-east/drain', undefined],
      ['PUT', '/v1/hostnames/api.gslb.example.com/split', { sets: [{ name: 'stable', weight: 1 }, { name: 'canary', weight: 1 }] }],
      ['POST', '/v1/hostnames/api.gslb.example.com/ramp', { set: 'canary', steps: [1, 2], every: '1m' }],
    ] as const) {
      const r = await call(method, url, body);
      expectError(r, 503, 'REGIONDNS_ERR_STORE_UNAVAILABLE', /the change was not persisted; nothing changed/);
    }
    expect(fleet.store.version()).toBe(before.version);
    expect(new Map(fleet.store.get('drain'))).toEqual(before.drains);
    expect(fleet.store.get('weights').size).toBe(0);
    expect(fleet.store.get('ramp').size).toBe(0);
    expect(await audit()).toEqual(before.audit);
    expect(fleet.coordinator.snapshot()).toBe(before.snap);
  });

  it('split weights read back from the store as WeightOverride', async () => {
    await call('PUT', '/v1/hostnames/api.gslb.example.com/split', { sets: [{ name: 'stable', weight: 3 }, { name: 'canary', weight: 1 }] });
    const o = fleet.store.get('weights').get(API) as WeightOverride;
    expect(o).toEqual({ fqdn: API, weights: { stable: 3, canary: 1 }, by: 'alice', at: expect.any(Number) });
  });
});
