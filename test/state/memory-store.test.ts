// What MemoryStore does beyond the FleetStore contract (that is store-contract.test.ts), on both of
// its forms: in memory only (--state-dir none) and over the local state database (--state-dir). The
// database's own behaviour (restarts, the lock, bad rows, the state.json import) is in local-store.test.ts.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError, type AuditInput, type StoreEvent } from '../../src/state/fleet-store.js';
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
  // The FleetStore contract it shares with RedisStore is in store-contract.test.ts; here, what is its own.
  const open = async (): Promise<MemoryStore> => {
    const s = new MemoryStore({ stateDir: onDisk ? path.join(dir, 'state') : null, now });
    stores.push(s);
    await s.start();
    return s;
  };

  it('values are frozen, and equal values are one object (a million imported tenants share a handful)', async () => {
    const s = await open();
    await s.write(Array.from({ length: 100 }, (_, i) => ({ ns: 'tenant' as const, key: `t${i}`, value: tenant(i % 2 ? 'eu' : 'us') })), audit('import'));
    const m = s.get('tenant');
    expect(m.get('t1')).toBe(m.get('t3'));
    expect(m.get('t0')).not.toBe(m.get('t1'));
    expect(Object.isFrozen(m.get('t1'))).toBe(true);
    expect(new Set(m.values()).size).toBe(2);
  });

  it('stamps audit entries with its own clock', async () => {
    const s = await open();
    clock += 5000;
    await s.write([{ ns: 'drain', key: 'eu-west', value: drain }], audit('drain'));
    expect((await s.audit(1))[0]).toMatchObject({ id: 1, at: 1_700_000_005_000 });
  });

  it('keeps verdicts for exactly 3 × their interval on its clock, in memory only', async () => {
    const s = await open();
    await s.publishVerdict({ checkId: 'web', prober: 'p1', up: true, cause: 'HTTP 200', at: clock, intervalMs: 1000 });
    clock += 2999;
    expect(s.verdicts()).toHaveLength(1);
    clock += 1;
    expect(s.verdicts()).toHaveLength(0);
  });

  it('ends a lease exactly at its ttl on its clock', async () => {
    const s = await open();
    expect(await s.tryLease('ramps', 'a', 1000)).toBe(true);
    clock += 999;
    expect(await s.tryLease('ramps', 'b', 1000)).toBe(false);
    clock += 1;
    expect(await s.tryLease('ramps', 'b', 1000)).toBe(true);
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
