// The local state database (SQLite through node:sqlite): one row per override, the audit, and the
// version and epoch. Each write is one transaction (BEGIN IMMEDIATE, check the version, apply, audit,
// bump the version, COMMIT) in WAL mode: a crash at any point leaves the state before or after it,
// never half.
//
// Durability without stalling DNS. node:sqlite is synchronous, and with synchronous=FULL each COMMIT
// waits for an fsync on the event loop: milliseconds on a quiet disk, tens of them on a busy one,
// during which no query is answered. So the connection runs synchronous=NORMAL (COMMIT writes the
// WAL, no fsync) and the write is acknowledged only after an fsync of the WAL file on libuv's thread
// pool (fsync flushes the file, whichever descriptor asks). An acknowledged write has reached the
// disk, as with FULL; the loop is held for the inserts only. SQLite still syncs on the loop when it
// checkpoints (every ~1000 pages of WAL, i.e. every few hundred writes).
//
// The lock. The connection runs in locking_mode=EXCLUSIVE: its first write takes SQLite's exclusive
// lock on the file and keeps it until the connection closes, so a second instance on the directory
// fails to open it (after a short busy wait) and refuses to start. We rely on that lock rather than a
// lock file of our own because the kernel drops it when the holder dies (fcntl locks belong to the
// process): a kill -9 leaves nothing stale behind, and no pid is ever mistaken for a live holder (in
// a container the new process often has the dead one's pid). The holder note (pid, host) is written
// once the lock is ours, only so the refused instance can say who has the directory.

import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { NAMESPACES, StoreConflictError, StoreUnavailableError, type AuditEntry, type Namespace } from './fleet-store.js';
import { parseLegacyStateFile } from './legacy-state-file.js';
import { DB_FILE, describeHolder, importedName, legacyStateFile, prepareStateDir, readHolder, removeHolder, StateDirError, writeHolder } from './state-dir.js';
import { OverrideMap, type StoredChange, type ValueDecoder } from './store-kit.js';
import { OtherConfigError } from '../config/error-codes.js';

/** Audit entries kept; older ones are deleted as new ones come. */
export const AUDIT_KEEP = 100_000;
/** How long a second instance waits for the lock before it gives up (and refuses to start). */
export const LOCK_WAIT_MS = 2_000;
/** A large write (a tenant import) gives the event loop back this often, inside its transaction. */
const SLICE_MS = 4;
const SCHEMA = 1;

const DDL = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value ANY) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (ns, key)) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, entry TEXT NOT NULL) STRICT;
`;

export interface LocalDbOptions {
  dir: string;
  instanceId: string;
  decoder: ValueDecoder;
  log?: Logger;
  lockWaitMs?: number;
}

export interface LoadedState {
  version: number;
  epoch: string;
  views: Map<Namespace, OverrideMap>;
}

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class LocalStateDb {
  readonly dir: string;
  readonly file: string;
  private readonly db: DatabaseSync;
  private readonly put: StatementSync;
  private readonly del: StatementSync;
  private readonly addAudit: StatementSync;
  private readonly trimAudit: StatementSync;
  private readonly setMeta: StatementSync;
  private readonly getMeta: StatementSync;
  private closed = false;

  /** Opens (creating, importing a legacy state file) and locks the database; throws StateDirError. */
  static open(opts: LocalDbOptions): { db: LocalStateDb; state: LoadedState } {
    const dir = prepareStateDir(opts.dir);
    const file = path.join(dir, DB_FILE);
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(file);
    } catch (err) {
      throw new StateDirError(dir, `cannot open ${file}: ${(err as Error).message}`, { cause: err });
    }
    try {
      // (A pragma rather than the constructor's `timeout` option, which Node 22.13 lacks.)
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.lockWaitMs ?? LOCK_WAIT_MS))}`);
      db.exec('PRAGMA locking_mode = EXCLUSIVE');
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = NORMAL'); // and an fsync of the WAL before each acknowledgement: see above
      db.exec('PRAGMA cache_size = -16384'); // 16 MB (the default is 2): a large import spills less to the WAL mid-transaction
      // The first write takes the exclusive lock (kept until close).
      db.exec('BEGIN IMMEDIATE');
      db.exec(DDL);
    } catch (err) {
      db.close();
      if (isBusy(err)) {
        throw new StateDirError(dir, `in use by another regiondns: ${describeHolder(readHolder(dir))}. Two instances must not share a state directory: give this one its own --state-dir (or --redis to share state), or stop the other`, { cause: err });
      }
      throw new StateDirError(dir, `cannot open ${file}: ${(err as Error).message}`, { cause: err });
    }
    writeHolder(dir, opts.instanceId);
    const local = new LocalStateDb(dir, file, db);
    try {
      local.seedOnce(opts);
      db.exec('COMMIT');
    } catch (err) {
      local.close();
      if (err instanceof StateDirError || (err as { code?: string }).code === OtherConfigError.STATE_FILE) throw err;
      throw new StateDirError(dir, `cannot prepare ${file}: ${(err as Error).message}`, { cause: err });
    }
    local.renameImported(opts.log);
    try {
      return { db: local, state: local.load(opts.decoder) };
    } catch (err) {
      local.close();
      throw err;
    }
  }

  private constructor(dir: string, file: string, db: DatabaseSync) {
    this.dir = dir;
    this.file = file;
    this.db = db;
    this.put = db.prepare('INSERT INTO entries (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value');
    this.del = db.prepare('DELETE FROM entries WHERE ns = ? AND key = ?');
    this.addAudit = db.prepare('INSERT INTO audit (id, entry) VALUES (?, ?)');
    this.trimAudit = db.prepare('DELETE FROM audit WHERE id <= ?');
    this.setMeta = db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value');
    this.getMeta = db.prepare('SELECT value FROM meta WHERE name = ?');
  }

  /** The file imported on this start, renamed once its contents are committed. */
  private imported: string | null = null;

  /** A new database gets its epoch, version 0 and, when an earlier version left one, the state file's contents. */
  private seedOnce(opts: LocalDbOptions): void {
    const schema = this.meta('schema');
    if (schema !== undefined) {
      if (schema !== SCHEMA) throw new StateDirError(this.dir, `${this.file} has schema ${String(schema)}; this regiondns reads schema ${SCHEMA}`);
      const legacy = legacyStateFile(this.dir);
      if (legacy) opts.log?.warn({ file: legacy, db: this.file }, 'a state file is present but the state database already has state: the file is not imported (move it away to silence this)');
      return;
    }
    this.setMeta.run('schema', SCHEMA);
    this.setMeta.run('epoch', randomBytes(8).toString('hex'));
    this.setMeta.run('version', 0);
    const legacy = legacyStateFile(this.dir);
    if (legacy === null) return;
    const state = parseLegacyStateFile(legacy, fs.readFileSync(legacy, 'utf8'));
    let rows = 0;
    let skipped = 0;
    for (const ns of NAMESPACES) {
      for (const [key, value] of Object.entries(state.namespaces[ns] ?? {})) {
        const json = JSON.stringify(value) ?? 'null';
        if (opts.decoder.decode(ns, key, json) === undefined) skipped++;
        else (this.put.run(ns, key, json), rows++);
      }
    }
    // The file lists its audit newest first.
    for (const entry of [...state.audit].reverse()) if (Number.isSafeInteger(entry.id)) this.addAudit.run(entry.id, JSON.stringify(entry));
    this.setMeta.run('version', state.version);
    this.imported = legacy;
    opts.log?.info({ file: legacy, db: this.file, version: state.version, entries: rows, skipped, audit: state.audit.length }, 'imported the state file into the state database');
  }

  private renameImported(log: Logger | undefined): void {
    if (this.imported === null) return;
    const to = importedName(this.imported, new Date());
    try {
      fs.renameSync(this.imported, to);
      log?.info({ from: this.imported, to }, 'state file renamed: it is not read again');
    } catch (err) {
      log?.warn({ err, file: this.imported }, 'state file imported but not renamed: it will not be imported again (the database has state)');
    }
  }

  private meta(name: string): unknown {
    return (this.getMeta.get(name) as { value: unknown } | undefined)?.value;
  }

  private version(): number {
    const v = this.meta('version');
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new StateDirError(this.dir, `${this.file}: meta version is ${JSON.stringify(v)}, not a non-negative integer`);
    return v;
  }

  /**
   * Every row, parsed with its namespace's schema: a bad row is skipped (logged once and counted by
   * the decoder). Rows are read grouped by value, so a million tenants that share a handful of values
   * come back as a handful of rows, each with its keys in one string: no JS object per row, and one
   * parse per distinct value. (A key holding a NUL, which no valid key does, cannot be split that way:
   * such rows are read one by one, and refused.)
   */
  private load(decoder: ValueDecoder): LoadedState {
    const groups = this.db.prepare('SELECT ns, value, group_concat(key, char(0)) AS keys FROM entries WHERE instr(key, char(0)) = 0 GROUP BY ns, value ORDER BY ns');
    const byNs = new Map<Namespace, { value: unknown; keys: string[] }[]>();
    for (const { ns, value: json, keys } of groups.iterate() as Iterable<{ ns: Namespace; value: string; keys: string }>) {
      const split = keys.split('\0');
      const value = decoder.decode(ns, split[0], json);
      if (value === undefined) for (const key of split.slice(1)) decoder.decode(ns, key, json); // each bad key is logged and counted
      else {
        const list = byNs.get(ns);
        if (list) list.push({ value, keys: split });
        else byNs.set(ns, [{ value, keys: split }]);
      }
    }
    for (const { ns, key } of this.db.prepare('SELECT ns, key FROM entries WHERE instr(key, char(0)) > 0').iterate() as Iterable<{ ns: Namespace; key: string }>) {
      decoder.refuse(ns, key, 'the key holds a NUL character');
    }
    const views = new Map<Namespace, OverrideMap>();
    for (const ns of NAMESPACES) views.set(ns, OverrideMap.fromGroups(byNs.get(ns) ?? []));
    return { version: this.version(), epoch: String(this.meta('epoch')), views };
  }

  /**
   * One write, atomically: conditional on the database being at `expected`, then the changes, the
   * audit entry (id = its version) and the new version. A large write gives the event loop back every
   * few milliseconds inside its transaction (the caller queues writes, so none interleave); readers
   * keep the in-memory views, which change only once this resolves.
   */
  async commit(stored: Iterable<StoredChange>, entry: AuditEntry, expected: number): Promise<void> {
    if (this.closed) throw new StoreUnavailableError(`the state database ${this.file} is closed (shutting down): the change was not persisted`);
    const db = this.db;
    let open = false;
    try {
      db.exec('BEGIN IMMEDIATE');
      open = true;
      const current = this.version();
      if (current !== expected) throw new StoreConflictError(expected, current);
      let t0 = performance.now();
      let i = 0;
      for (const c of stored) {
        if (c.json === null) this.del.run(c.ns, c.key);
        else this.put.run(c.ns, c.key, c.json);
        if ((i++ & 1023) === 1023 && performance.now() - t0 > SLICE_MS) {
          await yieldTurn();
          t0 = performance.now();
        }
      }
      this.addAudit.run(entry.version, JSON.stringify(entry));
      this.trimAudit.run(entry.version - AUDIT_KEEP);
      this.setMeta.run('version', entry.version);
      db.exec('COMMIT');
    } catch (err) {
      if (open) {
        try { db.exec('ROLLBACK'); } catch { /* the transaction is gone with the error (or committed) */ }
      }
      if (err instanceof StoreConflictError) throw err;
      throw new StoreUnavailableError(`cannot persist overrides to ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    try {
      await this.syncWal();
    } catch (err) {
      // Committed, so in force from now on (the database is the state of record), but not confirmed on disk.
      throw new WalSyncError(`the change is written to ${this.file} but the disk did not confirm it (fsync: ${(err as Error).message}); it is in force on this instance, and may be lost if the machine stops now: check the disk`, { cause: err });
    }
  }

  /** The fsync that makes the last COMMIT durable, off the event loop. */
  private async syncWal(): Promise<void> {
    const fh = await fsp.open(`${this.file}-wal`, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** Newest first; an entry that is not JSON is skipped. */
  audit(limit: number): AuditEntry[] {
    const out: AuditEntry[] = [];
    const rows = this.db.prepare('SELECT entry FROM audit ORDER BY id DESC LIMIT ?').all(limit) as { entry: string }[];
    for (const r of rows) {
      try {
        out.push(JSON.parse(r.entry) as AuditEntry);
      } catch { /* an entry someone damaged by hand: the others still read */ }
    }
    return out;
  }

  /**
   * Refuses writes from now on (on: true) as a file system remounted read-only would: each write fails
   * with SQLite's own error, reads go on. For fault tests, and to freeze the state while a copy is made.
   */
  setReadOnly(on: boolean): void {
    this.db.exec(`PRAGMA query_only = ${on ? 1 : 0}`);
  }

  epoch(): string {
    return String(this.meta('epoch'));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      // Fold the WAL into the database file, so a stopped instance's directory is one file to copy.
      this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    } catch { /* best effort */ }
    this.db.close();
    removeHolder(this.dir);
  }
}

/** A write committed but not confirmed durable: the caller applies it and says the outcome is uncertain. */
export class WalSyncError extends Error {}

function isBusy(err: unknown): boolean {
  const code = (err as { errcode?: number }).errcode;
  return code === 5 || code === 6; // SQLITE_BUSY, SQLITE_LOCKED
}
