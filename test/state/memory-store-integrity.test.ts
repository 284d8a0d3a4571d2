// The local store's side of the fleet-store contract: compare-and-set on the version, and values read
// back from the local state parsed (a bad one skipped and counted, never served).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fleetStoreBadEntries } from '../../src/obs/metrics.js';
import { StoreConflictError, type AuditInput } from '../../src/state/fleet-store.js';
import { MemoryStore } from '../../src/state/memory-store.js';

const audit: AuditInput = { actor: 'alice', action: 'drain', target: 'x', reason: null, before: null, after: null };
const drain = (region: string) => ({ region, reason: 'maintenance', hostnames: null, by: 'alice', at: 1 });
const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('MemoryStore integrity', () => {
  it('compare-and-set: of two writes expecting one version, exactly one commits', async () => {
    const s = new MemoryStore({ stateDir: null });
    await s.start();
    const r = await Promise.allSettled([
      s.write([{ ns: 'drain', key: 'us-east', value: drain('us-east') }], audit, { expectVersion: 0 }),
      s.write([{ ns: 'drain', key: 'eu-west', value: drain('eu-west') }], audit, { expectVersion: 0 }),
    ]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected']);
    expect((r[1] as PromiseRejectedResult).reason).toBeInstanceOf(StoreConflictError);
    expect((r[1] as PromiseRejectedResult).reason).toMatchObject({ expected: 0, current: 1 });
    expect([...s.get('drain').keys()]).toEqual(['us-east']);
    expect(s.version()).toBe(1);
  });

  it('a state.json (imported on first start) with valid JSON but bad values: loads, skips and counts them', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'regiondns-mem-int-'));
    dirs.push(dir);
    const file = path.join(dir, 'state.json');
    writeFileSync(file, JSON.stringify({
      schema: 1, version: 4, audit: [],
      namespaces: {
        drain: { 'us-east': drain('us-east'), 'eu-west': { region: 'eu-west', reason: 'no hostnames' }, 'ap-south': drain('elsewhere') },
        tenant: { acme: { region: 'eu-west', by: 'a', at: 1 }, globex: { region: 42 } },
      },
    }));
    const count = async () => Object.fromEntries((await fleetStoreBadEntries.get()).values.map((v) => [v.labels.namespace, v.value]));
    const before = await count();
    const s = new MemoryStore({ stateDir: dir });
    await s.start();
    expect(s.version()).toBe(4);
    expect([...s.get('drain').keys()]).toEqual(['us-east']);
    expect([...s.get('tenant').keys()]).toEqual(['acme']);
    const after = await count();
    expect((after.drain ?? 0) - (before.drain ?? 0)).toBe(2);
    expect((after.tenant ?? 0) - (before.tenant ?? 0)).toBe(1);
  });
});
