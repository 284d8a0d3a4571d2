// Data residency end to end, with the real `dig`: tenant subdomains of test/e2e/tenant-zones answer
// from the tenant's home region whatever the client's location, move only inside their residency
// when the home region is drained, follow the ops API (on one instance, on a fleet sharing Redis,
// on every worker of a multi-core server), and 100,000 tenants import through the API.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { REPO, startServer, type ServerProcess } from '../helpers/server-process.js';
import { killWorker, untilEveryWorker, workerFaultEnv } from '../helpers/workers.js';

const FIXTURE = path.resolve(import.meta.dirname, 'tenant-zones');
const GEOIP = path.join(REPO, 'geo/fixtures/world-geoip2.mmdb');
const TOKEN = 'tenant-test-token-0123456789';
const US = '8.8.8.0/24';
const NL = '193.0.0.0/24';
const APP = { 'us-east': '192.0.2.20', 'eu-central': '198.51.100.20', 'eu-west': '198.51.100.40' } as const;
const API = { 'us-east': '192.0.2.10', 'eu-central': '198.51.100.10' } as const;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-tenants-e2e-'));
const tokens = path.join(tmp, 'tokens');
fs.writeFileSync(tokens, `ops:${TOKEN}\n`);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fresh copy of the fixture folder (a test may change its files). */
function zonesCopy(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

async function ops(s: ServerProcess, method: string, url: string, body?: unknown, contentType = 'application/json') {
  const res = await fetch(`http://127.0.0.1:${s.httpPort}${url}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** The A data and the ECS scope dig shows for a name, from a client subnet (or none). */
function lookup(port: number, name: string, subnet: string | null) {
  const r = dig(port, [name, 'A', ...(subnet ? [`+subnet=${subnet}`] : [])]);
  const scope = /CLIENT-SUBNET: [0-9a-f.:]+\/\d+\/(\d+)/.exec(r.raw);
  return { status: r.status, answer: r.answer, addresses: r.answer.map((l) => l[4]), scope: scope ? Number(scope[1]) : null };
}

/** Polls `check` until it holds: at most `ms` and 500 rounds. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 500 && Date.now() < deadline; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

/** Tenant i of a generated import: t000042, and its region. */
const slugOf = (i: number) => `t${String(i).padStart(6, '0')}`;
const homeOf = (i: number) => (['eu-central', 'eu-west', 'us-east'] as const)[i % 3];

function tenantsCsv(n: number): string {
  let s = 'slug,region\n';
  for (let i = 0; i < n; i++) s += `${slugOf(i)},${homeOf(i)}\n`;
  return s;
}

describe('one instance', () => {
  let server: ServerProcess;
  let zones: string;
  beforeAll(async () => {
    zones = zonesCopy('single');
    server = await startServer(['--zones', zones, '--geoip', GEOIP, '--ops-tokens', tokens]);
  });
  afterAll(async () => { await server?.stop(); });

  it('a pinned EU tenant gets eu-central whatever the client\'s location, with ECS scope /0', () => {
    for (const subnet of [US, NL, null]) {
      const r = lookup(server.port, 'acme.app.tenant.test', subnet);
      expect(r.status).toBe('NOERROR');
      expect(r.answer).toEqual([['acme.app.tenant.test.', '60', 'IN', 'A', APP['eu-central']]]);
      expect(r.scope).toBe(subnet ? 0 : null);
    }
    // The asker's case comes back (the owner is written as a pointer to the question).
    expect(dig(server.port, ['AcMe.App.Tenant.Test', 'A']).answer[0][0]).toBe('AcMe.App.Tenant.Test.');
    expect(lookup(server.port, 'www.acme.app.tenant.test', US).addresses).toEqual([APP['eu-central']]);
    expect(lookup(server.port, 'globex.app.tenant.test', NL).addresses).toEqual([APP['us-east']]);
  });

  it('shared hostnames and unknown tenants keep latency steering', () => {
    expect(lookup(server.port, 'api.tenant.test', US).addresses).toEqual([API['us-east']]);
    expect(lookup(server.port, 'api.tenant.test', NL).addresses).toEqual([API['eu-central']]);
    const unknownUs = lookup(server.port, 'nobody.app.tenant.test', US);
    expect(unknownUs.addresses).toEqual([APP['us-east']]);
    expect(unknownUs.scope).toBeGreaterThan(0);
    expect(lookup(server.port, 'nobody.app.tenant.test', NL).addresses).toEqual([APP['eu-central']]);
  });

  it('drained eu-central: the EU tenant moves to eu-west, never to us-east; explain says why', async () => {
    const drain = await ops(server, 'POST', '/v1/regions/eu-central/drain', { reason: 'maintenance' });
    expect(drain.status, JSON.stringify(drain.body)).toBe(200);
    try {
      await until('acme on eu-west', () => lookup(server.port, 'acme.app.tenant.test', NL).addresses[0] === APP['eu-west']);
      for (const subnet of [US, NL]) expect(lookup(server.port, 'acme.app.tenant.test', subnet).addresses).toEqual([APP['eu-west']]);
      const e = await ops(server, 'GET', `/v1/explain?hostname=acme.app.tenant.test&client=${US}`);
      expect(e.body.trace.tenant).toMatchObject({ slug: 'acme', home: 'eu-central', source: 'file', verdict: 'fallback', regions: ['eu-west'] });
      expect(e.body.trace.tenant.why.join('\n')).toMatch(/home eu-central is down: drained by ops: maintenance[\s\S]*residency lets eu-central tenants go to eu-west/);

      // eu-west drained as well: the tenant stays inside the EU (its home, fail-open), never us-east.
      expect((await ops(server, 'POST', '/v1/regions/eu-west/drain', { reason: 'maintenance' })).status).toBe(200);
      await until('acme back home, fail-open', () => lookup(server.port, 'acme.app.tenant.test', US).answer[0]?.[1] === '30');
      for (const subnet of [US, NL, null]) expect(lookup(server.port, 'acme.app.tenant.test', subnet).addresses).toEqual([APP['eu-central']]);
      // A US tenant never leaves us-east; an unknown tenant from the EU now goes to us-east (nearest operational).
      expect(lookup(server.port, 'globex.app.tenant.test', NL).addresses).toEqual([APP['us-east']]);
      expect(lookup(server.port, 'nobody.app.tenant.test', NL).addresses).toEqual([APP['us-east']]);
    } finally {
      await ops(server, 'DELETE', '/v1/regions/eu-west/drain');
      await ops(server, 'DELETE', '/v1/regions/eu-central/drain');
    }
    await until('acme on eu-central again', () => lookup(server.port, 'acme.app.tenant.test', US).addresses[0] === APP['eu-central']);
  });

  it('a reload (SIGHUP) reads the tenants file again; a broken file keeps the previous map', async () => {
    fs.appendFileSync(path.join(zones, 'tenants.csv'), 'hooli,eu-west\n');
    server.proc.kill('SIGHUP');
    await until('hooli on eu-west', () => lookup(server.port, 'hooli.app.tenant.test', US).addresses[0] === APP['eu-west']);
    fs.appendFileSync(path.join(zones, 'tenants.csv'), 'hooli,us-east\n');
    const failed = server.waitForLog((l) => l.msg === 'reload failed: keeping the previous zones');
    server.proc.kill('SIGHUP');
    expect(String((await failed).error)).toMatch(/tenants\.csv:\d+: duplicate slug "hooli": already on line \d+ \[REGIONDNS_ERR_TENANT_DUPLICATE\]/);
    expect(lookup(server.port, 'hooli.app.tenant.test', US).addresses).toEqual([APP['eu-west']]);
  });

  it('PUT, GET and DELETE through the API change the answers', async () => {
    expect((await ops(server, 'PUT', '/v1/tenants/newco', { region: 'eu-west' })).status).toBe(200);
    await until('newco on eu-west', () => lookup(server.port, 'newco.app.tenant.test', US).addresses[0] === APP['eu-west']);
    expect((await ops(server, 'GET', '/v1/tenants/newco')).body).toMatchObject({ region: 'eu-west', source: 'api' });
    expect((await ops(server, 'DELETE', '/v1/tenants/acme')).body.hidesFileEntry).toBe(true);
    // Hidden: an unknown tenant now, steered by latency.
    await until('acme unknown', () => lookup(server.port, 'acme.app.tenant.test', US).addresses[0] === APP['us-east']);
  });

  it('imports 100,000 tenants through the API', async () => {
    const t0 = Date.now();
    const r = await ops(server, 'POST', '/v1/tenants:import?reason=e2e', tenantsCsv(100_000), 'text/csv');
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
    expect(r.body).toMatchObject({ format: 'csv', lines: 100_000, imported: 100_000, created: 100_000 });
    expect(Date.now() - t0).toBeLessThan(20_000);
    for (const i of [0, 50_001, 99_998, 99_999]) {
      await until(`${slugOf(i)} answers`, () => lookup(server.port, `${slugOf(i)}.app.tenant.test`, NL).addresses[0] === APP[homeOf(i)]);
    }
    const audit = await ops(server, 'GET', '/v1/audit?limit=1');
    expect(audit.body.entries[0]).toMatchObject({ action: 'tenant.import', reason: 'e2e', detail: { imported: 100_000 } });
    const state = await ops(server, 'GET', '/v1/state');
    expect(state.body.tenants.apiEntries).toBeGreaterThanOrEqual(100_000);
  });
});

describe('two instances sharing Redis', () => {
  let redis: TestRedis;
  const servers: ServerProcess[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    const zones = zonesCopy('fleet');
    for (const n of [1, 2]) servers.push(await startServer(['--zones', zones, '--geoip', GEOIP, '--ops-tokens', tokens, '--redis', redis.url, '--instance-id', `tenants-${n}`]));
  });
  afterAll(async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await redis?.stop();
  });

  it('a change through the API of one reaches the other', async () => {
    const [a, b] = servers;
    expect((await ops(a, 'PUT', '/v1/tenants/acme', { region: 'eu-west' })).status).toBe(200);
    await until('instance 2 answers acme from eu-west', () => lookup(b.port, 'acme.app.tenant.test', US).addresses[0] === APP['eu-west']);
    expect((await ops(b, 'GET', '/v1/tenants/acme')).body).toMatchObject({ region: 'eu-west', source: 'api', override: { by: 'ops' } });
    expect((await ops(b, 'DELETE', '/v1/tenants/globex')).status).toBe(200);
    await until('instance 1 no longer pins globex', () => lookup(a.port, 'globex.app.tenant.test', NL).addresses[0] === APP['eu-central']);
  });

  it('an import too big for one pub/sub message reaches the other by resync', async () => {
    const [a, b] = servers;
    const r = await ops(a, 'POST', '/v1/tenants:import', tenantsCsv(100_000), 'text/csv');
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
    for (const i of [1, 99_997]) {
      await until(`instance 2 answers ${slugOf(i)}`, () => lookup(b.port, `${slugOf(i)}.app.tenant.test`, US).addresses[0] === APP[homeOf(i)], 10_000);
    }
    expect((await ops(b, 'GET', '/v1/state')).body.tenants.apiEntries).toBeGreaterThanOrEqual(100_000);
  });
});

describe('two workers', () => {
  const WORKERS = 2;
  let server: ServerProcess;
  let zones: string;
  const fault = workerFaultEnv();
  beforeAll(async () => {
    zones = zonesCopy('workers');
    server = await startServer(['--zones', zones, '--geoip', GEOIP, '--ops-tokens', tokens, '--workers', String(WORKERS), '--nsid', 'auto'], { env: fault });
  });
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(fault.REGIONDNS_TEST_FAULT_DIR, { recursive: true, force: true });
  });

  /** True once every worker has answered `expected` to a US client (bounded: 2,000 queries or 10 s). */
  const everyWorker = async (name: string, expected: string) => (await untilEveryWorker(server.port, WORKERS, name, US, [expected])).size === WORKERS;

  it('every worker loads the file and applies API changes (sent as deltas)', async () => {
    expect(await everyWorker('acme.app.tenant.test', APP['eu-central'])).toBe(true);
    expect((await ops(server, 'PUT', '/v1/tenants/acme', { region: 'eu-west' })).status).toBe(200);
    expect(await everyWorker('acme.app.tenant.test', APP['eu-west'])).toBe(true);
    expect((await ops(server, 'PUT', '/v1/tenants/newco', { region: 'us-east' })).status).toBe(200);
    expect(await everyWorker('newco.app.tenant.test', APP['us-east'])).toBe(true);
    expect((await ops(server, 'DELETE', '/v1/tenants/newco')).status).toBe(200);
    expect(await everyWorker('newco.app.tenant.test', APP['us-east'])).toBe(true); // unknown: nearest from the US
    expect(await everyWorker('acme.app.tenant.test', APP['eu-west'])).toBe(true);
  });

  it('a reload reaches every worker: each reads the tenants file itself', async () => {
    fs.appendFileSync(path.join(zones, 'tenants.csv'), 'hooli,eu-west\n');
    server.proc.kill('SIGHUP');
    expect(await everyWorker('hooli.app.tenant.test', APP['eu-west'])).toBe(true);
    expect(await everyWorker('acme.app.tenant.test', APP['eu-west'])).toBe(true); // the API entry still beats the file
  });

  it('a worker started later gets the API entries in full', async () => {
    await killWorker(server, fault.REGIONDNS_TEST_FAULT_DIR, 1);
    expect(await everyWorker('acme.app.tenant.test', APP['eu-west'])).toBe(true);
  });
});
