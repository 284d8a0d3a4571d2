// The coordinator turns the world (zones and policies from files, health verdicts and operator
// overrides from the fleet store) into Snapshots, and swaps them in. It is the only writer of the
// snapshot reference; the query path only reads it.

import type { Logger } from '../obs/logger.js';
import { snapshotVersion } from '../obs/metrics.js';
import type { HostnamePolicy, RegionId, SteeringConfig } from '../steering/policy.js';
import type { CheckId } from '../health/check-config.js';
import type { Drain, EndpointDrain, FleetStore, WeightOverride } from './fleet-store.js';
import { buildSnapshot, withState, type RegionHealth, type Snapshot, type SnapshotInputs } from './snapshot.js';

/** What the health subsystem says about each region right now (after quorum), given the config in force. */
export type HealthSource = (snap: Snapshot, now: number) => ReadonlyMap<RegionId, RegionHealth>;

/** Endpoint checks that are down (after quorum); asked right after `health`, with the same arguments. */
export type EndpointHealthSource = (snap: Snapshot, now: number) => ReadonlyMap<CheckId, RegionHealth>;

/**
 * Verdicts arrive once per probe (thousands a second with endpoint checks), and judging health costs
 * time in proportion to the checks: health is re-judged at most every VERDICT_COALESCE_MS, or every
 * COALESCE_MS_PER_CHECK × checks when that is longer (10,000 checks: 200 ms, which bounds the time spent
 * judging to a few percent of a core; the answer moves at most that much later).
 */
export const VERDICT_COALESCE_MS = 50;
export const COALESCE_MS_PER_CHECK = 0.02;

function coalesceMs(checks: number): number {
  return Math.max(VERDICT_COALESCE_MS, Math.ceil(checks * COALESCE_MS_PER_CHECK));
}

export interface CoordinatorOptions {
  store: FleetStore;
  log: Logger;
  now?: () => number;
  health?: HealthSource;
  endpointHealth?: EndpointHealthSource;
  /** How many checks `health` judges (region and endpoint checks): re-judging is spaced by it. */
  checkCount?: () => number;
  /** How often health is re-judged without an event (verdicts go stale with time). */
  tickMs?: number;
}

type BaseInputs = Omit<SnapshotInputs, 'version' | 'regionHealth' | 'drains' | 'weightOverrides' | 'tenantOverrides' | 'endpointHealth' | 'endpointDrains'>;

export class Coordinator {
  private current: Snapshot;
  private version = 1;
  private healthKey = '';
  private readonly listeners = new Set<(s: Snapshot) => void>();
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private verdictTimer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(base: BaseInputs, private readonly opts: CoordinatorOptions) {
    this.now = opts.now ?? Date.now;
    const state = this.fleetState(base.steering);
    this.current = buildSnapshot({ ...base, version: this.version, ...state, regionHealth: new Map() });
    if (this.opts.health) {
      const health = this.judge(this.current);
      this.healthKey = health.key;
      this.current = withState(this.current, { version: this.version, regionHealth: health.regions, endpointHealth: health.endpoints });
    }
    snapshotVersion.set(this.version);
  }

  snapshot(): Snapshot {
    return this.current;
  }

  /** Subscribes to snapshot swaps (worker fan-out, tests). */
  onSwap(fn: (s: Snapshot) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  start(): void {
    this.unsubscribe = this.opts.store.onEvent((e) => {
      if (e.kind === 'status') return;
      if (e.kind !== 'verdicts') {
        this.refresh('overrides');
        return;
      }
      // One re-judgement per burst of verdicts, not one per probe.
      this.verdictTimer ??= setTimeout(() => {
        this.verdictTimer = null;
        this.refresh('health');
      }, coalesceMs(this.opts.checkCount?.() ?? 0));
    });
    this.timer = setInterval(() => this.refresh('tick'), this.opts.tickMs ?? 500);
    this.timer.unref();
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    if (this.verdictTimer) clearTimeout(this.verdictTimer);
    this.verdictTimer = null;
  }

  /** Region and endpoint health now, with a key that changes when either does. */
  private judge(snap: Snapshot): { regions: ReadonlyMap<RegionId, RegionHealth>; endpoints: ReadonlyMap<CheckId, RegionHealth>; key: string } {
    const now = this.now();
    const regions = this.opts.health?.(snap, now) ?? snap.regionHealth;
    const endpoints = this.opts.endpointHealth?.(snap, now) ?? snap.endpointHealth;
    return { regions, endpoints, key: `${healthKey(regions)}|${healthKey(endpoints)}` };
  }

  /** A zone/policy reload: rebuild everything, keep the runtime state (overrides survive reloads). */
  replaceConfig(base: BaseInputs): Snapshot {
    const state = this.fleetState(base.steering);
    const next = buildSnapshot({ ...base, version: this.version + 1, ...state, regionHealth: this.current.regionHealth, endpointHealth: this.current.endpointHealth });
    const health = this.judge(next);
    this.healthKey = health.key;
    return this.swap(withState(next, { version: next.version, regionHealth: health.regions, endpointHealth: health.endpoints }));
  }

  /** Re-reads overrides and health; swaps only when something changed (a tick changes nothing usually). */
  refresh(why: 'health' | 'overrides' | 'tick' = 'overrides'): Snapshot {
    const health = this.judge(this.current);
    const healthChanged = health.key !== this.healthKey;
    if (why === 'tick' && !healthChanged) return this.current;
    if (why === 'health' && !healthChanged) return this.current;
    this.healthKey = health.key;
    const state = why === 'overrides' ? this.fleetState(this.current.steering) : {};
    const endpointHealth = healthChanged ? health.endpoints : this.current.endpointHealth;
    return this.swap(withState(this.current, { version: this.version + 1, regionHealth: health.regions, endpointHealth, ...state }));
  }

  private swap(next: Snapshot): Snapshot {
    this.version = next.version;
    this.current = next; // the one assignment the query path sees
    snapshotVersion.set(next.version);
    for (const fn of this.listeners) {
      try { fn(next); } catch (err) { this.opts.log.error({ err }, 'snapshot listener failed'); }
    }
    return next;
  }

  private fleetState(steering: SteeringConfig): {
    drains: Map<RegionId, Drain>; weightOverrides: Map<string, number[]>; tenantOverrides: ReadonlyMap<string, unknown>;
    endpointDrains: ReadonlyMap<string, EndpointDrain>;
  } {
    const drains = new Map<RegionId, Drain>();
    for (const [region, value] of this.opts.store.get('drain')) drains.set(region, value);
    // The store's map as is while it is the same object: an unchanged one then does not re-fold endpoints.
    const endpointDrains: ReadonlyMap<string, EndpointDrain> = this.opts.store.get('endpoint');
    const weightOverrides = new Map<string, number[]>();
    for (const [fqdn, value] of this.opts.store.get('weights')) {
      const policy = steering.hostnames.get(fqdn);
      if (policy) weightOverrides.set(fqdn, alignWeights(policy, value));
    }
    // The store's own immutable map: a million tenants are not copied per change.
    return { drains, weightOverrides, tenantOverrides: this.opts.store.get('tenant'), endpointDrains };
  }
}

/** Override weights by set name → an array aligned with the policy's sets; unnamed sets keep their file weight. */
export function alignWeights(policy: HostnamePolicy, o: WeightOverride): number[] {
  return policy.sets.map((s) => (Object.hasOwn(o.weights, s.name) ? o.weights[s.name] : s.weight));
}

function healthKey(h: ReadonlyMap<string, RegionHealth>): string {
  let k = '';
  for (const [r, v] of [...h.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) k += `${r}=${v.up ? 1 : 0}:${v.reason};`;
  return k;
}
