// The FleetStore contract, run against every store: MemoryStore in memory only (--state-dir none),
// MemoryStore over the local state database (--state-dir, SQLite), and RedisStore against a real
// redis-server (test/helpers/redis.ts). What only one store does (the database's lock and restarts,
// Redis epochs and faults) is in its own file: memory-store, local-store and redis-store.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fleetStoreBadEntries } from '../../src/obs/metrics.js';
import { StoreConflictError, type AuditInput, type FleetStore, type StoreEvent } from '../../src/state/fleet-store.js';
import { MemoryStore } from '../../src/state/memory-store.js';
import { RedisStore } from '../../src/state/redis-store.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const audit = (action: string): AuditInput => ({ actor: 'alice', action, target: 'eu-west', reason: 'test', before: null, after: null });
const drain = (region: string) => ({ region, reason: 'maintenance', hostnames: null, by: 'alice', at: 1 });
const tenant = (region: string) => ({ region, by: 'alice', at: 1 });

/** A store under test: `open` gives a fresh, empty store per test (and the same one's state when asked again within a test). */
interface Harness {
  /** Before each test: a clean place (a directory, a Redis key prefix). */
  fresh(): void;
  open(): Promise<FleetStore>;
  /** Raw entries (namespace, key, stored text) put where the store keeps its state, before it opens. */
  plant?(rows: readonly [string, string, string][]): Promise<void>;
  status: { connected: boolean; detail: unknown };
}

let dir: string;
let redis: TestRedis;
let raw: Redis;
let prefixSeq = 0;
const stores: FleetStore[] = [];

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await raw.connect();
});
afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'regiondns-contract-'));
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function started<S extends FleetStore>(s: S): Promise<S> {
  stores.push(s);
  await s.start();
  return s;
}

const memory: Harness = {
  fresh: () => {},
  open: () => started(new MemoryStore({ stateDir: null })),
  status: { connected: true, detail: 'memory' },
};

const sqlite: Harness = {
  fresh: () => {},
  open: () => started(new MemoryStore({ stateDir: path.join(dir, 'state') })),
  async plant(rows) {
    // The database exists once a store has opened it; rows then go straight in, as a hand edit would.
    const s = new MemoryStore({ stateDir: path.join(dir, 'state') });
    await s.start();
    await s.close();
    const db = new DatabaseSync(path.join(dir, 'state', 'regiondns.db'));
    for (const [ns, key, value] of rows) db.prepare('INSERT INTO entries (ns, key, value) VALUES (?, ?, ?)').run(ns, key, value);
    db.close();
  },
  status: { connected: true, detail: expect.stringMatching(/^local state in .*regiondns\.db$/) },
};

let prefix = '';
const redisStore: Harness = {
  fresh: () => {
    prefix = `contract${++prefixSeq}:`;
  },
  open: () => started(new RedisStore({ url: redis.url, prefix, instanceId: `i${stores.length}`, resyncIntervalMs: 200 })),
  async plant(rows) {
    for (const [ns, key, value] of rows) await raw.hset(`${prefix}ns:${ns}`, key, value);
  },
  status: { connected: true, detail: 'redis ok' },
};

async function waitFor(cond: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function badCount(ns: string): Promise<number> {
  return (await fleetStoreBadEntries.get()).values.find((v) => v.labels.namespace === ns)?.value ?? 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each([
  ['MemoryStore in memory', memory],
  ['MemoryStore over the local state database', sqlite],
  ['RedisStore', redisStore],
] as const)('%s keeps the FleetStore contract', (_name, h) => {
  beforeEach(() => h.fresh());

  it('writes, deletes and bumps the version; events fire before write resolves; maps handed out never change', async () => {
    const s = await h.open();
    const events: StoreEvent[] = [];
    s.onEvent((e) => { if (e.kind === 'overrides') events.push(e); });

    expect(s.version()).toBe(0);
    expect(await s.write([{ ns: 'drain', key: 'eu-west', value: drain('eu-west') }], audit('drain'))).toBe(1);
    expect(events).toEqual([{ kind: 'overrides', ns: 'drain' }]);
    expect(s.get('drain').get('eu-west')).toEqual(drain('eu-west'));

    const before = s.get('drain');
    const v2 = await s.write(
      [
        { ns: 'drain', key: 'eu-west', value: null },
        { ns: 'weights', key: 'www.example.com.', value: { fqdn: 'www.example.com.', weights: { a: 1 }, by: 'bob', at: 2 } },
      ],
      audit('undrain'),
    );
    expect(v2).toBe(2);
    expect(s.version()).toBe(2);
    expect(s.get('drain').size).toBe(0);
    expect(s.get('weights').size).toBe(1);
    expect(before.get('eu-west')).toEqual(drain('eu-west')); // copy-on-write
    expect(events.slice(1)).toEqual([
      { kind: 'overrides', ns: 'drain' },
      { kind: 'overrides', ns: 'weights' },
    ]);
    expect(s.status()).toEqual(h.status);
  });

  it('rejects an unknown namespace, and a value its namespace\'s schema refuses, without bumping the version', async () => {
    const s = await h.open();
    await expect(s.write([{ ns: 'nope' as 'drain', key: 'k', value: 1 }], audit('x'))).rejects.toThrow(/unknown namespace/);
    await expect(s.write([{ ns: 'drain', key: 'eu-west', value: { region: 'eu-west' } }], audit('x'))).rejects.toThrow(/drain\/eu-west: not a valid drain value: reason/);
    expect(s.version()).toBe(0);
    expect(s.get('drain').size).toBe(0);
  });

  it('typed get: each namespace its own map of parsed values', async () => {
    const s = await h.open();
    await s.write(Array.from({ length: 10 }, (_, i) => ({ ns: 'tenant' as const, key: `t${i}`, value: tenant(i % 2 ? 'eu' : 'us') })), audit('import'));
    const m = s.get('tenant');
    expect(m.size).toBe(10);
    expect(m.get('t1')).toEqual(tenant('eu'));
    expect(m.get('t0')?.region).toBe('us');
    expect(s.get('drain').size).toBe(0);
    expect(s.get('weights').size).toBe(0);
  });

  it('compare-and-set: a write expecting another version is refused with StoreConflictError, nothing written; of two racing, one commits', async () => {
    const s = await h.open();
    await s.write([{ ns: 'drain', key: 'eu-west', value: drain('eu-west') }], audit('drain'));
    const err = await s.write([{ ns: 'drain', key: 'us-east', value: drain('us-east') }], audit('drain'), { expectVersion: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreConflictError);
    expect(err).toMatchObject({ expected: 0, current: 1, code: 'REGIONDNS_ERR_STORE_CONFLICT' });
    expect(s.version()).toBe(1);
    expect(s.get('drain').has('us-east')).toBe(false);
    expect(await s.audit(10)).toHaveLength(1);
    const results = await Promise.allSettled([
      s.write([{ ns: 'drain', key: 'a', value: drain('a') }], audit('a'), { expectVersion: 1 }),
      s.write([{ ns: 'drain', key: 'b', value: drain('b') }], audit('b'), { expectVersion: 1 }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(StoreConflictError);
    expect(s.version()).toBe(2);
  });

  it('keeps the audit newest first with id = version', async () => {
    const s = await h.open();
    for (let i = 0; i < 5; i++) await s.write([{ ns: 'tenant', key: `t${i}`, value: tenant('eu') }], audit(`step${i}`));
    const a = await s.audit(3);
    expect(a.map((e) => e.action)).toEqual(['step4', 'step3', 'step2']);
    expect(a[0]).toMatchObject({ id: 5, version: 5, actor: 'alice', target: 'eu-west', reason: 'test' });
    expect(typeof a[0].at).toBe('number');
    expect(await s.audit(0)).toEqual([]);
    expect(await s.audit(100)).toHaveLength(5);
  });

  it('serialises concurrent writes: every one is applied, versions 1..n', async () => {
    const s = await h.open();
    const versions = await Promise.all(Array.from({ length: 20 }, (_, i) => s.write([{ ns: 'tenant', key: `t${i}`, value: tenant('eu') }], audit('t'))));
    expect(versions.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(s.get('tenant').size).toBe(20);
    expect(s.version()).toBe(20);
  });

  it('keeps the newest verdict per prober, tells listeners, and forgets it after 3 × its interval', async () => {
    const s = await h.open();
    let n = 0;
    s.onEvent((e) => { if (e.kind === 'verdicts') n++; });
    const at = Date.now();
    await s.publishVerdict({ checkId: 'web', prober: 'p1', up: true, cause: 'HTTP 200', at, intervalMs: 150 });
    await s.publishVerdict({ checkId: 'web', prober: 'p2', up: false, cause: 'timeout after 2000 ms', at, intervalMs: 150 });
    await s.publishVerdict({ checkId: 'web', prober: 'p1', up: false, cause: 'HTTP 500', at: at + 1, intervalMs: 150 });
    await waitFor(() => n >= 3, 'three verdict events');
    expect(s.verdicts().map((v) => `${v.prober}:${v.up}`).sort()).toEqual(['p1:false', 'p2:false']);
    expect(s.version()).toBe(0); // verdicts are not overrides
    await waitFor(() => s.verdicts().length === 0, 'verdict expiry');
    expect(Date.now() - at).toBeGreaterThanOrEqual(400);
  });

  it('grants a lease to one holder at a time until it expires; the holder refreshes', async () => {
    const s = await h.open();
    expect(await s.tryLease('ramps', 'a', 400)).toBe(true);
    expect(await s.tryLease('ramps', 'b', 400)).toBe(false);
    await sleep(250);
    expect(await s.tryLease('ramps', 'a', 400)).toBe(true); // refreshed: 400 ms from now
    await sleep(250);
    expect(await s.tryLease('ramps', 'b', 400)).toBe(false); // 500 ms after the first grant
    await sleep(250);
    expect(await s.tryLease('ramps', 'b', 400)).toBe(true);
    expect(await s.tryLease('ramps', 'a', 400)).toBe(false);
  });

  it('a listener that throws does not stop the others; one taken off hears no more', async () => {
    const s = await h.open();
    const seen: string[] = [];
    s.onEvent(() => {
      throw new Error('boom');
    });
    const off = s.onEvent((e) => seen.push(e.kind));
    await s.write([{ ns: 'drain', key: 'eu-west', value: drain('eu-west') }], audit('d'));
    expect(seen).toContain('overrides');
    off();
    const heard = seen.length;
    await s.write([{ ns: 'drain', key: 'eu-west', value: null }], audit('u'));
    expect(seen).toHaveLength(heard);
  });
});

describe.each([
  ['MemoryStore over the local state database', sqlite],
  ['RedisStore', redisStore],
] as const)('%s reads its stored state as untrusted', (_name, h) => {
  beforeEach(() => h.fresh());

  it('skips and counts entries its schemas refuse, and serves the rest', async () => {
    await h.plant!([
      ['drain', 'ok', JSON.stringify(drain('ok'))],
      ['drain', 'us-east', JSON.stringify({ region: 'us-east' })],
      ['tenant', 'acme', 'not json'],
      ['tenant', 'good', JSON.stringify(tenant('eu'))],
    ]);
    const before = { drain: await badCount('drain'), tenant: await badCount('tenant') };
    const s = await h.open();
    expect([...s.get('drain').keys()]).toEqual(['ok']);
    expect([...s.get('tenant').keys()]).toEqual(['good']);
    expect(await badCount('drain')).toBe(before.drain + 1);
    expect(await badCount('tenant')).toBe(before.tenant + 1);
  });
});
