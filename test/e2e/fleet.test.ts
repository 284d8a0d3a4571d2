// A fleet of three `regiondns serve --redis` processes sharing one real Redis: a change made through
// the ops API of one instance steers the DNS answers of all three; Redis going away leaves the last
// state answering and refuses writes; a canary ramp is advanced by one instance and halts on health.
// Then a Redis-less instance keeps its overrides across a restart through its state directory.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { buildQuery, ecsOption, parse, udpExchange } from '../helpers/dns-client.js';
import { AMSTERDAM, API, FLEET_ZONES, GEOIP, INDIA, IP, SOLO } from '../helpers/fleet-fixture.js';
import { callApi, ok, sleep, until, type ApiResult } from '../helpers/ops-api.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const FIXTURE = FLEET_ZONES;

const WRITE_TOKEN = 'w-5e1f0c2a9b8d7e6f5a4b3c2d1e0f9a8b';
const READ_TOKEN = 'r-0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const WRITER = 'ops-writer';
const READER = 'ops-reader';

/** The A records a steered name gives a client subnet (ECS), over UDP. */
async function answerOf(port: number, name: string, subnet: string): Promise<string[]> {
  const reply = await udpExchange(port, buildQuery(name, 'A', { edns: { options: [ecsOption(subnet)] } }), '127.0.0.1', 1_000);
  return (parse(reply).answers as { address?: string }[]).map((a) => a.address ?? '?');
}

const api = (s: ServerProcess, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, token = WRITE_TOKEN): Promise<ApiResult> =>
  callApi(s, method, url, body, token);

const state = async (s: ServerProcess) => (await api(s, 'GET', '/v1/state', undefined, READ_TOKEN)).body;
const regionState = (st: Record<string, any>, id: string) => (st.regions as { id: string; drained: boolean; health: { up: boolean } }[]).find((r) => r.id === id)!;
const hostState = (st: Record<string, any>, fqdn: string) => (st.hostnames as { fqdn: string; sets: { name: string; weight: number }[]; ramp: any }[]).find((h) => h.fqdn === fqdn)!;

async function readyz(s: ServerProcess): Promise<{ code: number; status: string }> {
  const res = await fetch(`http://127.0.0.1:${s.httpPort}/readyz`, { signal: AbortSignal.timeout(2_000) });
  return { code: res.status, status: ((await res.json()) as { status: string }).status };
}

/** Waits (bounded) until every server answers `name` for `subnet` with exactly `expected`. */
async function allAnswer(servers: ServerProcess[], name: string, subnet: string, expected: string[], timeoutMs = 3_000): Promise<void> {
  await Promise.all(servers.map((s, i) => until(`instance ${i + 1} answers ${name} ${subnet} → ${expected.join(',')}`, async () => {
    const got = await answerOf(s.port, name, subnet);
    return got.join(',') === expected.join(',') ? true : undefined;
  }, timeoutMs, 10)));
}

function writeTokens(dir: string): string {
  const file = path.join(dir, 'tokens');
  writeFileSync(file, `# fleet test tokens\n${WRITER}:${WRITE_TOKEN}\n${READER}:${READ_TOKEN}:read\n`);
  return file;
}

describe('a fleet of three instances on one Redis', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'regiondns-fleet-'));
  let redis: TestRedis | null = null;
  const servers: ServerProcess[] = [];
  // The health target of ap-south: the test decides what it answers.
  let targetStatus = 200;
  const target = http.createServer((_req, res) => { res.writeHead(targetStatus).end(targetStatus === 200 ? 'ok' : 'broken'); });

  beforeAll(async () => {
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const targetPort = (target.address() as AddressInfo).port;
    // The fixture folder, with an HTTP check on ap-south (the region only the canary set has).
    const zones = path.join(tmp, 'zones');
    cpSync(FIXTURE, zones, { recursive: true });
    writeFileSync(path.join(zones, 'regions.yaml'), [
      'regions:',
      '  us-east:    { location: { lat: 39.04, lon: -77.49 } }',
      '  eu-central: { location: { lat: 50.11, lon: 8.68 } }',
      '  ap-south:',
      '    location: { lat: 19.08, lon: 72.88 }',
      '    checks:',
      `      - { type: http, url: "http://127.0.0.1:${targetPort}/health", interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }`,
      '',
    ].join('\n'));
    const tokens = writeTokens(tmp);
    redis = await startRedis();
    const url = redis.url;
    const started = await Promise.allSettled([1, 2, 3].map((n) => startServer([
      '--zones', zones, '--geoip', GEOIP, '--redis', url, '--instance-id', `fleet-${n}`,
      '--ops-tokens', tokens, '--ramp-tick', '100',
    ])));
    for (const r of started) if (r.status === 'fulfilled') servers.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  });

  afterAll(async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await redis?.stop();
    target.closeAllConnections();
    await new Promise<void>((resolve) => target.close(() => resolve()));
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Every instance connected to Redis (after an outage the reconnect backs off up to 2 s). */
  const fleetReady = () => Promise.all(servers.map((s, i) =>
    until(`instance ${i + 1} readyz ok`, async () => ((await readyz(s)).status === 'ok' ? true : undefined), 10_000, 50)));

  it('starts with the file\'s steering everywhere', async () => {
    for (const s of servers) {
      const r = dig(s.port, ['api.fleet.test', 'A', `+subnet=${AMSTERDAM}`]);
      expect(r.status).toBe('NOERROR');
      expect(r.answer).toEqual([[API, '30', 'IN', 'A', IP.api['eu-central']]]);
      expect(await answerOf(s.port, API, INDIA)).toEqual([IP.api['eu-central']]); // stable 100 / canary 0
      expect(await readyz(s)).toEqual({ code: 200, status: 'ok' });
    }
  });

  it('a drain through instance 1 changes the answers of all three; undrain restores them', async () => {
    const [s1, s2, s3] = servers;
    const denied = await api(s1, 'POST', '/v1/regions/eu-central/drain', { reason: 'read token' }, READ_TOKEN);
    expect(denied.status, JSON.stringify(denied.body)).toBe(403);
    expect(denied.body.error.code).toBe('REGIONDNS_ERR_FORBIDDEN');

    const r = await api(s1, 'POST', '/v1/regions/eu-central/drain', { reason: 'fleet test: maintenance' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.drain).toMatchObject({ region: 'eu-central', by: WRITER, hostnames: null });
    await allAnswer(servers, API, AMSTERDAM, [IP.api['us-east']]);
    for (const s of servers) {
      expect(dig(s.port, ['api.fleet.test', 'A', `+subnet=${AMSTERDAM}`]).answer[0][4]).toBe(IP.api['us-east']);
      expect(regionState(await state(s), 'eu-central')).toMatchObject({ drained: true, drain: { reason: 'fleet test: maintenance', by: WRITER } });
    }

    const u = await api(s2, 'DELETE', '/v1/regions/eu-central/drain', { reason: 'fleet test: done' });
    expect(u.status, JSON.stringify(u.body)).toBe(200);
    await allAnswer(servers, API, AMSTERDAM, [IP.api['eu-central']]);
    expect(regionState(await state(s3), 'eu-central').drained).toBe(false);
  });

  it('409 when a drain would strand a hostname; force drains anyway', async () => {
    const [s1, s2] = servers;
    await ok(api(s1, 'POST', '/v1/regions/eu-central/drain', { reason: 'first of two' }));
    await allAnswer(servers, SOLO, AMSTERDAM, [IP.solo['us-east']]);

    const refused = await api(s2, 'POST', '/v1/regions/us-east/drain', { reason: 'second of two' });
    expect(refused.status, JSON.stringify(refused.body)).toBe(409);
    expect(refused.body.error.code).toBe('REGIONDNS_ERR_LAST_REGION');
    // api's stable set (us-east, eu-central; 100% of its answers) is stranded too: its canary's ap-south has weight 0.
    expect(refused.body.error.detail.hostnames.map((h: { fqdn: string; set: string }) => `${h.fqdn}/${h.set}`)).toEqual([`${API}/stable`, `${SOLO}/all`]);
    for (const s of servers) expect(regionState(await state(s), 'us-east').drained).toBe(false);

    const forced = await api(s2, 'POST', '/v1/regions/us-east/drain', { reason: 'second of two', force: true });
    expect(forced.status, JSON.stringify(forced.body)).toBe(200);
    expect(forced.body.message).toMatch(/forced: api\.fleet\.test\., solo\.fleet\.test\. now have no operational region/);
    for (const s of servers) {
      await until('us-east drained everywhere', async () => (regionState(await state(s), 'us-east').drained ? true : undefined));
    }
    // solo has no operational region left: fail-open answers as if both were up (eu-central is nearer).
    await allAnswer(servers, SOLO, AMSTERDAM, [IP.solo['eu-central']]);

    for (const region of ['us-east', 'eu-central']) {
      await ok(api(s1, 'DELETE', `/v1/regions/${region}/drain`));
    }
    await allAnswer(servers, SOLO, AMSTERDAM, [IP.solo['eu-central']]);
    for (const s of servers) {
      await until('no drains left', async () => ((await state(s)).regions.every((x: { drained: boolean }) => !x.drained) ? true : undefined));
    }
  });

  it('a split set on instance 2 shows in /v1/state of instance 3 and in every answer', async () => {
    const [, s2, s3] = servers;
    const r = await api(s2, 'PUT', '/v1/hostnames/api.fleet.test/split', { sets: [{ name: 'stable', weight: 0 }, { name: 'canary', weight: 100 }], reason: 'canary to everyone' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const weights = await until('instance 3 sees the split', async () => {
      const h = hostState(await state(s3), API);
      return h.sets.find((x) => x.name === 'canary')!.weight === 100 ? h.sets.map((x) => [x.name, x.weight]) : undefined;
    });
    expect(weights).toEqual([['stable', 0], ['canary', 100]]);
    await allAnswer(servers, API, INDIA, [IP.api['ap-south']]);
    for (const s of servers) {
      for (let i = 0; i < 10; i++) expect(await answerOf(s.port, API, INDIA)).toEqual([IP.api['ap-south']]);
    }

    await ok(api(s3, 'DELETE', '/v1/hostnames/api.fleet.test/split'));
    await allAnswer(servers, API, INDIA, [IP.api['eu-central']]);
  });

  it('Redis down: answers from the last state, writes 503 and change nothing, readyz degraded; back up: resync', async () => {
    const [s1, s2, s3] = servers;
    await ok(api(s1, 'POST', '/v1/regions/eu-central/drain', { reason: 'before the outage' }));
    await allAnswer(servers, API, AMSTERDAM, [IP.api['us-east']]);
    const versionBefore = (await state(s2)).version as number;

    const whileDown = async () => {
      for (const [i, s] of servers.entries()) {
        await until(`instance ${i + 1} readyz degraded`, async () => ((await readyz(s)).status === 'degraded' ? true : undefined));
        expect((await readyz(s)).code).toBe(200); // still in rotation: DNS answers from the last state
        expect(await answerOf(s.port, API, AMSTERDAM)).toEqual([IP.api['us-east']]);
        expect(dig(s.port, ['solo.fleet.test', 'A', `+subnet=${AMSTERDAM}`]).answer[0][4]).toBe(IP.solo['us-east']);
      }
      const w = await api(s2, 'DELETE', '/v1/regions/eu-central/drain', { reason: 'during the outage' });
      expect(w.status, JSON.stringify(w.body)).toBe(503);
      expect(w.body.error.code).toBe('REGIONDNS_ERR_STORE_UNAVAILABLE');
      const w2 = await api(s3, 'PUT', '/v1/hostnames/api.fleet.test/split', { sets: [{ name: 'stable', weight: 0 }, { name: 'canary', weight: 100 }] });
      expect(w2.status, JSON.stringify(w2.body)).toBe(503);
      expect(w2.body.error.code).toBe('REGIONDNS_ERR_STORE_UNAVAILABLE');
      const audit = await api(s1, 'GET', '/v1/audit', undefined, READ_TOKEN);
      expect(audit.status, JSON.stringify(audit.body)).toBe(503);
      expect(audit.body.error.code).toBe('REGIONDNS_ERR_STORE_UNAVAILABLE');
      await sleep(300);
      for (const s of servers) {
        const st = await state(s);
        expect(st.store.connected).toBe(false);
        expect(regionState(st, 'eu-central').drained).toBe(true);
        expect(hostState(st, API).sets.map((x) => x.weight)).toEqual([100, 0]);
        expect(await answerOf(s.port, API, AMSTERDAM)).toEqual([IP.api['us-east']]);
        expect(await answerOf(s.port, API, INDIA)).toEqual([IP.api['us-east']]); // stable set without eu-central
      }
    };

    await redis!.down();
    try {
      await whileDown();
    } finally {
      await redis!.up(); // AOF: same data; also after a failed assertion, for the tests that follow
    }
    await fleetReady();
    // The refused writes were not applied late.
    for (const s of servers) {
      const st = await state(s);
      expect(st.version).toBe(versionBefore);
      expect(regionState(st, 'eu-central').drained).toBe(true);
    }
    const u = await api(s3, 'DELETE', '/v1/regions/eu-central/drain', { reason: 'after the outage' });
    expect(u.status, JSON.stringify(u.body)).toBe(200);
    expect(u.body.version).toBe(versionBefore + 1);
    await allAnswer(servers, API, AMSTERDAM, [IP.api['eu-central']]);
    for (const s of servers) expect(regionState(await state(s), 'eu-central').drained).toBe(false);
  });

  it('a 1 s ramp is advanced by one instance, one step per interval, and halts when ap-south fails', async () => {
    const [s1, s2] = servers;
    await fleetReady();
    const steps = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    const logMark = servers.map((s) => s.logs.length);
    const start = await api(s1, 'POST', '/v1/hostnames/api.fleet.test/ramp', { set: 'canary', steps, every: '1s', reason: 'fleet test ramp' });
    expect(start.status, JSON.stringify(start.body)).toBe(200);
    const startedAt = start.body.ramp.startedAt as number;
    expect(start.body.ramp).toMatchObject({ state: 'running', step: 0, everyMs: 1000, by: WRITER });

    // Watch it from instance 2 until it reaches step 3 (index; 40%): three intervals, give or take ticks.
    const seen: number[] = [];
    const watchUntil = Date.now() + 6_000;
    while (seen.at(-1) !== 3 && Date.now() < watchUntil) {
      const g = await api(s2, 'GET', '/v1/hostnames/api.fleet.test/ramp', undefined, READ_TOKEN);
      expect(g.status, JSON.stringify(g.body)).toBe(200);
      const step = g.body.ramp.step as number;
      if (seen.at(-1) !== step) seen.push(step);
      await sleep(50);
    }
    expect(seen).toEqual([0, 1, 2, 3]);
    // What the answers show at 40% canary: an Indian client gets ap-south (canary only) or eu-central.
    const got = new Set<string>();
    for (let i = 0; i < 40 && got.size < 2; i++) got.add((await answerOf(s2.port, API, INDIA))[0]);
    expect([...got].sort()).toEqual([IP.api['eu-central'], IP.api['ap-south']].sort());

    // ap-south's health target fails: every prober sees HTTP 500, the region goes down, the ramp halts.
    targetStatus = 500;
    const failedAt = Date.now();
    const halted = await until('ramp halted', async () => {
      const g = await api(s2, 'GET', '/v1/hostnames/api.fleet.test/ramp', undefined, READ_TOKEN);
      return g.body.ramp.state === 'halted' ? g.body.ramp : undefined;
    }, 5_000, 20);
    const haltMs = Date.now() - failedAt;
    expect(halted.haltReason).toMatch(/^region ap-south down/);
    expect(regionState(await state(s1), 'ap-south').health.up).toBe(false);

    const entries = (await api(s2, 'GET', '/v1/audit?limit=100', undefined, READ_TOKEN)).body.entries as Record<string, any>[];
    const ramp = entries.filter((e) => e.target === API && e.at >= startedAt && String(e.action).startsWith('ramp.')).reverse();
    expect(ramp[0]).toMatchObject({ action: 'ramp.start', actor: WRITER, reason: 'fleet test ramp' });
    const stepEntries = ramp.filter((e) => e.action === 'ramp.step');
    const stepNumbers = stepEntries.map((e) => e.after.ramp.step as number);
    // Each step once, in order, none skipped: 1, 2, …, the step the ramp halted at.
    expect(stepNumbers).toEqual(Array.from({ length: halted.step }, (_, i) => i + 1));
    expect(stepEntries.every((e) => e.actor === 'ramp-controller')).toBe(true);
    // Step i is applied about i intervals after the start: never early, and late by at most a few ticks per step.
    for (const e of stepEntries) {
      const i = e.after.ramp.step as number;
      expect(e.at - startedAt).toBeGreaterThanOrEqual(i * 1000);
      expect(e.at - startedAt).toBeLessThan(i * 1000 + i * 300 + 500);
    }
    const halt = ramp.filter((e) => e.action === 'ramp.halt');
    expect(halt).toHaveLength(1);
    expect(halt[0]).toMatchObject({ actor: 'ramp-controller', after: { ramp: { state: 'halted' } } });
    expect(ramp.at(-1)!.action).toBe('ramp.halt');

    // The audit does not say which instance acted; the controllers' log lines do. One line per
    // decision across the fleet: no step was taken twice, by one instance or by two.
    const decisions = servers.flatMap((s, i) => s.logs.slice(logMark[i])
      .filter((l) => l.component === 'ramp' && l.fqdn === API && typeof l.action === 'string')
      .map((l) => ({ instance: i + 1, action: l.action as string, step: l.step as number })));
    const keys = decisions.map((d) => `${d.action}@${d.step}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(decisions.filter((d) => d.action === 'ramp.step')).toHaveLength(stepEntries.length);
    expect(decisions.filter((d) => d.action === 'ramp.halt')).toHaveLength(1);
    // Normally the one lease holder does it all; a hand-over between ticks is allowed, a double step is not.
    const actors = [...new Set(decisions.map((d) => d.instance))];
    console.log(`ramp: steps ${stepNumbers.join(',')} at +${stepEntries.map((e) => e.at - startedAt).join(',+')} ms; ` +
      `halted at step ${halted.step} ${haltMs} ms after the target failed; decided by instance ${actors.join(',')}`);

    targetStatus = 200;
    await until('ap-south up again', async () => (regionState(await state(s1), 'ap-south').health.up ? true : undefined), 5_000, 50);
  });

  it('the audit names every change and its token', async () => {
    const entries = (await api(servers[2], 'GET', '/v1/audit?limit=200', undefined, READ_TOKEN)).body.entries as Record<string, any>[];
    const byAction = (a: string) => entries.filter((e) => e.action === a);
    for (const action of ['drain', 'undrain', 'split', 'split.clear', 'ramp.start']) {
      expect(byAction(action).length, action).toBeGreaterThan(0);
      expect(byAction(action).every((e) => e.actor === WRITER), action).toBe(true);
    }
    for (const action of ['ramp.step', 'ramp.halt']) {
      expect(byAction(action).length, action).toBeGreaterThan(0);
      expect(byAction(action).every((e) => e.actor === 'ramp-controller' && e.before.ramp.by === WRITER), action).toBe(true);
    }
    expect(byAction('drain').map((e) => e.reason)).toEqual(expect.arrayContaining(['fleet test: maintenance', 'before the outage']));
    expect(byAction('drain').find((e) => e.target === 'us-east')).toMatchObject({ detail: { forced: true, stranded: [API, SOLO] } });
    // Newest first, one entry per persisted version, no entry for the writes refused while Redis was down.
    const versions = entries.map((e) => e.version as number);
    expect(versions).toEqual([...versions].sort((a, b) => b - a));
    expect(new Set(versions).size).toBe(versions.length);
    expect(entries.some((e) => e.reason === 'during the outage')).toBe(false);
  });
});

describe('an instance without Redis', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'regiondns-solo-'));
  const stateDir = path.join(tmp, 'state');
  let server: ServerProcess | null = null;

  afterAll(async () => {
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const start = () => startServer(['--zones', FIXTURE, '--geoip', GEOIP, '--state-dir', stateDir, '--ops-tokens', writeTokens(tmp), '--instance-id', 'solo-1']);

  it('keeps its drain across a restart on the same state directory', async () => {
    server = await start();
    expect(await answerOf(server.port, API, AMSTERDAM)).toEqual([IP.api['eu-central']]);
    await ok(api(server, 'POST', '/v1/regions/eu-central/drain', { reason: 'kept across restarts' }));
    await allAnswer([server], API, AMSTERDAM, [IP.api['us-east']]);
    expect(existsSync(path.join(stateDir, 'regiondns.db'))).toBe(true);

    expect(await server.stop()).toBe(0); // SIGTERM: a clean exit
    server = await start();
    expect(await answerOf(server.port, API, AMSTERDAM)).toEqual([IP.api['us-east']]);
    expect(dig(server.port, ['api.fleet.test', 'A', `+subnet=${AMSTERDAM}`]).answer[0][4]).toBe(IP.api['us-east']);
    const st = await state(server);
    expect(st.store.connected).toBe(true);
    expect(regionState(st, 'eu-central')).toMatchObject({ drained: true, drain: { reason: 'kept across restarts', by: WRITER } });
    const audit = (await api(server, 'GET', '/v1/audit', undefined, READ_TOKEN)).body.entries as Record<string, any>[];
    expect(audit[0]).toMatchObject({ action: 'drain', actor: WRITER, target: 'eu-central' });
  });
});
