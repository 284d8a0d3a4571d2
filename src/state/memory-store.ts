// The FleetStore of an instance without Redis. Overrides live in memory and, with a state
// directory, in a local SQLite database (local-db.ts) that every write reaches before it is applied
// here; verdicts and leases are memory only. Without a state directory (`--state-dir none`, and
// unit tests) it is a pure in-memory store: same semantics, nothing survives a restart.

import type { Logger } from 'pino';
import {
  StoreConflictError,
  StoreOutcomeUnknownError,
  type AuditEntry,
  type AuditInput,
  type ChangeList,
  type FleetStore,
  type Namespace,
  type StoreEvent,
  type StoreStatus,
  type WriteOptions,
} from './fleet-store.js';
import type { Verdict } from '../health/verdict.js';
import type { NamespaceValues } from './fleet-store.js';
import { LocalStateDb, WalSyncError } from './local-db.js';
import { applyStored, emptyViews, EventHub, normalizeChanges, OverrideMap, storedChanges, ValueDecoder, verdictKey, type StoredChange, type Views } from './store-kit.js';

/** Audit entries kept in memory when there is no state directory. */
export const MEMORY_AUDIT_LIMIT = 1_000;

export interface MemoryStoreOptions {
  /** The directory of the local state database; null keeps everything in memory only. */
  stateDir: string | null;
  /** Named in the state directory's holder note (default: the pid). */
  instanceId?: string;
  now?: () => number;
  log?: Logger;
  /** How long start() waits for a state directory another process holds (default 2 s). */
  lockWaitMs?: number;
}

export class MemoryStore implements FleetStore {
  readonly kind = 'memory' as const;
  private readonly opts: MemoryStoreOptions;
  private readonly now: () => number;
  private readonly log?: Logger;
  private readonly events: EventHub;
  private readonly decoder: ValueDecoder;
  private db: LocalStateDb | null = null;
  private views: Views = emptyViews();
  private ver = 0;
  /** Without a database: oldest first, at most MEMORY_AUDIT_LIMIT. */
  private auditLog: AuditEntry[] = [];
  private readonly verdictMap = new Map<string, { v: Verdict; expiresAt: number }>();
  private readonly leases = new Map<string, { holder: string; until: number }>();
  /** Writes (and audit reads) run one after another: a large write's transaction spans event-loop turns. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: MemoryStoreOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.events = new EventHub(opts.log);
    this.decoder = new ValueDecoder(opts.log);
  }

  /** Opens and locks the state directory (StateDirError when another instance holds it) and loads it. */
  async start(): Promise<void> {
    if (this.opts.stateDir === null || this.db !== null) return;
    const t0 = performance.now();
    const { db, state } = LocalStateDb.open({
      dir: this.opts.stateDir, instanceId: this.opts.instanceId ?? String(process.pid), decoder: this.decoder, log: this.log, lockWaitMs: this.opts.lockWaitMs,
    });
    this.db = db;
    this.views = state.views;
    this.ver = state.version;
    const entries = Object.fromEntries([...state.views].map(([ns, m]) => [ns, m.size]));
    this.log?.info({ stateDir: db.dir, version: this.ver, epoch: state.epoch, entries, ms: Math.round(performance.now() - t0) }, 'local state loaded');
  }

  /** The local state database (null without a state directory, or before start()). */
  database(): LocalStateDb | null {
    return this.db;
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    this.db?.close();
  }

  get<N extends Namespace>(ns: N): ReadonlyMap<string, NamespaceValues[N]> {
    // Every value in a view was parsed with its namespace's schema (ValueDecoder) on the way in.
    return (this.views.get(ns) ?? OverrideMap.EMPTY) as ReadonlyMap<string, unknown> as ReadonlyMap<string, NamespaceValues[N]>;
  }

  version(): number {
    return this.ver;
  }

  write(changes: ChangeList, audit: AuditInput, opts: WriteOptions = {}): Promise<number> {
    // Validate before queueing so a caller's mistake fails on its own, not as "store unavailable".
    // A list made on demand stays one: it is normalised again on each pass (the database's, the view's).
    let stored: Iterable<StoredChange>;
    try {
      stored = Array.isArray(changes) ? normalizeChanges(changes) : storedChanges(changes);
      for (const c of stored) if (c.json !== null) this.decoder.own(c.ns, c.key, c.json);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueue(() => this.persistAndApply(stored, audit, opts.expectVersion));
  }


  private enqueue<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async persistAndApply(stored: Iterable<StoredChange>, input: AuditInput, expectVersion: number | undefined): Promise<number> {
    // Compare-and-set: the caller checked its invariants on version `expectVersion`.
    if (expectVersion !== undefined && expectVersion !== this.ver) throw new StoreConflictError(expectVersion, this.ver);
    const version = this.ver + 1;
    const entry: AuditEntry = { ...(JSON.parse(JSON.stringify(input)) as AuditInput), id: version, at: this.now(), version };
    // The database checks the version again inside its transaction: it is the state of record.
    let unconfirmed: WalSyncError | null = null;
    if (this.db) {
      try {
        await this.db.commit(stored, entry, this.ver);
      } catch (err) {
        if (!(err instanceof WalSyncError)) throw err;
        unconfirmed = err;
      }
    }
    // Values as readers will see them: checked when the write was accepted, one object per distinct text.
    const { views, touched } = applyStored(this.views, stored, (c) => this.decoder.own(c.ns, c.key, c.json));
    this.views = views;
    this.ver = version;
    if (!this.db) this.auditLog = [...this.auditLog, entry].slice(-MEMORY_AUDIT_LIMIT);
    for (const ns of touched) this.events.emit({ kind: 'overrides', ns });
    if (unconfirmed) {
      this.log?.error({ err: unconfirmed, version }, 'state database write not confirmed by the disk');
      throw new StoreOutcomeUnknownError(`v${version}`, unconfirmed.message, { cause: unconfirmed });
    }
    return version;
  }

  async audit(limit: number): Promise<AuditEntry[]> {
    const n = Math.max(0, Math.floor(limit));
    const db = this.db;
    // Behind the writes: a large write's open transaction is not to be read from.
    if (db) return this.enqueue(() => db.audit(n));
    return this.auditLog.slice(Math.max(0, this.auditLog.length - n)).reverse();
  }

  async publishVerdict(v: Verdict): Promise<void> {
    this.verdictMap.set(verdictKey(v.checkId, v.prober), { v: { ...v }, expiresAt: this.now() + 3 * v.intervalMs });
    this.events.emit({ kind: 'verdicts' });
  }

  verdicts(): readonly Verdict[] {
    // Same lifetime as in Redis: 3 × interval after it was published.
    const now = this.now();
    const out: Verdict[] = [];
    for (const [k, e] of this.verdictMap) {
      if (e.expiresAt <= now) this.verdictMap.delete(k);
      else out.push(e.v);
    }
    return out;
  }

  onEvent(fn: (e: StoreEvent) => void): () => void {
    return this.events.on(fn);
  }

  status(): StoreStatus {
    return { connected: true, detail: this.db ? `local state in ${this.db.file}` : 'memory' };
  }

  async tryLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const cur = this.leases.get(name);
    if (cur && cur.holder !== holder && cur.until > now) return false;
    this.leases.set(name, { holder, until: now + ttlMs });
    return true;
  }
}
