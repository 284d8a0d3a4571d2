// RedisStore against a real, private redis-server (see test/helpers/redis.ts): what it does beyond the
// FleetStore contract (store-contract.test.ts runs that against every store): several instances, epochs, faults.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/obs/logger.js';
import { fleetStoreBadEntries } from '../../src/obs/metrics.js';
import { StoreConflictError, StoreOutcomeUnknownError, StoreUnavailableError, type AuditInput, type FleetStore, type StoreEvent } from '../../src/state/fleet-store.js';
import { RedisStore, WRITE_SCRIPT, type RedisStoreOptions } from '../../src/state/redis-store.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const audit = (action: string): AuditInput => ({ actor: 'alice', action, target: 'eu-west', reason: null, before: null, after: { n: 1 } });
const drain = (region: string) => ({ region, reason: 'maintenance', hostnames: null, by: 'alice', at: 1 });
const weights = (fqdn: string, w: Record<string, number>) => ({ fqdn, weights: w, by: 'alice', at: 1 });
const ramp = (fqdn: string, step: number) => ({
  fqdn, set: 'canary', steps: [1, 5, 25], everyMs: 1000, step, nextAt: 0, state: 'running', haltReason: null, haltOnUnhealthyRegions: true, by: 'alice', startedAt: 0,
});

let redis: TestRedis;
let raw: Redis;
const stores: RedisStore[] = [];
let prefixSeq = 0;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await raw.connect();
});

afterEach(async () => {
  redis.thaw(); // a failed freeze test must not leave it stopped
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});

function newPrefix(): string {
  return `t${++prefixSeq}:`;
}

async function open(prefix: string, instanceId: string, opts: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
  const s = new RedisStore({ url: redis.url, prefix, instanceId, resyncIntervalMs: 200, ...opts });
  stores.push(s);
  await s.start();
  return s;
}

function nextEvent(s: FleetStore, pred: (e: StoreEvent) => boolean, timeoutMs = 3_000): Promise<StoreEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('event not seen'));
    }, timeoutMs);
    const off = s.onEvent((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

async function waitFor(cond: () => boolean, timeoutMs = 3_000, what = 'condition'): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

describe('RedisStore', () => {
  it('a write on A shows in B quickly; versions and audit are shared', async () => {
    const p = newPrefix();
    const a = await open(p, 'a');
    const b = await open(p, 'b', { resyncIntervalMs: 60_000 }); // only pub/sub can deliver here
    expect(a.status()).toEqual({ connected: true, detail: 'redis ok' });

    const seen = nextEvent(b, (e) => e.kind === 'overrides');
    const t0 = Date.now();
    const v = await a.write([{ ns: 'drain', key: 'eu-west', value: drain('eu-west') }], audit('drain'));
    expect(v).toBe(1);
    expect(a.get('drain').get('eu-west')).toEqual(drain('eu-west')); // local view updated before resolve
    expect(await seen).toEqual({ kind: 'overrides', ns: 'drain' });
    expect(Date.now() - t0).toBeLessThan(500);
    expect(b.get('drain').get('eu-west')).toEqual(drain('eu-west'));
    expect(b.version()).toBe(1);

    await b.write([{ ns: 'drain', key: 'eu-west', value: null }, { ns: 'weights', key: 'www.example.com.', value: weights('www.example.com.', { a: 1, b: 2 }) }], audit('undrain'));
    await waitFor(() => a.version() === 2);
    expect(a.get('drain').size).toBe(0);
    expect(a.get('weights').get('www.example.com.')).toEqual(weights('www.example.com.', { a: 1, b: 2 }));

    const log = await a.audit(10);
    expect(log.map((e) => [e.id, e.version, e.action])).toEqual([
      [2, 2, 'undrain'],
      [1, 1, 'drain'],
    ]);
    expect(log[1]).toMatchObject({ actor: 'alice', target: 'eu-west', reason: null, before: null, after: { n: 1 } });
    expect(typeof log[1].at).toBe('number');
    expect(await b.audit(1)).toEqual([log[0]]);

    // A third instance starting now loads the current state.
    const c = await open(p, 'c');
    expect(c.version()).toBe(2);
    expect(c.get('weights').size).toBe(1);
  });

  it('a verdict published by A is seen by B and gone after 3 × interval', async () => {
    const p = newPrefix();
    const a = await open(p, 'a');
    const b = await open(p, 'b');
    const seen = nextEvent(b, (e) => e.kind === 'verdicts');
    const at = Date.now();
    await a.publishVerdict({ checkId: 'web', prober: 'a', up: false, cause: 'HTTP 500', at, intervalMs: 100 });
    await seen;
    expect(b.verdicts()).toEqual([{ checkId: 'web', prober: 'a', up: false, cause: 'HTTP 500', at, intervalMs: 100 }]);
    expect(a.verdicts()).toHaveLength(1);
    // TTL 300 ms in Redis, then the next resync (every 200 ms) drops it.
    const took = await waitFor(() => b.verdicts().length === 0, 2_000, 'verdict expiry');
    expect(took).toBeGreaterThanOrEqual(250);
    await waitFor(() => a.verdicts().length === 0, 1_000, 'verdict expiry on A');
  });

  it('a write made without a message is picked up by the periodic resync', async () => {
    const p = newPrefix();
    const b = await open(p, 'b');
    const resynced = nextEvent(b, (e) => e.kind === 'resync');
    // As if the PUBLISH was lost.
    await raw.multi().incr(`${p}version`).hset(`${p}ns:tenant`, 'acme', JSON.stringify({ region: 'eu-west' })).exec();
    const t0 = Date.now();
    await resynced;
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(b.version()).toBe(1);
    expect(b.get('tenant').get('acme')).toEqual({ region: 'eu-west' });
  });

  it('a gap in versions triggers a resync at once', async () => {
    const p = newPrefix();
    const a = await open(p, 'a', { resyncIntervalMs: 60_000 });
    const b = await open(p, 'b', { resyncIntervalMs: 60_000 });
    await raw.multi().incr(`${p}version`).hset(`${p}ns:ramp`, 'lost.', JSON.stringify(ramp('lost.', 1))).exec();
    await a.write([{ ns: 'ramp', key: 'seen.', value: ramp('seen.', 2) }], audit('ramp')); // version 2: B has 0
    await waitFor(() => b.version() === 2, 2_000, 'B catching up');
    expect(Object.fromEntries(b.get('ramp'))).toEqual({ 'lost.': ramp('lost.', 1), 'seen.': ramp('seen.', 2) });
  });

  it('a write too big to publish makes the others reload', async () => {
    const p = newPrefix();
    const a = await open(p, 'a', { resyncIntervalMs: 60_000 });
    const b = await open(p, 'b', { resyncIntervalMs: 60_000 });
    const big = 'x'.repeat(600);
    const changes = Array.from({ length: 2_000 }, (_, i) => ({ ns: 'tenant' as const, key: `t${i}`, value: { region: 'eu-west', by: big, at: 1 } }));
    const resynced = nextEvent(b, (e) => e.kind === 'resync');
    expect(await a.write(changes, audit('import'))).toBe(1);
    expect(a.get('tenant').size).toBe(2_000);
    await resynced;
    expect(b.version()).toBe(1);
    expect(b.get('tenant').size).toBe(2_000);
  });

  it('the write script refuses to run after its deadline (on the Redis clock), under another epoch, or below the writer\'s version', async () => {
    const p = newPrefix();
    const keys = ['version', 'audit', 'epoch', 'write:w1', 'ns:drain', 'ns:weights', 'ns:ramp', 'ns:tenant', 'ns:endpoint'].map((k) => p + k);
    await raw.set(`${p}epoch`, 'E1');
    const [sec] = (await raw.time()) as [number | string, number | string];
    const past = Number(sec) * 1000 - 1;
    const args = (deadline: number, epoch = 'E1', expect: number | '' = '', floor = 0) =>
      [`${p}changes`, deadline, 10, '"actor":"x","at":1}', '[]', JSON.stringify([5, 'S', 'eu-west', '{"x":1}']), epoch, expect, floor, '"w1"', 60_000];
    await expect(raw.eval(WRITE_SCRIPT.lua, keys.length, ...keys, ...args(past))).rejects.toThrow(/REGIONDNS_DEADLINE/);
    await expect(raw.eval(WRITE_SCRIPT.lua, keys.length, ...keys, ...args(past + 60_000, 'E0'))).rejects.toThrow(/REGIONDNS_EPOCH E1/);
    await expect(raw.eval(WRITE_SCRIPT.lua, keys.length, ...keys, ...args(past + 60_000, 'E1', '', 3))).rejects.toThrow(/REGIONDNS_BEHIND 0/);
    await expect(raw.eval(WRITE_SCRIPT.lua, keys.length, ...keys, ...args(past + 60_000, 'E1', 2))).rejects.toThrow(/REGIONDNS_CONFLICT 0/);
    // Nothing was written: no version, no audit, no drain, no write id.
    expect(await raw.exists(keys[0], keys[1], keys[3], keys[4])).toBe(0);
    expect(await raw.eval(WRITE_SCRIPT.lua, keys.length, ...keys, ...args(past + 60_000, 'E1', 0))).toBe(1);
    expect(await raw.hget(keys[4], 'eu-west')).toBe('{"x":1}');
    expect(JSON.parse((await raw.lindex(keys[1], 0))!)).toEqual({ id: 1, version: 1, writeId: 'w1', actor: 'x', at: 1 });
    // The same write id again (a retry): answered with the version it committed as, applied once.
    expect(await raw.eval(WRITE_SCRIPT.lua, keys.length, ...keys, ...args(past + 60_000, 'E1', 0))).toBe(1);
    expect(await raw.get(keys[0])).toBe('1');
  });

  it('start() against an unreachable Redis rejects with StoreUnavailableError', async () => {
    const port = await freePort();
    const s = new RedisStore({ url: `redis://127.0.0.1:${port}`, instanceId: 'x' });
    const t0 = Date.now();
    const err = await s.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
    expect(Date.now() - t0).toBeLessThan(4_000);
    await s.close();
  });

  it('Redis stopped: writes fail fast, reads keep the last state; back: reconnect and catch up', async () => {
    const p = newPrefix();
    const logs: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(JSON.parse(line)) } });
    const a = await open(p, 'a', { log });
    const b = await open(p, 'b');
    await a.write([{ ns: 'drain', key: 'eu-west', value: drain('eu-west') }], audit('drain'));
    await waitFor(() => b.version() === 1);

    const aDown = nextEvent(a, (e) => e.kind === 'status');
    await redis.down();
    await aDown;
    expect(a.status().connected).toBe(false);
    expect(a.status().detail).toMatch(/^redis unreachable since \d{4}-\d\d-\d\dT.*Z: /);

    const t0 = Date.now();
    const err = await a.write([{ ns: 'drain', key: 'us-east', value: drain('us-east') }], audit('drain')).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(a.version()).toBe(1);
    expect([...a.get('drain').keys()]).toEqual(['eu-west']);
    await expect(a.audit(5)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await a.tryLease('ramps', 'a', 1000)).toBe(false);
    await a.publishVerdict({ checkId: 'web', prober: 'a', up: true, cause: 'HTTP 200', at: Date.now(), intervalMs: 1000 }); // best effort: no throw
    expect(b.get('drain').get('eu-west')).toEqual(drain('eu-west'));

    const aUp = nextEvent(a, (e) => e.kind === 'status', 5_000);
    const bUp = nextEvent(b, (e) => e.kind === 'status', 5_000);
    await redis.up(); // AOF: the data survived
    await Promise.all([aUp, bUp]);
    expect(a.status()).toEqual({ connected: true, detail: 'redis ok' });
    expect(logs.map((l) => [l.level, l.msg])).toEqual(
      expect.arrayContaining([
        [40, 'redis unreachable: serving the last known fleet state'],
        [30, 'redis reachable again'],
      ]),
    );
    expect(logs.find((l) => l.level === 40)).toMatchObject({ store: 'redis', redis: redis.url });

    const v = await a.write([{ ns: 'drain', key: 'us-east', value: drain('us-east') }], audit('drain'));
    expect(v).toBe(2);
    await waitFor(() => b.version() === 2, 3_000, 'B seeing the write made after the restart');
    expect([...b.get('drain').keys()].sort()).toEqual(['eu-west', 'us-east']);
  });

  it('a restarted Redis holding other data under the same version is reloaded', async () => {
    const p = newPrefix();
    await raw.multi().set(`${p}version`, '5').hset(`${p}ns:drain`, 'old', JSON.stringify(drain('old'))).exec();
    const b = await open(p, 'b', { resyncIntervalMs: 60_000 });
    expect(b.version()).toBe(5);
    // Same version, different content (as if restored from another backup), and no message: only
    // the restarted server's new run_id can tell.
    await raw.multi().hdel(`${p}ns:drain`, 'old').hset(`${p}ns:drain`, 'new', JSON.stringify(drain('new'))).exec();
    const reloaded = nextEvent(b, (e) => e.kind === 'resync', 5_000);
    await redis.restart();
    await reloaded;
    expect(b.version()).toBe(5);
    expect([...b.get('drain').keys()]).toEqual(['new']);
  });

  it('Redis frozen for a moment: the write\'s fate is learnt once it wakes; it was not applied (its deadline passed)', async () => {
    const p = newPrefix();
    const a = await open(p, 'a');
    const b = await open(p, 'b');
    const w = (n: number) => weights('w.', { a: n });
    await a.write([{ ns: 'weights', key: 'w.', value: w(1) }], audit('weights'));
    await waitFor(() => b.version() === 1);

    redis.freeze();
    const t0 = Date.now();
    const pending = a.write([{ ns: 'weights', key: 'w.', value: w(2) }], audit('weights')).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 1_500));
    redis.thaw();
    const err = await pending;
    expect(err).toBeInstanceOf(StoreUnavailableError); // sure: nothing changed
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect(a.get('weights').get('w.')).toEqual(w(1));
    expect(a.version()).toBe(1);
    // The write reached Redis late, after its deadline: refused, so the fleet never sees it.
    expect(await raw.get(`${p}version`)).toBe('1');
    expect(JSON.parse((await raw.hget(`${p}ns:weights`, 'w.'))!)).toEqual(w(1));
    await waitFor(() => a.status().connected, 5_000, 'A reconnected');
    expect(await a.write([{ ns: 'weights', key: 'w.', value: w(3) }], audit('weights'))).toBe(2);
    await waitFor(() => b.version() === 2);
    expect(b.get('weights').get('w.')).toEqual(w(3));
  });

  it('a reply lost after the write committed: 200 (learnt on a fresh connection), applied once', async () => {
    const p = newPrefix();
    const proxy = await startTcpProxy(redis.port);
    try {
      const a = await open(p, 'a', { url: proxy.url });
      await a.write([{ ns: 'drain', key: 'us-east', value: drain('us-east') }], audit('drain')); // Redis knows the script now
      const held = proxy.holdRepliesAfter(WRITE_SCRIPT.sha, 2_500);
      const t0 = Date.now();
      const v = await a.write([{ ns: 'drain', key: 'eu-west', value: drain('eu-west') }], audit('drain'));
      await held;
      expect(v).toBe(2);
      expect(Date.now() - t0).toBeLessThan(2_500); // not waiting for the held reply
      expect(a.get('drain').get('eu-west')).toEqual(drain('eu-west'));
      expect(await raw.get(`${p}version`)).toBe('2');
      await waitFor(() => a.status().connected, 5_000);
      expect((await a.audit(5)).filter((e) => e.action === 'drain')).toHaveLength(2);
    } finally {
      await proxy.close();
    }
  });

  it('a reply lost and Redis unreachable for the whole outcome window: REGIONDNS_ERR_STORE_OUTCOME_UNKNOWN, never "nothing changed"', async () => {
    const p = newPrefix();
    const proxy = await startTcpProxy(redis.port);
    try {
      const a = await open(p, 'a', { url: proxy.url, outcomeWindowMs: 1_000 });
      await a.write([{ ns: 'drain', key: 'eu-west', value: drain('eu-west') }], audit('drain')); // Redis knows the script now
      void proxy.holdRepliesAfter(WRITE_SCRIPT.sha, 4_000, { everyConnection: true });
      const err = await a.write([{ ns: 'drain', key: 'us-east', value: drain('us-east') }], audit('drain')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreOutcomeUnknownError);
      expect((err as StoreOutcomeUnknownError).code).toBe('REGIONDNS_ERR_STORE_OUTCOME_UNKNOWN');
      expect((err as Error).message).toMatch(/may or may not have been applied/);
      expect(await raw.get(`${p}version`)).toBe('2'); // it had: the script ran, only its reply was held
    } finally {
      await proxy.close();
    }
  });

  it('compare-and-set: of two writes expecting one version, exactly one commits; the loser\'s view is fresh', async () => {
    const p = newPrefix();
    const a = await open(p, 'a', { resyncIntervalMs: 60_000 });
    const b = await open(p, 'b', { resyncIntervalMs: 60_000 });
    const results = await Promise.allSettled([
      a.write([{ ns: 'drain', key: 'eu-west', value: drain('eu-west') }], audit('drain'), { expectVersion: 0 }),
      b.write([{ ns: 'drain', key: 'us-east', value: drain('us-east') }], audit('drain'), { expectVersion: 0 }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.findIndex((r) => r.status === 'rejected');
    const err = (results[lost] as PromiseRejectedResult).reason as StoreConflictError;
    expect(err).toBeInstanceOf(StoreConflictError);
    expect([err.expected, err.current]).toEqual([0, 1]);
    const loser = lost === 0 ? a : b;
    expect(loser.version()).toBeGreaterThanOrEqual(1);
    expect(loser.get('drain').size).toBe(1);
  });

  it('garbage in Redis and on the channels is skipped and counted, never served', async () => {
    const p = newPrefix();
    await raw.multi()
      .hset(`${p}ns:drain`, 'eu-west', 'not json', 'us-east', JSON.stringify({ region: 'us-east' }), 'ap-south', JSON.stringify(drain('elsewhere')), 'ok', JSON.stringify(drain('ok')))
      .hset(`${p}ns:tenant`, 'Bad Slug', JSON.stringify({ region: 'eu' }), 'acme', JSON.stringify({ region: 7 }), 'good', JSON.stringify({ region: 'eu' }))
      .lpush(`${p}audit`, '{"id":1', JSON.stringify({ id: 2, at: 1, version: 2, actor: 'a', action: 'x', target: 't', reason: null, before: null, after: null }))
      .set(`${p}verdict:web:x`, '{"checkId":"web"}', 'PX', 60_000)
      .exec();
    const before = await badEntries();
    const a = await open(p, 'a');
    expect([...a.get('drain').keys()]).toEqual(['ok']);
    expect([...a.get('tenant').keys()]).toEqual(['good']);
    expect((await a.audit(10)).map((e) => e.id)).toEqual([2]);
    expect(a.verdicts()).toEqual([]);
    await raw.publish(`${p}changes`, 'garbage');
    await raw.publish(`${p}verdicts`, '{"up":"yes"}');
    await until(async () => {
      const n = await badEntries();
      return (n.message ?? 0) > (before.message ?? 0) && (n.verdict ?? 0) - (before.verdict ?? 0) >= 2 ? true : undefined;
    }, 2_000);
    const after = await badEntries();
    expect((after.drain ?? 0) - (before.drain ?? 0)).toBe(3);
    expect((after.tenant ?? 0) - (before.tenant ?? 0)).toBe(2);
    expect((after.audit ?? 0) - (before.audit ?? 0)).toBe(1);
    expect((after.verdict ?? 0) - (before.verdict ?? 0)).toBeGreaterThanOrEqual(2);
    expect((after.message ?? 0) - (before.message ?? 0)).toBe(1);
  });

  it('FLUSHALL: the instances re-seed Redis from memory under a new epoch, with an audit entry; writes go on', async () => {
    const { p, a, b, epoch } = await pairThenFlush();
    const restored = await until(async () => ((await raw.hget(`${p}ns:drain`, 'eu-west')) ? true : undefined), 8_000);
    expect(restored).toBe(true);
    expect(await raw.get(`${p}epoch`)).not.toBe(epoch);
    expect(Number(await raw.get(`${p}version`))).toBeGreaterThan(1);
    await waitFor(() => a.version() === b.version() && a.version() > 1, 5_000, 'both on the restored state');
    expect(a.get('drain').get('eu-west')).toEqual(drain('eu-west'));
    expect(b.get('drain').get('eu-west')).toEqual(drain('eu-west'));
    const [entry] = await a.audit(1);
    expect(entry).toMatchObject({ action: 'store.reset', after: { drains: ['eu-west'], restored: { drain: 1 } } });
    expect(entry.reason).toMatch(/had no fleet state/);
    const v = await b.write([{ ns: 'drain', key: 'us-east', value: drain('us-east') }], audit('drain'));
    await waitFor(() => a.version() === v);
    expect([...a.get('drain').keys()].sort()).toEqual(['eu-west', 'us-east']);
  });

  it('a write sent while Redis has lost its state waits for the restore, then commits on the restored state', async () => {
    const { p, a, b } = await pairThenFlush();
    const v = await b.write([{ ns: 'drain', key: 'us-east', value: drain('us-east') }], audit('drain'));
    expect(v).toBeGreaterThan(2); // after the restore (version 2)
    expect(Object.keys(await raw.hgetall(`${p}ns:drain`)).sort()).toEqual(['eu-west', 'us-east']);
    await waitFor(() => a.version() === v, 3_000);
    expect([...a.get('drain').keys()].sort()).toEqual(['eu-west', 'us-east']);
  });

  it('an older snapshot restored (same epoch, lower version) is not adopted: the newer state is put back', async () => {
    const p = newPrefix();
    const a = await open(p, 'a', { resyncIntervalMs: 200, claimWindowMs: 200 });
    await a.write([{ ns: 'drain', key: 'eu-west', value: drain('eu-west') }], audit('drain'));
    const old = { version: await raw.get(`${p}version`), drains: await raw.hgetall(`${p}ns:drain`) };
    await a.write([{ ns: 'drain', key: 'us-east', value: drain('us-east') }], audit('drain'));
    // Put version 1 back, as a restore of an older snapshot would.
    await raw.multi().set(`${p}version`, old.version!).del(`${p}ns:drain`).hset(`${p}ns:drain`, old.drains).exec();
    await until(async () => ((await raw.hget(`${p}ns:drain`, 'us-east')) ? true : undefined), 8_000);
    expect(Number(await raw.get(`${p}version`))).toBe(3);
    expect([...a.get('drain').keys()].sort()).toEqual(['eu-west', 'us-east']);
    expect((await a.audit(1))[0].reason).toMatch(/went back from version 2 to 1/);
  });

  it('warns at start when Redis persistence is off', async () => {
    const p = newPrefix();
    const logs: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(JSON.parse(line)) } });
    await raw.config('SET', 'appendonly', 'no');
    try {
      await open(p, 'a', { log });
    } finally {
      await raw.config('SET', 'appendonly', 'yes');
    }
    expect(logs.find((l) => l.level === 40 && /redis persistence is off/.test(String(l.msg)))).toBeDefined();
    logs.length = 0;
    await open(p, 'b', { log });
    expect(logs.filter((l) => /persistence/.test(String(l.msg)))).toEqual([]);
  });

  it('says nothing about persistence where CONFIG is refused (as on managed Redis)', async () => {
    const p = newPrefix();
    const logs: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(JSON.parse(line)) } });
    await raw.call('ACL', 'SETUSER', 'managed', 'on', '>managed-secret-1', '~*', '&*', '+@all', '-config');
    await raw.config('SET', 'appendonly', 'no');
    try {
      const s = await open(p, 'm', { log, url: `redis://managed:managed-secret-1@127.0.0.1:${redis.port}` });
      expect(s.status().connected).toBe(true);
    } finally {
      await raw.config('SET', 'appendonly', 'yes');
      await raw.call('ACL', 'DELUSER', 'managed');
    }
    expect(logs.filter((l) => /persistence/.test(String(l.msg)) && Number(l.level) >= 40)).toEqual([]);
  });
});

/** Two instances sharing a drain, then every key of their prefix deleted (a FLUSHALL for them alone). */
async function pairThenFlush(): Promise<{ p: string; a: RedisStore; b: RedisStore; epoch: string | null }> {
  const p = newPrefix();
  const opts = { resyncIntervalMs: 200, claimWindowMs: 300 };
  const a = await open(p, 'a', opts);
  const b = await open(p, 'b', opts);
  await a.write([{ ns: 'drain', key: 'eu-west', value: drain('eu-west') }], audit('drain'));
  await waitFor(() => b.version() === 1);
  const epoch = await raw.get(`${p}epoch`);
  for (const k of await raw.keys(`${p}*`)) await raw.del(k);
  return { p, a, b, epoch };
}

async function badEntries(): Promise<Record<string, number>> {
  const m = await fleetStoreBadEntries.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels.namespace), v.value]));
}

async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
