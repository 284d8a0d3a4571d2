// The fault suite: three real `regiondns serve --redis` instances, a real redis-server behind a small
// TCP proxy (to hold replies back), real `dig`. Each scenario breaks something the way production
// does — FLUSHALL, a restart without data, an older snapshot restored, a lost reply, racing drains,
// garbage in Redis, kill -9 mid-ramp — then asserts that no acknowledged change was lost and that
// every instance answers from the same state within 5 s. `npm run bench:faults` prints the table.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WRITE_SCRIPT } from '../../src/state/redis-store.js';
import { dig } from '../helpers/dig.js';
import { AMSTERDAM, API, FLEET_ZONES, GEOIP, INDIA, IP, SOLO } from '../helpers/fleet-fixture.js';
import { callApi, ok, sleep, until, type ApiResult } from '../helpers/ops-api.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { report } from './report.js';

const TOKEN = 'w-fault-5e1f0c2a9b8d7e6f5a4b3c2d1e0f9a8b';
/** The goal: every instance on the same state within this long after a fault. */
const CONVERGE_MS = 5_000;

const api = (s: ServerProcess, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<ApiResult> =>
  callApi(s, method, url, body, TOKEN, 15_000);

/** What an instance serves from: its drains and weights, comparable across instances. */
interface View {
  version: number;
  drains: string[];
  weights: Record<string, number[]>;
  ramp: string | null;
}

async function view(s: ServerProcess): Promise<View> {
  const st = (await api(s, 'GET', '/v1/state')).body;
  return {
    version: st.version,
    drains: (st.regions as { id: string; drained: boolean }[]).filter((r) => r.drained).map((r) => r.id).sort(),
    weights: Object.fromEntries((st.hostnames as { fqdn: string; sets: { weight: number }[] }[]).map((h) => [h.fqdn, h.sets.map((x) => x.weight)])),
    ramp: (st.hostnames as { fqdn: string; ramp: { state: string } | null }[]).find((h) => h.fqdn === API)?.ramp?.state ?? null,
  };
}

describe('fault suite: a fleet of three on one Redis', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'regiondns-faults-'));
  let redis: TestRedis;
  let proxy: TcpProxy;
  let raw: Redis;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    const zones = path.join(tmp, 'zones');
    cpSync(FLEET_ZONES, zones, { recursive: true });
    const tokens = path.join(tmp, 'tokens');
    writeFileSync(tokens, `faults:${TOKEN}\n`);
    redis = await startRedis();
    proxy = await startTcpProxy(redis.port);
    raw = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    raw.on('error', () => undefined); // Redis restarts on purpose here; the client reconnects
    await raw.connect();
    const started = await Promise.allSettled([1, 2, 3].map((n) => startServer([
      '--zones', zones, '--geoip', GEOIP, '--redis', proxy.url, '--instance-id', `fault-${n}`, '--ops-tokens', tokens, '--ramp-tick', '100',
    ])));
    for (const r of started) if (r.status === 'fulfilled') servers.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    raw?.disconnect();
    await proxy?.close();
    await redis?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Every live instance has the same view, `expected` holds on it, and DNS answers follow it. Returns ms since `t0`. */
  async function converged(t0: number, expected: (v: View) => boolean, answers: [string, string, string][]): Promise<number> {
    const ms = await until('every instance on the same state', async () => {
      const views = await Promise.all(servers.map(view));
      const same = views.every((v) => JSON.stringify(v) === JSON.stringify(views[0]));
      return same && expected(views[0]) ? Date.now() - t0 : undefined;
    }, CONVERGE_MS * 3);
    for (const s of servers) {
      for (const [name, subnet, address] of answers) {
        const r = dig(s.port, [name, 'A', `+subnet=${subnet}`]);
        expect(r.status, r.raw).toBe('NOERROR');
        expect(r.answer.map((a) => a[4]), `${name} ${subnet} on :${s.port}`).toEqual([address]);
      }
    }
    return ms;
  }

  /** The audit, once the instance can read it (its connection may still be catching up after a fault). */
  async function auditOf(s: ServerProcess): Promise<Record<string, any>[]> {
    return until('audit readable', async () => {
      const r = await api(s, 'GET', '/v1/audit?limit=50');
      return r.status === 200 ? (r.body.entries as Record<string, any>[]) : undefined;
    }, 10_000, 100);
  }

  /** Redis itself holds these drains (restored, not only in the instances' memory). */
  async function redisDrains(): Promise<string[]> {
    return Object.keys(await raw.hgetall('regiondns:ns:drain')).sort();
  }

  async function clean(): Promise<void> {
    const v = await view(servers[0]);
    for (const d of v.drains) await ok(api(servers[0], 'DELETE', `/v1/regions/${d}/drain`));
    if (v.weights[API].join() !== '100,0') await ok(api(servers[0], 'DELETE', '/v1/hostnames/api.fleet.test/split'));
    await converged(Date.now(), (x) => x.drains.length === 0, []);
  }

  const drainedAnswers: [string, string, string][] = [[API, AMSTERDAM, IP.api['us-east']], [SOLO, AMSTERDAM, IP.solo['us-east']]];

  it('a reply held back past the deadline: 200 (the write committed), applied once everywhere', async () => {
    const [s1] = servers;
    await ok(api(s1, 'POST', '/v1/regions/eu-central/drain', { reason: 'warm-up' })); // Redis knows the script
    await ok(api(s1, 'DELETE', '/v1/regions/eu-central/drain'));
    const held = proxy.holdRepliesAfter(WRITE_SCRIPT.sha, 2_500);
    const t0 = Date.now();
    const r = await api(s1, 'POST', '/v1/regions/eu-central/drain', { reason: 'reply held back' });
    await held;
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const ms = await converged(t0, (v) => v.drains.join() === 'eu-central', drainedAnswers);
    expect(await redisDrains()).toEqual(['eu-central']);
    const audit = await auditOf(s1);
    expect(audit.filter((e) => e.reason === 'reply held back')).toHaveLength(1);
    report({ scenario: 'reply held back past the deadline', acknowledged: 1, kept: 1, converged: ms <= CONVERGE_MS, convergedMs: ms });
    expect(ms).toBeLessThanOrEqual(CONVERGE_MS);
    await clean();
  }, 60_000);

  it('Redis silent for longer than the outcome window: 503 OUTCOME_UNKNOWN (never "nothing changed"); the fleet agrees after', async () => {
    const [s1] = servers;
    void proxy.holdRepliesAfter(WRITE_SCRIPT.sha, 6_000, { everyConnection: true });
    const sent = Date.now();
    const r = await api(s1, 'POST', '/v1/regions/eu-central/drain', { reason: 'outcome unknown' });
    expect(r.status, JSON.stringify(r.body)).toBe(503);
    expect(r.body.error.code).toBe('REGIONDNS_ERR_STORE_OUTCOME_UNKNOWN');
    expect(r.body.error.message).toMatch(/MAY have been applied.*GET \/v1\/state.*GET \/v1\/audit/);
    expect(r.body.error.detail.writeId).toMatch(/^[0-9a-f-]{36}$/);
    // It had been applied (only the reply was held): once Redis answers again, every instance has it.
    await sleep(Math.max(0, sent + 6_000 - Date.now())); // Redis answers again
    const t0 = Date.now();
    const ms = await converged(t0, (v) => v.drains.join() === 'eu-central', drainedAnswers);
    const audit = await auditOf(s1);
    expect(audit.filter((e) => e.writeId === r.body.error.detail.writeId)).toHaveLength(1);
    report({ scenario: 'reply lost, Redis silent (outcome unknown)', acknowledged: 0, kept: 0, converged: true, convergedMs: ms });
    await until('instance 1 reconnected', async () => ((await view(s1)) ? true : undefined), 10_000);
    await clean();
  }, 60_000);

  it('concurrent drains that together strand a record set: exactly one 409, on one instance and across two', async () => {
    const [s1, s2] = servers;
    let acked = 0;
    for (const [label, a, b] of [['one instance', s1, s1], ['two instances', s1, s2]] as const) {
      for (let round = 0; round < 3; round++) {
        const [x, y] = await Promise.all([
          api(a, 'POST', '/v1/regions/us-east/drain', { reason: `race ${label} ${round}` }),
          api(b, 'POST', '/v1/regions/eu-central/drain', { reason: `race ${label} ${round}` }),
        ]);
        expect([x.status, y.status].sort(), `${label} round ${round}: ${JSON.stringify([x.body, y.body])}`).toEqual([200, 409]);
        const refused = x.status === 409 ? x : y;
        expect(refused.body.error.code).toBe('REGIONDNS_ERR_LAST_REGION');
        acked++;
        const winner = x.status === 200 ? 'us-east' : 'eu-central';
        const t0 = Date.now();
        const other = winner === 'us-east' ? 'eu-central' : 'us-east';
        await converged(t0, (v) => v.drains.join() === winner, [[API, AMSTERDAM, IP.api[other]], [SOLO, AMSTERDAM, IP.solo[other]]]);
        expect(await redisDrains()).toEqual([winner]);
        await ok(api(s1, 'DELETE', `/v1/regions/${winner}/drain`));
      }
    }
    report({ scenario: 'concurrent drains (one instance, two instances)', acknowledged: acked, kept: acked, converged: true, convergedMs: null });
    await clean();
  }, 90_000);

  it('FLUSHALL: no instance adopts the empty state; Redis is re-seeded with every acknowledged change', async () => {
    const [s1, s2] = servers;
    await ok(api(s1, 'POST', '/v1/regions/eu-central/drain', { reason: 'before FLUSHALL' }));
    await ok(api(s2, 'PUT', '/v1/hostnames/api.fleet.test/split', { sets: [{ name: 'stable', weight: 70 }, { name: 'canary', weight: 30 }] }));
    const before = await view(s1);
    const t0 = Date.now();
    await raw.flushall();
    // A change sent right after the loss: it waits for the restore and commits on it, or is refused
    // with a code that says nothing changed. Either way the outcome is definite.
    const during = await api(servers[2], 'PUT', '/v1/hostnames/api.fleet.test/split', { sets: [{ name: 'stable', weight: 65 }, { name: 'canary', weight: 35 }] });
    expect([200, 503], JSON.stringify(during.body)).toContain(during.status);
    if (during.status === 503) expect(during.body.error.code).toBe('REGIONDNS_ERR_STORE_RESETTING');
    const weights = during.status === 200 ? '65,35' : '70,30';
    const ms = await converged(t0, (v) => v.drains.join() === 'eu-central' && v.weights[API].join() === weights && v.version > before.version, drainedAnswers);
    await until('redis re-seeded', async () => ((await redisDrains()).join() === 'eu-central' ? true : undefined), 5_000);
    const audit = await auditOf(s2);
    const reset = audit.find((e) => e.action === 'store.reset');
    expect(reset?.reason).toMatch(/had no fleet state/);
    expect(reset?.after).toMatchObject({ drains: ['eu-central'], restored: { drain: 1, weights: 1 } });
    // Nothing older than the reset survives in Redis's audit but the reset itself and what followed it.
    expect(audit.every((e) => e.version >= reset!.version)).toBe(true);
    // Writes go on under the new epoch, everywhere.
    await ok(api(servers[2], 'DELETE', '/v1/regions/eu-central/drain'));
    await converged(Date.now(), (v) => v.drains.length === 0, [[API, AMSTERDAM, IP.api['eu-central']]]);
    const acked = during.status === 200 ? 3 : 2;
    report({ scenario: 'FLUSHALL (and a write sent during the restore)', acknowledged: acked, kept: acked, converged: ms <= CONVERGE_MS, convergedMs: ms });
    expect(ms).toBeLessThanOrEqual(CONVERGE_MS);
    await clean();
  }, 60_000);

  it('Redis restarted empty: the fleet puts its state back', async () => {
    const [s1] = servers;
    await ok(api(s1, 'POST', '/v1/regions/eu-central/drain', { reason: 'before the empty restart' }));
    const before = await view(s1);
    const t0 = Date.now();
    await redis.restartWith('empty');
    const ms = await converged(t0, (v) => v.drains.join() === 'eu-central' && v.version > before.version, drainedAnswers);
    await until('redis re-seeded', async () => ((await redisDrains()).join() === 'eu-central' ? true : undefined), 5_000);
    report({ scenario: 'Redis restarted empty', acknowledged: 1, kept: (await redisDrains()).length, converged: ms <= CONVERGE_MS, convergedMs: ms });
    expect(ms).toBeLessThanOrEqual(CONVERGE_MS);
    await until('writes accepted again', async () => ((await api(s1, 'DELETE', '/v1/regions/eu-central/drain')).status === 200 ? true : undefined), 10_000, 200);
    await clean();
  }, 60_000);

  it('Redis restored from an older snapshot: the newer changes are put back, not lost', async () => {
    const [s1, s2] = servers;
    await ok(api(s1, 'POST', '/v1/regions/eu-central/drain', { reason: 'in the snapshot' }));
    await raw.save();
    const rdb = path.join(tmp, 'older.rdb');
    cpSync(path.join(redis.dir, 'dump.rdb'), rdb);
    await ok(api(s2, 'PUT', '/v1/hostnames/api.fleet.test/split', { sets: [{ name: 'stable', weight: 60 }, { name: 'canary', weight: 40 }] }));
    const before = await view(s1);
    const t0 = Date.now();
    await redis.restartWith({ rdb });
    const ms = await converged(t0, (v) => v.drains.join() === 'eu-central' && v.weights[API].join() === '60,40' && v.version > before.version, drainedAnswers);
    await until('redis has the newer split again', async () => ((await raw.hget('regiondns:ns:weights', API)) ? true : undefined), 5_000);
    report({ scenario: 'Redis restored from an older RDB', acknowledged: 2, kept: 2, converged: ms <= CONVERGE_MS, convergedMs: ms });
    expect(ms).toBeLessThanOrEqual(CONVERGE_MS);
    await until('writes accepted again', async () => ((await api(s1, 'DELETE', '/v1/regions/eu-central/drain')).status === 200 ? true : undefined), 10_000, 200);
    await clean();
  }, 60_000);

  it('garbage written straight into Redis: skipped and counted; every answer stays NOERROR, no 500', async () => {
    const [s1] = servers;
    const p = 'regiondns:';
    await raw.multi()
      .hset(`${p}ns:drain`, 'ap-south', JSON.stringify({ region: 'ap-south', reason: 'no hostnames field' }), 'junk', 'not json')
      .hset(`${p}ns:weights`, API, JSON.stringify({ fqdn: API, weights: { stable: 'lots' } }))
      .hset(`${p}ns:ramp`, API, JSON.stringify({ fqdn: API, state: 'sideways' }))
      .hset(`${p}ns:tenant`, 'Not A Slug', '7')
      .lpush(`${p}audit`, '{"half an entry"')
      .set(`${p}verdict:x:y`, '{"up":"maybe"}', 'PX', 60_000)
      .incr(`${p}version`) // no message: every instance reloads the hashes and meets the garbage
      .exec();
    await raw.publish(`${p}changes`, 'not a change');
    await raw.publish(`${p}verdicts`, '[1,2,3]');
    const version = Number(await raw.get(`${p}version`));
    const t0 = Date.now();
    const ms = await converged(t0, (v) => v.version === version && v.drains.length === 0 && v.weights[API].join() === '100,0' && v.ramp === null, [
      [API, AMSTERDAM, IP.api['eu-central']], [API, INDIA, IP.api['eu-central']], [SOLO, AMSTERDAM, IP.solo['eu-central']],
    ]);
    for (const s of servers) {
      for (const name of ['api.fleet.test', 'solo.fleet.test', 'fleet.test']) expect(dig(s.port, [name, 'A']).status).toBe('NOERROR');
      expect((await api(s, 'GET', '/v1/audit')).status).toBe(200);
      expect((await api(s, 'GET', '/v1/explain?hostname=api.fleet.test&client=193.0.0.1')).status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
      expect(metrics).toMatch(/regiondns_fleet_store_bad_entries_total\{namespace="drain"\} [1-9]/);
    }
    // A drain still works on top of the garbage (it replaces the bad ap-south entry).
    await ok(api(s1, 'POST', '/v1/regions/eu-central/drain', { reason: 'on top of garbage' }));
    await converged(Date.now(), (v) => v.drains.join() === 'eu-central', drainedAnswers);
    report({ scenario: 'garbage values in Redis', acknowledged: 1, kept: (await redisDrains()).includes('eu-central') ? 1 : 0, converged: ms <= CONVERGE_MS, convergedMs: ms });
    await raw.multi().hdel(`${p}ns:drain`, 'ap-south', 'junk').hdel(`${p}ns:weights`, API).hdel(`${p}ns:ramp`, API).hdel(`${p}ns:tenant`, 'Not A Slug').incr(`${p}version`).exec();
    await clean();
  }, 60_000);

  it('kill -9 of the instance driving a ramp: another takes the lease and finishes it; the survivors agree', async () => {
    const [s1] = servers;
    const start = await ok(api(s1, 'POST', '/v1/hostnames/api.fleet.test/ramp', { set: 'canary', steps: [10, 20, 40, 60, 80, 100], every: '1s', reason: 'ramp to kill' }));
    const startedAt = start.body.ramp.startedAt as number;
    // Who advances it: the instance named in the first step's audit entry.
    const first = await until('first ramp step', async () => {
      const entries = (await api(s1, 'GET', '/v1/audit?limit=20')).body.entries as { action: string; at: number; detail?: { instance?: string } }[];
      return entries.find((e) => e.action === 'ramp.step' && e.at >= startedAt);
    }, 10_000);
    const victim = servers.findIndex((s) => first.detail?.instance === `fault-${servers.indexOf(s) + 1}`);
    expect(victim).toBeGreaterThanOrEqual(0);
    const [dead] = servers.splice(victim, 1);
    const t0 = Date.now();
    dead.proc.kill('SIGKILL');
    const atKill = (await view(servers[0])).weights[API][1];
    // The lease (3 ticks) expires; a survivor goes on from the step in force, never skipping one.
    const ms = await converged(t0, (v) => v.weights[API][1] > atKill, []);
    await converged(t0, (v) => v.ramp === 'done' && v.weights[API].join() === '0,100', [[API, INDIA, IP.api['ap-south']]]);
    const entries = (await api(servers[0], 'GET', '/v1/audit?limit=50')).body.entries as { action: string; at: number; after: { ramp: { step: number } } }[];
    const steps = entries.filter((e) => e.at >= startedAt && (e.action === 'ramp.step' || e.action === 'ramp.done')).map((e) => e.after.ramp.step).reverse();
    expect(steps).toEqual([1, 2, 3, 4, 5]);
    report({ scenario: 'kill -9 of an instance mid-ramp', acknowledged: 1, kept: 1, converged: true, convergedMs: ms });
  }, 60_000);
});
