// Fleet state: what operators and probers change at run time, shared by every instance.
// One interface, two stores: memory (default; overrides kept in a local state file) and Redis.
// The query path never calls a store: a store change triggers a new Snapshot (see coordinator.ts).

import type { RegionId } from '../steering/policy.js';
import type { Verdict } from '../health/verdict.js';

/** Namespaces of operator overrides. Values are JSON. */
export type Namespace = 'drain' | 'weights' | 'ramp' | 'tenant' | 'endpoint';
export const NAMESPACES: readonly Namespace[] = ['drain', 'weights', 'ramp', 'tenant', 'endpoint'];

export interface Drain {
  region: RegionId;
  reason: string;
  /** Only these hostnames (canonical fqdns); null drains the region for every hostname. */
  hostnames: string[] | null;
  by: string;
  at: number;
}

/** An operator's drain of one pool endpoint (namespace 'endpoint', key = the address's canonical text). */
export interface EndpointDrain {
  address: string;
  reason: string;
  /** Only in these hostnames' pools (canonical fqdns); null: in every pool that lists the address. */
  hostnames: string[] | null;
  by: string;
  at: number;
}

export interface WeightOverride {
  fqdn: string;
  /** Set name → weight, naming every set of the hostname's policy. */
  weights: Record<string, number>;
  by: string;
  at: number;
}

export interface Ramp {
  fqdn: string;
  /** The record set whose weight ramps up (the others share the rest in their configured proportions). */
  set: string;
  /** Percentages of traffic for `set`, e.g. [0.1, 1, 5, 25, 100]. */
  steps: number[];
  everyMs: number;
  /** Index into steps of the step in force. */
  step: number;
  /** When the next step is due (ms since epoch). */
  nextAt: number;
  state: 'running' | 'halted' | 'done';
  haltReason: string | null;
  haltOnUnhealthyRegions: boolean;
  by: string;
  startedAt: number;
  /** The weights in force when the ramp started (a runtime split), whose proportions the other sets keep. */
  base?: Record<string, number>;
}

/**
 * A tenant's home region set through the ops API (namespace 'tenant', key = slug). It beats the
 * tenants file; region null hides the file's entry (a DELETE of a tenant the file has).
 */
export interface TenantOverride {
  region: RegionId | null;
  by: string;
  at: number;
}

/** A single write (value null = delete the key). */
export interface Change {
  ns: Namespace;
  key: string;
  value: unknown | null;
}

/**
 * The changes of one write: an array, or (a million-tenant import) changes made on demand, so that
 * no million-element list lives beside the store's new view. Every pass over it yields the same
 * changes in the same order; a store may make several.
 */
export interface ChangeList extends Iterable<Change> {
  readonly length: number;
}

export interface AuditInput {
  /** Name of the token that made the change ("ramp-controller" for automatic steps). */
  actor: string;
  action: string;
  target: string;
  reason: string | null;
  before: unknown;
  after: unknown;
  /** Extra facts (e.g. counts of a bulk import). */
  detail?: Record<string, unknown>;
}

export interface AuditEntry extends AuditInput {
  id: number;
  at: number;
  version: number;
}

/** The value type of each namespace. */
export interface NamespaceValues {
  drain: Drain;
  weights: WeightOverride;
  ramp: Ramp;
  tenant: TenantOverride;
  endpoint: EndpointDrain;
}

export class StoreUnavailableError extends Error {
  readonly code = 'REGIONDNS_ERR_STORE_UNAVAILABLE';
}

/**
 * A conditional write found the store at another version than expected: nothing was written. Before
 * rejecting, the store brings its local view up to at least `current`, so a caller that re-reads the
 * view and re-checks its invariants decides on the state it will commit on (compare-and-set).
 */
export class StoreConflictError extends Error {
  readonly code = 'REGIONDNS_ERR_STORE_CONFLICT';
  constructor(
    readonly expected: number,
    readonly current: number,
  ) {
    super(`the fleet state moved from version ${expected} to ${current} while this change was prepared`);
  }
}

/**
 * The store could not be asked whether a write committed (its reply was lost and the store stayed
 * unreachable): the change may or may not have been applied. Never reported as "nothing changed".
 */
export class StoreOutcomeUnknownError extends Error {
  readonly code = 'REGIONDNS_ERR_STORE_OUTCOME_UNKNOWN';
  constructor(
    readonly writeId: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The store found that Redis lost fleet state (see redis-store.ts, "epochs") and is restoring it:
 * nothing was written; the change can be sent again in a few seconds.
 */
export class StoreResettingError extends Error {
  readonly code = 'REGIONDNS_ERR_STORE_RESETTING';
}

export interface WriteOptions {
  /** Commit only when the store is still at this version (compare-and-set); else StoreConflictError. */
  expectVersion?: number;
}

export interface StoreStatus {
  connected: boolean;
  /** "memory", "redis ok", "redis unreachable since …" */
  detail: string;
}

export type StoreEvent = { kind: 'overrides'; ns: Namespace } | { kind: 'verdicts' } | { kind: 'status' } | { kind: 'resync' };

export interface FleetStore {
  readonly kind: 'memory' | 'redis';
  /** Loads the current state (state file or Redis) and subscribes to changes. */
  start(): Promise<void>;
  close(): Promise<void>;

  /** The local view of a namespace: key → value (parsed: bad entries were skipped). Never does I/O. */
  get<N extends Namespace>(ns: N): ReadonlyMap<string, NamespaceValues[N]>;
  /** Monotonic version of the overrides, bumped by every write anywhere in the fleet. */
  version(): number;
  /**
   * Persists the changes and one audit entry atomically, then publishes them. Resolves with the new
   * version once persisted; the local view is updated before it resolves. Rejects with
   * StoreUnavailableError (and changes nothing) when the write cannot be persisted,
   * StoreConflictError when opts.expectVersion is not the store's version, StoreResettingError while
   * the store restores lost state, and StoreOutcomeUnknownError when it cannot tell whether it committed.
   */
  write(changes: ChangeList, audit: AuditInput, opts?: WriteOptions): Promise<number>;
  /** Newest first. */
  audit(limit: number): Promise<AuditEntry[]>;

  /** Best effort: a prober's verdict, kept for 3 × its interval. */
  publishVerdict(v: Verdict): Promise<void>;
  /** Every verdict known, fresh or stale (the reader judges freshness with its own clock). */
  verdicts(): readonly Verdict[];

  /** Called after the local view changed (own write, pub/sub message, resync) or the connection status changed. */
  onEvent(fn: (e: StoreEvent) => void): () => void;
  status(): StoreStatus;

  /** A named lease (e.g. who advances ramps); true when `holder` has it for the next ttlMs. */
  tryLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
}
