// The FleetStore contract of an instance without Redis, on both of its forms: in memory only
// (--state-dir none) and over the local state database (--state-dir). The database's own behaviour
// (restarts, the lock, bad rows, the state.json import) is in local-store.test.ts.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreConflictError, StoreUnavailableError, type AuditInput, type StoreEvent } from '../../src/state/fleet-store.js';
import { MemoryStore } from '../../src/state/memory-store.js';
import { OverrideMap } from '../../src/state/store-kit.js';

const audit = (action: string, target = 'eu-west'): AuditInput => ({ actor: 'alice', action, target, reason: 'test', before: null, after: null });
const drain = { region: 'eu-west', reason: 'maintenance', hostnames: null, by: 'alice', at: 1 };
const tenant = (region: string) => ({ region, by: 'alice', at: 1 });

let dir: string;
let clock: number;
const now = () => clock;
const stores: MemoryStore[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'regiondns-mem-'));
  clock = 1_700_000_000_000;
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['in memory', false],
  ['over the local state database', true],
] as const)('MemoryStore %s', (_name, onDisk) => {
  const open = async (): Promise<MemoryStore> => {
    const s = new MemoryStore({ stateDir: onDisk ? path.join(dir, 'state') : null, now });
    stores.push(s);
    await s.start();
    return s;
  };

  it('writes, deletes and bumps the version; events fire before write resolves', async () => {
    const s = await open();
    const events: StoreEvent[] = [];
    s.onEvent((e) => events.push(e));

    expect(s.version()).toBe(0);
    const v1 = await s.write([{ ns: 'drain', key: 'eu-west', value: drain }], audit('drain'));
    expect(v1).toBe(1);
    expect(events).toEqual([{ kind: 'overrides', ns: 'drain' }]);
    expect(s.get('drain').get('eu-west')).toEqual(drain);

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
    // Copy-on-write: the map handed out earlier did not change.
    expect(before.get('eu-west')).toEqual(drain);
    expect(events.slice(1)).toEqual([
      { kind: 'overrides', ns: 'drain' },
      { kind: 'overrides', ns: 'weights' },
    ]);
    expect(s.status()).toEqual(onDisk ? { connected: true, detail: expect.stringMatching(/^local state in .*regiondns\.db$/) } : { connected: true, detail: 'memory' });
  });

  it('rejects an unknown namespace, and a value its namespace\'s schema refuses, without bumping the version', async () => {
    const s = await open();
    await expect(s.write([{ ns: 'nope' as 'drain', key: 'k', value: 1 }], audit('x'))).rejects.toThrow(/unknown namespace/);
    await expect(s.write([{ ns: 'drain', key: 'eu-west', value: { region: 'eu-west' } }], audit('x'))).rejects.toThrow(/drain\/eu-west: not a valid drain value: reason/);
    expect(s.version()).toBe(0);
    expect(s.get('drain').size).toBe(0);
  });

  it('values are frozen, and equal values are one object (a million imported tenants share a handful)', async () => {
    const s = await open();
    await s.write(Array.from({ length: 100 }, (_, i) => ({ ns: 'tenant' as const, key: `t${i}`, value: tenant(i % 2 ? 'eu' : 'us') })), audit('import'));
    const m = s.get('tenant');
    expect(m.get('t1')).toBe(m.get('t3'));
    expect(m.get('t0')).not.toBe(m.get('t1'));
    expect(Object.isFrozen(m.get('t1'))).toBe(true);
    expect(new Set(m.values()).size).toBe(2);
  });

  it('compare-and-set: a write expecting another version is refused, nothing written', async () => {
    const s = await open();
    await s.write([{ ns: 'drain', key: 'eu-west', value: drain }], audit('drain'));
    const err = await s.write([{ ns: 'drain', key: 'us-east', value: { ...drain, region: 'us-east' } }], audit('drain'), { expectVersion: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreConflictError);
    expect(err).toMatchObject({ expected: 0, current: 1, code: 'REGIONDNS_ERR_STORE_CONFLICT' });
    expect(s.version()).toBe(1);
    expect(s.get('drain').has('us-east')).toBe(false);
    expect((await s.audit(10)).length).toBe(1);
    // Of two writes prepared on the same version, exactly one commits.
    const results = await Promise.allSettled([
      s.write([{ ns: 'drain', key: 'a', value: { ...drain, region: 'a' } }], audit('a'), { expectVersion: 1 }),
      s.write([{ ns: 'drain', key: 'b', value: { ...drain, region: 'b' } }], audit('b'), { expectVersion: 1 }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(StoreConflictError);
    expect(s.version()).toBe(2);
  });

  it('keeps the audit newest first with id = version', async () => {
    const s = await open();
    for (let i = 0; i < 5; i++) {
      clock += 1000;
      await s.write([{ ns: 'tenant', key: `t${i}`, value: tenant('eu') }], audit(`step${i}`));
    }
    const a = await s.audit(3);
    expect(a.map((e) => e.action)).toEqual(['step4', 'step3', 'step2']);
    expect(a[0]).toMatchObject({ id: 5, version: 5, at: 1_700_000_005_000, actor: 'alice', target: 'eu-west' });
    expect(await s.audit(0)).toEqual([]);
    expect((await s.audit(100)).length).toBe(5);
  });

  it('serialises concurrent writes: every one is applied, versions 1..n', async () => {
    const s = await open();
    const versions = await Promise.all(Array.from({ length: 20 }, (_, i) => s.write([{ ns: 'tenant', key: `t${i}`, value: tenant('eu') }], audit('t'))));
    expect(versions.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(s.get('tenant').size).toBe(20);
    expect(s.version()).toBe(20);
  });

  it('keeps verdicts for 3 × their interval, in memory only', async () => {
    const s = await open();
    let n = 0;
    s.onEvent((e) => e.kind === 'verdicts' && n++);
    await s.publishVerdict({ checkId: 'web', prober: 'p1', up: true, cause: 'HTTP 200', at: clock, intervalMs: 1000 });
    await s.publishVerdict({ checkId: 'web', prober: 'p2', up: false, cause: 'timeout after 2000 ms', at: clock, intervalMs: 1000 });
    await s.publishVerdict({ checkId: 'web', prober: 'p1', up: false, cause: 'HTTP 500', at: clock, intervalMs: 1000 });
    expect(n).toBe(3);
    expect(s.verdicts().map((v) => `${v.prober}:${v.up}`).sort()).toEqual(['p1:false', 'p2:false']);
    clock += 2999;
    expect(s.verdicts()).toHaveLength(2);
    clock += 1;
    expect(s.verdicts()).toHaveLength(0);
    expect(s.version()).toBe(0); // verdicts are not overrides
  });

  it('grants a lease to one holder at a time until it expires; the holder refreshes', async () => {
    const s = await open();
    expect(await s.tryLease('ramps', 'a', 1000)).toBe(true);
    expect(await s.tryLease('ramps', 'a', 1000)).toBe(true);
    expect(await s.tryLease('ramps', 'b', 1000)).toBe(false);
    clock += 999;
    expect(await s.tryLease('ramps', 'a', 1000)).toBe(true); // refreshed
    clock += 999;
    expect(await s.tryLease('ramps', 'b', 1000)).toBe(false);
    clock += 1;
    expect(await s.tryLease('ramps', 'b', 1000)).toBe(true);
  });

  it('a listener that throws does not stop the others', async () => {
    const s = await open();
    const seen: string[] = [];
    s.onEvent(() => {
      throw new Error('boom');
    });
    const off = s.onEvent((e) => seen.push(e.kind));
    await s.write([{ ns: 'drain', key: 'eu-west', value: drain }], audit('d'));
    off();
    await s.write([{ ns: 'drain', key: 'eu-west', value: null }], audit('u'));
    expect(seen).toEqual(['overrides']);
  });
});

describe('MemoryStore without a state directory', () => {
  it('writes no file', async () => {
    const s = new MemoryStore({ stateDir: null, now });
    await s.start();
    await s.write([{ ns: 'drain', key: 'eu-west', value: drain }], audit('d'));
    await s.close();
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('MemoryStore over a database that refuses writes', () => {
  it('rejects with StoreUnavailableError naming the file, and changes nothing', async () => {
    const s = new MemoryStore({ stateDir: path.join(dir, 'state'), now });
    stores.push(s);
    await s.start();
    const events: StoreEvent[] = [];
    s.onEvent((e) => events.push(e));
    s.database()!.setReadOnly(true);
    const err = await s.write([{ ns: 'drain', key: 'eu-west', value: drain }], audit('drain')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).code).toBe('REGIONDNS_ERR_STORE_UNAVAILABLE');
    expect((err as Error).message).toContain(path.join(dir, 'state', 'regiondns.db'));
    expect(s.version()).toBe(0);
    expect(s.get('drain').size).toBe(0);
    expect(await s.audit(10)).toEqual([]);
    expect(events).toEqual([]);
    s.database()!.setReadOnly(false);
    expect(await s.write([{ ns: 'drain', key: 'eu-west', value: drain }], audit('drain'))).toBe(1);
  });
});

describe('OverrideMap', () => {
  it('behaves like a Map under random sets and deletes, and never changes once handed out', () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const model = new Map<string, unknown>();
    let m = OverrideMap.EMPTY;
    const history: { map: OverrideMap; copy: [string, unknown][] }[] = [];
    for (let round = 0; round < 200; round++) {
      const changes = Array.from({ length: 1 + rnd(50) }, () => ({ key: `k${rnd(300)}`, value: rnd(4) === 0 ? null : rnd(1000) }));
      for (const c of changes) {
        if (c.value === null) model.delete(c.key);
        else model.set(c.key, c.value);
      }
      m = m.with(changes);
      history.push({ map: m, copy: [...model].sort() });
      expect(m.size).toBe(model.size);
    }
    for (const { map, copy } of history) {
      expect([...map].sort()).toEqual(copy);
      expect(map.size).toBe(copy.length);
    }
    for (let i = 0; i < 300; i++) {
      expect(m.get(`k${i}`)).toBe(model.get(`k${i}`));
      expect(m.has(`k${i}`)).toBe(model.has(`k${i}`));
    }
    expect([...m.keys()].sort()).toEqual([...model.keys()].sort());
    expect(Array.from(m.values()).length).toBe(model.size);
    const seen: string[] = [];
    m.forEach((_v, k) => seen.push(k));
    expect(seen.length).toBe(model.size);
  });

  it('updates a big namespace without copying it', () => {
    const big = OverrideMap.from(Array.from({ length: 200_000 }, (_, i): [string, unknown] => [`t${i}`, i]));
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) big.with([{ key: `t${i}`, value: -i }]);
    expect((performance.now() - t0) / 100).toBeLessThan(5); // a full copy takes ~100 ms
    const next = big.with([{ key: 't5', value: null }]);
    expect([big.size, next.size, big.get('t5'), next.get('t5')]).toEqual([200_000, 199_999, 5, undefined]);
  });

  it('fromGroups builds the map that with() would, in the same order', () => {
    const a = { region: 'eu' };
    const b = { region: 'us' };
    const groups = [{ value: a, keys: ['t1', 't2', 't3'] }, { value: b, keys: ['t4'] }, { value: null, keys: ['t5'] }];
    const m = OverrideMap.fromGroups(groups);
    const w = OverrideMap.EMPTY.with(groups.flatMap((g) => g.keys.map((key) => ({ key, value: g.value }))));
    expect(m.size).toBe(4);
    expect([...m]).toEqual([...w]);
    expect(m.get('t2')).toBe(a);
    expect(m.changesSince(w)).toEqual([]);
    const seen: string[] = [];
    m.forEach((v, k) => seen.push(`${k}=${(v as { region: string }).region}`));
    expect(seen).toEqual([...w].map(([k, v]) => `${k}=${(v as { region: string }).region}`));
  });
});
