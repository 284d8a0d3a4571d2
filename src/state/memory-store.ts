// The default FleetStore: one instance, no Redis. Overrides live in memory and, with a state file,
// are persisted on every write (temp file in the same directory, fsync, rename: a crash leaves the old
// file or the new one, never half of one). Verdicts and leases are memory only.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  NAMESPACES,
  StoreConflictError,
  StoreUnavailableError,
  type AuditEntry,
  type AuditInput,
  type Change,
  type FleetStore,
  type Namespace,
  type StoreEvent,
  type StoreStatus,
  type Verdict,
  type WriteOptions,
} from './fleet-store.js';
import { EntryGate, type NamespaceValues } from './schemas.js';
import { applyChanges, emptyViews, EventHub, normalizeChanges, OverrideMap, toChanges, verdictKey, type Views } from './store-kit.js';

/** Audit entries kept in memory and in the state file. */
export const MEMORY_AUDIT_LIMIT = 1_000;
const STATE_SCHEMA = 1;

// ---- the memory store ----------------------------------------------------------------------------

export interface MemoryStoreOptions {
  /** Where overrides and the recent audit are persisted; null keeps them in memory only. */
  stateFile: string | null;
  now?: () => number;
  log?: Logger;
}

/** The state file: `{ schema, version, namespaces: {ns: {key: value}}, audit: [newest first] }`. */
interface StateFile {
  schema: number;
  version: number;
  namespaces: Record<string, Record<string, unknown>>;
  audit: AuditEntry[];
}

export class StateFileError extends Error {
  readonly code = 'REGIONDNS_ERR_STATE_FILE';
  constructor(
    readonly file: string,
    what: string,
  ) {
    super(`state file ${file}: ${what}`);
  }
}

export class MemoryStore implements FleetStore {
  readonly kind = 'memory' as const;
  private readonly stateFile: string | null;
  private readonly now: () => number;
  private readonly log?: Logger;
  private readonly events: EventHub;
  private views: Views = emptyViews();
  private ver = 0;
  /** Oldest first; at most MEMORY_AUDIT_LIMIT. */
  private auditLog: AuditEntry[] = [];
  private readonly verdictMap = new Map<string, { v: Verdict; expiresAt: number }>();
  private readonly leases = new Map<string, { holder: string; until: number }>();
  /** Writes are persisted one after another: each file must contain every earlier write. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: MemoryStoreOptions) {
    this.stateFile = opts.stateFile;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.events = new EventHub(opts.log);
  }

  async start(): Promise<void> {
    if (this.stateFile === null) return;
    let text: string;
    try {
      text = await fsp.readFile(this.stateFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.log?.info({ stateFile: this.stateFile }, 'no state file yet: starting with no overrides');
        return;
      }
      throw new StateFileError(this.stateFile, `cannot read: ${(err as Error).message}`);
    }
    const state = parseStateFile(this.stateFile, text);
    const views = emptyViews();
    // Values are untrusted like any read back: a bad one is skipped and counted, never a SERVFAIL.
    const gate = new EntryGate(this.log);
    for (const ns of NAMESPACES) {
      const good = Object.entries(state.namespaces[ns] ?? {}).flatMap(([k, v]) => {
        const parsed = gate.value(ns, k, v);
        return parsed === undefined ? [] : [[k, parsed] as const];
      });
      views.set(ns, OverrideMap.from(good));
    }
    this.views = views;
    this.ver = state.version;
    this.auditLog = state.audit.slice(0, MEMORY_AUDIT_LIMIT).reverse();
    this.log?.info({ stateFile: this.stateFile, version: this.ver }, 'state file loaded');
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  get<N extends Namespace>(ns: N): ReadonlyMap<string, NamespaceValues[N]> {
    return (this.views.get(ns) ?? OverrideMap.EMPTY) as ReadonlyMap<string, unknown> as ReadonlyMap<string, NamespaceValues[N]>;
  }

  version(): number {
    return this.ver;
  }

  write(changes: Change[], audit: AuditInput, opts: WriteOptions = {}): Promise<number> {
    // Validate before queueing so a caller's mistake fails on its own, not as "store unavailable".
    let parsed: Change[];
    try {
      parsed = toChanges(normalizeChanges(changes));
    } catch (err) {
      return Promise.reject(err);
    }
    const run = this.queue.then(() => {
      // Writes run one at a time: the version checked here is the one the write commits on.
      if (opts.expectVersion !== undefined && opts.expectVersion !== this.ver) throw new StoreConflictError(opts.expectVersion, this.ver);
      return this.persistAndApply(parsed, audit);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async persistAndApply(changes: Change[], input: AuditInput): Promise<number> {
    const version = this.ver + 1;
    const entry: AuditEntry = { ...(JSON.parse(JSON.stringify(input)) as AuditInput), id: version, at: this.now(), version };
    const { views, touched } = applyChanges(this.views, changes);
    const auditLog = [...this.auditLog, entry].slice(-MEMORY_AUDIT_LIMIT);
    if (this.stateFile !== null) await this.persist(this.stateFile, version, views, auditLog);
    this.views = views;
    this.ver = version;
    this.auditLog = auditLog;
    for (const ns of touched) this.events.emit({ kind: 'overrides', ns });
    return version;
  }

  private async persist(file: string, version: number, views: Views, auditLog: AuditEntry[]): Promise<void> {
    const state: StateFile = {
      schema: STATE_SCHEMA,
      version,
      namespaces: Object.fromEntries(NAMESPACES.map((ns) => [ns, Object.fromEntries(views.get(ns) ?? [])])),
      audit: [...auditLog].reverse(),
    };
    const tmp = `${file}.tmp`;
    try {
      const fh = await fsp.open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(JSON.stringify(state));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, file);
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      this.log?.error({ err, stateFile: file }, 'cannot persist state file');
      throw new StoreUnavailableError(`cannot persist overrides to state file ${file}: ${(err as Error).message}`, { cause: err });
    }
    // Make the rename itself durable; some filesystems refuse fsync on a directory, which is fine.
    try {
      const dir = await fsp.open(path.dirname(file), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch {
      /* best effort */
    }
  }

  async audit(limit: number): Promise<AuditEntry[]> {
    const n = Math.max(0, Math.floor(limit));
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
    return { connected: true, detail: 'memory' };
  }

  async tryLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const cur = this.leases.get(name);
    if (cur && cur.holder !== holder && cur.until > now) return false;
    this.leases.set(name, { holder, until: now + ttlMs });
    return true;
  }
}

function parseStateFile(file: string, text: string): StateFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new StateFileError(file, `not valid JSON (${(err as Error).message}); fix or move the file away to start with no overrides`);
  }
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObj(raw)) throw new StateFileError(file, 'expected a JSON object');
  if (raw.schema !== STATE_SCHEMA) throw new StateFileError(file, `unsupported schema ${JSON.stringify(raw.schema)} (expected ${STATE_SCHEMA})`);
  if (typeof raw.version !== 'number' || !Number.isSafeInteger(raw.version) || raw.version < 0)
    throw new StateFileError(file, '"version" must be a non-negative integer');
  if (!isObj(raw.namespaces)) throw new StateFileError(file, '"namespaces" must be an object');
  for (const [ns, m] of Object.entries(raw.namespaces)) {
    if (!NAMESPACES.includes(ns as Namespace)) throw new StateFileError(file, `unknown namespace "${ns}" (known: ${NAMESPACES.join(', ')})`);
    if (!isObj(m)) throw new StateFileError(file, `namespace "${ns}" must be an object`);
  }
  if (!Array.isArray(raw.audit) || !raw.audit.every(isObj)) throw new StateFileError(file, '"audit" must be an array of objects');
  return raw as unknown as StateFile;
}
