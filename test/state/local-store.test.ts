// The local state database (--state-dir): restarts, bad rows, the state.json import, and the lock
// against a second real process (and its release when that process is killed with SIGKILL).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/obs/logger.js';
import { fleetStoreBadEntries } from '../../src/obs/metrics.js';
import type { AuditInput } from '../../src/state/fleet-store.js';
import { StateFileError } from '../../src/state/legacy-state-file.js';
import { MemoryStore } from '../../src/state/memory-store.js';
import { StateDirError } from '../../src/state/state-dir.js';

const audit = (action: string): AuditInput => ({ actor: 'alice', action, target: 'eu-west', reason: 'test', before: null, after: null });
const drain = { region: 'eu-west', reason: 'maintenance', hostnames: null, by: 'alice', at: 1 };
const HOLDER = path.resolve(import.meta.dirname, '../helpers/hold-state-dir.mjs');

let dir: string;
let stateDir: string;
const stores: MemoryStore[] = [];
const children: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'regiondns-local-'));
  stateDir = path.join(dir, 'nested', 'state');
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function open(opts: Partial<ConstructorParameters<typeof MemoryStore>[0]> = {}): Promise<MemoryStore> {
  const s = new MemoryStore({ stateDir, ...opts });
  await s.start();
  stores.push(s);
  return s;
}

async function reopen(s: MemoryStore, opts: Partial<ConstructorParameters<typeof MemoryStore>[0]> = {}): Promise<MemoryStore> {
  await s.close();
  stores.splice(stores.indexOf(s), 1);
  return open(opts);
}

function logCapture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({ write(chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); done(); } });
  return { lines, log: createLogger({ level: 'info', destination }) };
}

async function badCount(ns: string): Promise<number> {
  return (await fleetStoreBadEntries.get()).values.find((v) => v.labels.namespace === ns)?.value ?? 0;
}

/** A real second process holding the directory; resolves with it once it says so. */
function holdInChild(reason = ''): Promise<ChildProcess & { out: string }> {
  const child = spawn(process.execPath, [HOLDER, stateDir, ...(reason ? [reason] : [])], { stdio: ['ignore', 'pipe', 'inherit'] }) as ChildProcess & { out: string };
  children.push(child);
  child.out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the child did not take the directory: ${child.out}`)), 30_000);
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      child.out += c;
      if (child.out.includes('held ')) { clearTimeout(timer); resolve(child); }
      if (child.out.includes('refused ')) { clearTimeout(timer); reject(new Error(child.out)); }
    });
  });
}

describe('the local state database', () => {
  it('creates the directory (0700), and keeps overrides, audit and version across a restart', async () => {
    let s = await open();
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    await s.write([{ ns: 'drain', key: 'eu-west', value: drain }], audit('drain'));
    await s.write([{ ns: 'tenant', key: 't1', value: { region: 'us-east', by: 'alice', at: 2 } }], audit('tenant'));
    await s.write([{ ns: 'tenant', key: 't1', value: null }, { ns: 'tenant', key: 't2', value: { region: 'eu', by: 'bob', at: 3 } }], audit('tenant2'));
    const epoch = s.database()!.epoch();
    expect(epoch).toMatch(/^[0-9a-f]{16}$/);

    s = await reopen(s);
    expect(s.version()).toBe(3);
    expect(s.database()!.epoch()).toBe(epoch); // set once, at the first start
    expect(s.get('drain').get('eu-west')).toEqual(drain);
    expect([...s.get('tenant')]).toEqual([['t2', { region: 'eu', by: 'bob', at: 3 }]]);
    expect((await s.audit(10)).map((e) => [e.action, e.version])).toEqual([['tenant2', 3], ['tenant', 2], ['drain', 1]]);
    expect(await s.write([{ ns: 'drain', key: 'eu-west', value: null }], audit('undrain'))).toBe(4);
    // A clean stop folds the WAL into the database file and removes the holder note.
    await s.close();
    stores.splice(0);
    expect(readdirSync(stateDir).sort()).toEqual(['regiondns.db']);
  });

  it('a large write is one transaction: all of it survives a restart, in one version and one audit entry', async () => {
    let s = await open();
    const changes = Array.from({ length: 50_000 }, (_, i) => ({ ns: 'tenant' as const, key: `t${i}`, value: { region: i % 3 ? 'eu' : 'us', by: 'alice', at: 5 } }));
    expect(await s.write(changes, audit('tenant.import'))).toBe(1);
    s = await reopen(s);
    expect(s.get('tenant').size).toBe(50_000);
    expect(s.get('tenant').get('t49999')).toEqual({ region: 'eu', by: 'alice', at: 5 });
    expect(await s.audit(10)).toHaveLength(1);
  });

  it('skips a row whose value its schema refuses: logged once with its key, counted, the rest served', async () => {
    let s = await open();
    await s.write([{ ns: 'drain', key: 'eu-west', value: drain }], audit('drain'));
    await s.close();
    stores.splice(0);
    // Garbage written straight into the database, as a hand edit or a bad restore would.
    const raw = new DatabaseSync(path.join(stateDir, 'regiondns.db'));
    raw.prepare('INSERT INTO entries (ns, key, value) VALUES (?, ?, ?)').run('drain', 'us-east', '{"region":"us-east"}');
    raw.prepare('INSERT INTO entries (ns, key, value) VALUES (?, ?, ?)').run('tenant', 'acme', 'not json');
    raw.prepare('INSERT INTO entries (ns, key, value) VALUES (?, ?, ?)').run('bogus', 'k', '{}');
    raw.close();
    const before = { drain: await badCount('drain'), tenant: await badCount('tenant'), unknown: await badCount('unknown') };

    const { lines, log } = logCapture();
    s = await open({ log });
    expect([...s.get('drain').keys()]).toEqual(['eu-west']);
    expect(s.get('tenant').size).toBe(0);
    expect(await badCount('drain')).toBe(before.drain + 1);
    expect(await badCount('tenant')).toBe(before.tenant + 1);
    expect(await badCount('unknown')).toBe(before.unknown + 1);
    const skipped = lines.filter((l) => l.msg === 'fleet store entry skipped: its value does not match the namespace schema');
    expect(skipped.map((l) => `${l.namespace}/${l.key}`).sort()).toEqual(['bogus/k', 'drain/us-east', 'tenant/acme']);
    expect(skipped.find((l) => l.key === 'us-east')!.problem).toMatch(/reason/);
    // Writing over a bad row repairs it.
    await s.write([{ ns: 'drain', key: 'us-east', value: { ...drain, region: 'us-east' } }], audit('drain'));
    s = await reopen(s);
    expect(s.get('drain').size).toBe(2);
  });

  it('imports a state.json of an earlier version once, skipping bad values, and renames it', async () => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(stateDir, { recursive: true });
    const legacy = path.join(stateDir, 'state.json');
    writeFileSync(legacy, JSON.stringify({
      schema: 1, version: 7,
      namespaces: { drain: { 'eu-west': drain, broken: { region: 'broken' } }, tenant: { acme: { region: 'us-east', by: 'alice', at: 1 } } },
      audit: [{ id: 7, at: 70, version: 7, actor: 'alice', action: 'tenant.set', target: 'acme', reason: null, before: null, after: null },
        { id: 6, at: 60, version: 6, actor: 'alice', action: 'drain', target: 'eu-west', reason: null, before: null, after: null }],
    }));
    const { lines, log } = logCapture();
    let s = await open({ log });
    expect(s.version()).toBe(7);
    expect([...s.get('drain').keys()]).toEqual(['eu-west']);
    expect(s.get('tenant').get('acme')).toEqual({ region: 'us-east', by: 'alice', at: 1 });
    expect((await s.audit(10)).map((e) => e.action)).toEqual(['tenant.set', 'drain']);
    expect(existsSync(legacy)).toBe(false);
    expect(readdirSync(stateDir).filter((f) => f.startsWith('state.json.imported-'))).toHaveLength(1);
    expect(lines.find((l) => l.msg === 'imported the state file into the state database')).toMatchObject({ entries: 2, skipped: 1, version: 7 });
    expect(await s.write([{ ns: 'drain', key: 'eu-west', value: null }], audit('undrain'))).toBe(8);

    // Imported once: a state.json that shows up later is left alone.
    writeFileSync(legacy, JSON.stringify({ schema: 1, version: 99, namespaces: {}, audit: [] }));
    s = await reopen(s, { log });
    expect(s.version()).toBe(8);
    expect(existsSync(legacy)).toBe(true);
    expect(lines.some((l) => l.msg === 'a state file is present but the state database already has state: the file is not imported (move it away to silence this)')).toBe(true);
  });

  it('refuses to start from a corrupt state.json, naming it, and imports it once it is fixed', async () => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(stateDir, { recursive: true });
    const legacy = path.join(stateDir, 'state.json');
    writeFileSync(legacy, '{"schema":1,"version":3,"namesp');
    const s = new MemoryStore({ stateDir });
    const err = await s.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateFileError);
    expect((err as Error).message).toContain(legacy);
    expect((err as Error).message).toMatch(/not valid JSON/);
    writeFileSync(legacy, JSON.stringify({ schema: 1, version: 3, namespaces: { drain: { 'eu-west': drain } }, audit: [] }));
    const fixed = await open();
    expect(fixed.version()).toBe(3);
  });

  it('refuses to start from a file that is not a state database, naming it', async () => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(path.join(stateDir, 'regiondns.db'), 'this is not an SQLite file, it is long enough to have a header: '.repeat(20));
    const err = await new MemoryStore({ stateDir }).start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateDirError);
    expect((err as Error).message).toContain(path.join(stateDir, 'regiondns.db'));
    expect((err as Error).message).toMatch(/not a database/);
  });

  it('a second process on the directory is refused within seconds, naming the directory, the holder and the flag', async () => {
    const child = await holdInChild();
    const t0 = Date.now();
    const err = await new MemoryStore({ stateDir }).start().catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(err).toBeInstanceOf(StateDirError);
    const msg = (err as Error).message;
    expect(msg).toContain(stateDir);
    expect(msg).toContain(`pid ${child.pid} on host ${os.hostname()}`);
    expect(msg).toContain('holder-under-test');
    expect(msg).toContain('--state-dir');
  });

  it('a holder killed with SIGKILL leaves no stale lock: the next start takes over, with what it wrote', async () => {
    const child = await holdInChild('written by the killed holder');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const s = await open();
    expect(s.get('drain').get('eu-west')).toMatchObject({ reason: 'written by the killed holder' });
    expect(s.version()).toBe(1);
    // And this process now holds it: a new child is refused.
    await expect(holdInChild()).rejects.toThrow(/in use by another regiondns: pid \d+/);
  });
});
