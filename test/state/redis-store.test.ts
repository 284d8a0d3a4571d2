// RedisStore against a real, private redis-server (see test/helpers/redis.ts).
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/obs/logger.js';
import { StoreUnavailableError, type AuditInput, type FleetStore, type StoreEvent } from '../../src/state/fleet-store.js';
import { RedisStore, WRITE_SCRIPT, type RedisStoreOptions } from '../../src/state/redis-store.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const audit = (action: string): AuditInput => ({ actor: 'alice', action, target: 'eu-west', reason: null, before: null, after: { n: 1 } });
const drain = (region: string) => ({ region, reason: 'maintenance', hostnames: null, by: 'alice', at: 1 });

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

    await b.write([{ ns: 'drain', key: 'eu-west', value: null }, { ns: 'weights', key: 'www.example.com.', value: { w: [1, 2] } }], audit('undrain'));
    await waitFor(() => a.version() === 2);
    expect(a.get('drain').size).toBe(0);
    expect(a.get('weights').get('www.example.com.')).toEqual({ w: [1, 2] });

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
    await raw.multi().incr(`${p}version`).hset(`${p}ns:ramp`, 'lost', JSON.stringify({ step: 1 })).exec();
    await a.write([{ ns: 'ramp', key: 'seen', value: { step: 2 } }], audit('ramp')); // version 2: B has 0
    await waitFor(() => b.version() === 2, 2_000, 'B catching up');
    expect(Object.fromEntries(b.get('ramp'))).toEqual({ lost: { step: 1 }, seen: { step: 2 } });
  });

  it('a write too big to publish makes the others reload', async () => {
    const p = newPrefix();
    const a = await open(p, 'a', { resyncIntervalMs: 60_000 });
    const b = await open(p, 'b', { resyncIntervalMs: 60_000 });
    const big = 'x'.repeat(600);
    const changes = Array.from({ length: 2_000 }, (_, i) => ({ ns: 'tenant' as const, key: `t${i}`, value: { note: big } }));
    const resynced = nextEvent(b, (e) => e.kind === 'resync');
    expect(await a.write(changes, audit('import'))).toBe(1);
    expect(a.get('tenant').size).toBe(2_000);
    await resynced;
    expect(b.version()).toBe(1);
    expect(b.get('tenant').size).toBe(2_000);
  });

  it('the write script refuses to run after its deadline (on the Redis clock)', async () => {
    const p = newPrefix();
    const keys = ['version', 'audit', 'ns:drain', 'ns:weights', 'ns:ramp', 'ns:tenant'].map((k) => p + k);
    const [sec] = (await raw.time()) as [number | string, number | string];
    const past = Number(sec) * 1000 - 1;
    const args = (deadline: number) => [`${p}changes`, deadline, 10, '"actor":"x","at":1}', '[]', JSON.stringify([3, 'S', 'eu-west', '{"x":1}'])];
    await expect(raw.eval(WRITE_SCRIPT.lua, keys.length, ...keys, ...args(past))).rejects.toThrow(/REGIONDNS_DEADLINE/);
    expect(await raw.exists(keys[0], keys[1], keys[2])).toBe(0);
    expect(await raw.eval(WRITE_SCRIPT.lua, keys.length, ...keys, ...args(past + 60_000))).toBe(1);
    expect(await raw.hget(keys[2], 'eu-west')).toBe('{"x":1}');
    expect(JSON.parse((await raw.lindex(keys[1], 0))!)).toEqual({ id: 1, version: 1, actor: 'x', at: 1 });
  });

  it('leases: one holder at a time, refreshed by its holder, free after the ttl', async () => {
    const p = newPrefix();
    const a = await open(p, 'a');
    const b = await open(p, 'b');
    const [ga, gb] = await Promise.all([a.tryLease('ramps', 'a', 300), b.tryLease('ramps', 'b', 300)]);
    expect([ga, gb].filter(Boolean)).toHaveLength(1);
    const [holder, other, otherId, holderId] = ga ? [a, b, 'b', 'a'] : [b, a, 'a', 'b'];
    await new Promise((r) => setTimeout(r, 200));
    expect(await holder.tryLease('ramps', holderId, 300)).toBe(true); // refresh: 300 ms more from now
    await new Promise((r) => setTimeout(r, 200));
    expect(await other.tryLease('ramps', otherId, 300)).toBe(false); // 400 ms after the first grant
    await new Promise((r) => setTimeout(r, 150));
    expect(await other.tryLease('ramps', otherId, 300)).toBe(true);
    expect(await holder.tryLease('ramps', holderId, 300)).toBe(false);
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
    await raw.multi().set(`${p}version`, '5').hset(`${p}ns:drain`, 'old', '1').exec();
    const b = await open(p, 'b', { resyncIntervalMs: 60_000 });
    expect(b.version()).toBe(5);
    // Same version, different content (as if restored from another backup), and no message: only
    // the restarted server's new run_id can tell.
    await raw.multi().hdel(`${p}ns:drain`, 'old').hset(`${p}ns:drain`, 'new', '2').exec();
    const reloaded = nextEvent(b, (e) => e.kind === 'resync', 5_000);
    await redis.restart();
    await reloaded;
    expect(b.version()).toBe(5);
    expect([...b.get('drain').keys()]).toEqual(['new']);
  });

  it('Redis frozen: a write fails within the command timeout and is not applied after it wakes', async () => {
    const p = newPrefix();
    const a = await open(p, 'a');
    const b = await open(p, 'b');
    await a.write([{ ns: 'weights', key: 'w', value: { a: 1 } }], audit('weights'));
    await waitFor(() => b.version() === 1);

    redis.freeze();
    const t0 = Date.now();
    const err = await a.write([{ ns: 'weights', key: 'w', value: { a: 2 } }], audit('weights')).catch((e: unknown) => e);
    const took = Date.now() - t0;
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(took).toBeLessThan(2_000);
    expect(a.status().connected).toBe(false);
    expect(a.status().detail).toMatch(/no answer within/);
    expect(a.get('weights').get('w')).toEqual({ a: 1 });
    expect(a.version()).toBe(1);

    const aUp = nextEvent(a, (e) => e.kind === 'status', 5_000);
    redis.thaw();
    await aUp;
    expect(a.status().connected).toBe(true);
    // The write reached Redis late, after its deadline: refused, so the fleet never sees it.
    expect(await raw.get(`${p}version`)).toBe('1');
    expect(JSON.parse((await raw.hget(`${p}ns:weights`, 'w'))!)).toEqual({ a: 1 });
    expect(await a.write([{ ns: 'weights', key: 'w', value: { a: 3 } }], audit('weights'))).toBe(2);
    await waitFor(() => b.version() === 2);
    expect(b.get('weights').get('w')).toEqual({ a: 3 });
  });
});
