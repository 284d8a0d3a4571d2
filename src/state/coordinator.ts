// The coordinator turns the world (zones and policies from files, health verdicts and operator
// overrides from the fleet store) into Snapshots, and swaps them in. It is the only writer of the
// snapshot reference; the query path only reads it.

import type { Logger } from '../obs/logger.js';
import { snapshotVersion } from '../obs/metrics.js';
import type { HostnamePolicy, RegionId, SteeringConfig } from '../steering/policy.js';
import type { Drain, FleetStore, WeightOverride } from './fleet-store.js';
import { buildSnapshot, withState, type RegionHealth, type Snapshot, type SnapshotInputs } from './snapshot.js';

/** What the health subsystem says about each region right now (after quorum), given the config in force. */
export type HealthSource = (snap: Snapshot, now: number) => ReadonlyMap<RegionId, RegionHealth>;

export interface CoordinatorOptions {
  store: FleetStore;
  log: Logger;
  now?: () => number;
  health?: HealthSource;
  /** How often health is re-judged without an event (verdicts go stale with time). */
  tickMs?: number;
}

type BaseInputs = Omit<SnapshotInputs, 'version' | 'regionHealth' | 'drains' | 'weightOverrides' | 'tenantOverrides'>;

export class Coordinator {
  private current: Snapshot;
  private version = 1;
  private healthKey = '';
  private readonly listeners = new Set<(s: Snapshot) => void>();
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(base: BaseInputs, private readonly opts: CoordinatorOptions) {
    this.now = opts.now ?? Date.now;
    const state = this.fleetState(base.steering);
    this.current = buildSnapshot({ ...base, version: this.version, ...state, regionHealth: new Map() });
    const health = this.opts.health?.(this.current, this.now());
    if (health) {
      this.healthKey = healthKey(health);
      this.current = withState(this.current, { version: this.version, regionHealth: health });
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
      this.refresh(e.kind === 'verdicts' ? 'health' : 'overrides');
    });
    this.timer = setInterval(() => this.refresh('tick'), this.opts.tickMs ?? 500);
    this.timer.unref();
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
  }

  /** A zone/policy reload: rebuild everything, keep the runtime state (overrides survive reloads). */
  replaceConfig(base: BaseInputs): Snapshot {
    const state = this.fleetState(base.steering);
    const next = buildSnapshot({ ...base, version: this.version + 1, ...state, regionHealth: this.current.regionHealth });
    const health = this.opts.health?.(next, this.now()) ?? next.regionHealth;
    this.healthKey = healthKey(health);
    return this.swap(withState(next, { version: next.version, regionHealth: health }));
  }

  /** Re-reads overrides and health; swaps only when something changed (a tick changes nothing usually). */
  refresh(why: 'health' | 'overrides' | 'tick' = 'overrides'): Snapshot {
    const health = this.opts.health?.(this.current, this.now()) ?? this.current.regionHealth;
    const hk = healthKey(health);
    const healthChanged = hk !== this.healthKey;
    if (why === 'tick' && !healthChanged) return this.current;
    if (why === 'health' && !healthChanged) return this.current;
    this.healthKey = hk;
    const state = why === 'overrides' ? this.fleetState(this.current.steering) : {};
    return this.swap(withState(this.current, { version: this.version + 1, regionHealth: health, ...state }));
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
  } {
    const drains = new Map<RegionId, Drain>();
    for (const [region, value] of this.opts.store.get('drain')) drains.set(region, value);
    const weightOverrides = new Map<string, number[]>();
    for (const [fqdn, value] of this.opts.store.get('weights')) {
      const policy = steering.hostnames.get(fqdn);
      if (policy) weightOverrides.set(fqdn, alignWeights(policy, value));
    }
    // The store's own immutable map: a million tenants are not copied per change.
    return { drains, weightOverrides, tenantOverrides: this.opts.store.get('tenant') };
  }
}

/** Override weights by set name → an array aligned with the policy's sets; unnamed sets keep their file weight. */
export function alignWeights(policy: HostnamePolicy, o: WeightOverride): number[] {
  return policy.sets.map((s) => (Object.hasOwn(o.weights, s.name) ? o.weights[s.name] : s.weight));
}

function healthKey(h: ReadonlyMap<RegionId, RegionHealth>): string {
  let k = '';
  for (const [r, v] of [...h.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) k += `${r}=${v.up ? 1 : 0}:${v.reason};`;
  return k;
}
