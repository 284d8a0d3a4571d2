import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError, type AuditInput, type StoreEvent } from '../../src/state/fleet-store.js';
import { MemoryStore, StateFileError } from '../../src/state/memory-store.js';
import { OverrideMap } from '../../src/state/store-kit.js';

const audit = (action: string, target = 'eu-west'): AuditInput => ({ actor: 'alice', action, target, reason: 'test', before: null, after: null });
const drain = { region: 'eu-west', reason: 'maintenance', hostnames: null, by: 'alice', at: 1 };

let dir: string;
let clock: number;
const now = () => clock;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'regiondns-mem-'));
  clock = 1_700_000_000_000;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('MemoryStore', () => {
  it('writes, deletes and bumps the version; events fire before write resolves', async () => {
    const s = new MemoryStore({ stateFile: null, now });
    await s.start();
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
    expect(s.status()).toEqual({ connected: true, detail: 'memory' });
    await s.close();
  });

  it('rejects an unknown namespace without bumping the version', async () => {
    const s = new MemoryStore({ stateFile: null, now });
    await expect(s.write([{ ns: 'nope' as 'drain', key: 'k', value: 1 }], audit('x'))).rejects.toThrow(/unknown namespace/);
    expect(s.version()).toBe(0);
  });

  it('keeps the audit newest first with id = version', async () => {
    const s = new MemoryStore({ stateFile: null, now });
    for (let i = 0; i < 5; i++) {
      clock += 1000;
      await s.write([{ ns: 'ramp', key: `r${i}`, value: i }], audit(`step${i}`));
    }
    const a = await s.audit(3);
    expect(a.map((e) => e.action)).toEqual(['step4', 'step3', 'step2']);
    expect(a[0]).toMatchObject({ id: 5, version: 5, at: 1_700_000_005_000, actor: 'alice', target: 'eu-west' });
    expect(await s.audit(0)).toEqual([]);
    expect((await s.audit(100)).length).toBe(5);
  });

  it('persists overrides and audit to the state file and loads them in a new instance', async () => {
    const file = path.join(dir, 'state.json');
    const a = new MemoryStore({ stateFile: file, now });
    await a.start(); // no file yet: empty
    await a.write([{ ns: 'drain', key: 'eu-west', value: drain }], audit('drain'));
    await a.write([{ ns: 'tenant', key: 't1', value: { region: 'us-east' } }], audit('tenant'));
    await a.close();

    const onDisk = JSON.parse(readFileSync(file, 'utf8'));
    expect(onDisk).toMatchObject({ schema: 1, version: 2 });
    expect(readdirSync(dir)).toEqual(['state.json']); // no temp file left behind

    const b = new MemoryStore({ stateFile: file, now });
    await b.start();
    expect(b.version()).toBe(2);
    expect(b.get('drain').get('eu-west')).toEqual(drain);
    expect(b.get('tenant').get('t1')).toEqual({ region: 'us-east' });
    expect((await b.audit(10)).map((e) => e.action)).toEqual(['tenant', 'drain']);
    expect(await b.write([{ ns: 'drain', key: 'eu-west', value: null }], audit('undrain'))).toBe(3);
  });

  it('serialises concurrent writes: the file holds every one', async () => {
    const file = path.join(dir, 'state.json');
    const a = new MemoryStore({ stateFile: file, now });
    const versions = await Promise.all(Array.from({ length: 20 }, (_, i) => a.write([{ ns: 'tenant', key: `t${i}`, value: { region: `r${i}`, by: 'a', at: i } }], audit('t'))));
    expect(versions.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const b = new MemoryStore({ stateFile: file, now });
    await b.start();
    expect(b.get('tenant').size).toBe(20);
    expect(b.version()).toBe(20);
  });

  it('a write that cannot be persisted rejects with StoreUnavailableError and changes nothing', async () => {
    const sub = path.join(dir, 'gone');
    const file = path.join(sub, 'state.json');
    const s = new MemoryStore({ stateFile: file, now });
    await s.start();
    const events: StoreEvent[] = [];
    s.onEvent((e) => events.push(e));
    // The directory does not exist (chmod would not stop root).
    const err = await s.write([{ ns: 'drain', key: 'eu-west', value: drain }], audit('drain')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).code).toBe('REGIONDNS_ERR_STORE_UNAVAILABLE');
    expect((err as Error).message).toContain(file);
    expect(s.version()).toBe(0);
    expect(s.get('drain').size).toBe(0);
    expect(await s.audit(10)).toEqual([]);
    expect(events).toEqual([]);
    // The store keeps working once the directory is back.
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sub);
    expect(await s.write([{ ns: 'drain', key: 'eu-west', value: drain }], audit('drain'))).toBe(1);
  });

  it('refuses to start from a corrupt state file, naming it', async () => {
    const file = path.join(dir, 'state.json');
    writeFileSync(file, '{"schema":1,"version":3,"namesp');
    const s = new MemoryStore({ stateFile: file, now });
    const err = await s.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateFileError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(/not valid JSON/);

    writeFileSync(file, JSON.stringify({ schema: 1, version: 1, namespaces: { bogus: {} }, audit: [] }));
    await expect(new MemoryStore({ stateFile: file, now }).start()).rejects.toThrow(/unknown namespace "bogus"/);
    writeFileSync(file, JSON.stringify({ schema: 1, version: -1, namespaces: {}, audit: [] }));
    await expect(new MemoryStore({ stateFile: file, now }).start()).rejects.toThrow(/"version"/);
  });

  it('keeps verdicts for 3 × their interval, in memory only', async () => {
    const file = path.join(dir, 'state.json');
    const s = new MemoryStore({ stateFile: file, now });
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
    expect(readdirSync(dir)).toEqual([]); // verdicts are not persisted
  });

  it('grants a lease to one holder at a time until it expires; the holder refreshes', async () => {
    const s = new MemoryStore({ stateFile: null, now });
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
    const s = new MemoryStore({ stateFile: null, now });
    const seen: string[] = [];
    s.onEvent(() => {
      throw new Error('boom');
    });
    const off = s.onEvent((e) => seen.push(e.kind));
    await s.write([{ ns: 'drain', key: 'x', value: 1 }], audit('d'));
    off();
    await s.write([{ ns: 'drain', key: 'x', value: null }], audit('u'));
    expect(seen).toEqual(['overrides']);
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
});
