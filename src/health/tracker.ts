// Judges region health from the fleet's verdicts, for the coordinator's snapshots and /v1/health.
// Keeps the previous view because a check with no fresh verdict holds its last state, and keeps the
// verdicts it has seen for a while: stores drop a verdict once it is no longer fresh (3 × interval),
// so without them a stopped prober would vanish from /v1/health instead of showing as stale.

import { recordEndpointMetrics, recordHealthMetrics, healthReport, type HealthReport } from './report.js';
import type { CheckId } from './check-config.js';
import { evaluateHealth, FRESH_INTERVALS, type HealthView, type Quorum } from './quorum.js';
import type { Prober } from './prober.js';
import type { FleetStore } from '../state/fleet-store.js';
import type { Verdict } from './verdict.js';
import type { RegionHealth, Snapshot } from '../state/snapshot.js';
import type { RegionId } from '../core/region-id.js';
import { checkCount, type HealthPlan } from './plan.js';

/** A stale verdict is still shown (never counted) until it is this many of its intervals old. */
export const SHOWN_STALE_INTERVALS = 20;

/** Above this many (region, endpoint) pairs, per-endpoint metric series are not exported. */
export const DEFAULT_ENDPOINT_METRICS_LIMIT = 1000;

export class HealthTracker {
  private previous: HealthView | null = null;
  private lastSnapshot: Snapshot | null = null;
  private lastNow = -1;
  /** check id → prober → the newest verdict seen. */
  private readonly seen = new Map<CheckId, Map<string, Verdict>>();
  /** The plan the last view was judged for. */
  private judged: HealthPlan | null = null;
  /** When the first fresh verdict seen goes stale. */
  private staleAt = Infinity;

  constructor(
    /** The checks in force: replaced by `setPlan` on a reload, before the new config's snapshot is built. */
    private plan: HealthPlan,
    private readonly store: Pick<FleetStore, 'verdicts'>,
    private readonly opts: { quorum?: Quorum; prober?: Prober | null; proberId?: string; endpointMetricsLimit?: number; now?: () => number } = {},
  ) {}

  setPlan(plan: HealthPlan): void {
    this.plan = plan;
  }

  /** Region and endpoint checks in force (the coordinator spaces its re-judgements by it). */
  checkCount(): number {
    return checkCount(this.plan);
  }

  /** The coordinator's HealthSource: region → operational, per the probes' quorum. */
  readonly source = (snap: Snapshot, now: number): ReadonlyMap<RegionId, RegionHealth> => {
    const view = this.evaluate(snap, now);
    const out = new Map<RegionId, RegionHealth>();
    for (const [region, h] of view.regions) if (!h.up) out.set(region, { up: false, reason: h.reason });
    return out;
  };

  /** The coordinator's EndpointHealthSource: endpoint checks that are down (the same view as `source`'s). */
  readonly endpointSource = (snap: Snapshot, now: number): ReadonlyMap<CheckId, RegionHealth> => {
    const view = this.evaluate(snap, now);
    const out = new Map<CheckId, RegionHealth>();
    for (const id of this.plan.endpointChecks.keys()) {
      const h = view.checks.get(id);
      if (h && !h.up) out.set(id, { up: false, reason: `${h.cause}${h.stale ? ', stale: no fresh verdict' : ''}` });
    }
    return out;
  };

  /**
   * One evaluation per (snapshot, instant): the region and endpoint sources share it. Judging every
   * check costs time in proportion to the checks, and verdicts arrive once per probe, so the last
   * view is kept as long as nothing it was judged from has changed: no verdict changed its vote or
   * cause, none went stale (or fresh again), and the config is the same.
   */
  private evaluate(snap: Snapshot, now: number): HealthView {
    if (this.previous && this.lastSnapshot === snap && this.lastNow === now && this.judged === this.plan) return this.previous;
    this.lastSnapshot = snap;
    this.lastNow = now;
    const changed = this.merge(now);
    if (this.previous && !changed && this.judged === this.plan) return this.previous;
    this.judged = this.plan;
    const view = this.judge(now);
    this.previous = view;
    recordHealthMetrics(view);
    recordEndpointMetrics(view, this.plan, this.opts.endpointMetricsLimit ?? DEFAULT_ENDPOINT_METRICS_LIMIT);
    return view;
  }

  private judge(now: number): HealthView {
    const verdicts: Verdict[] = [];
    for (const byProber of this.seen.values()) for (const v of byProber.values()) verdicts.push(v);
    return evaluateHealth({
      checks: this.plan.regions,
      endpointChecks: this.plan.endpointChecks.values(),
      verdicts,
      now,
      previous: this.previous,
      quorum: this.opts.quorum,
    });
  }

  /**
   * Merges the store's verdicts into those seen (which also keeps, for a while, those the store has let
   * go of: freshness is judged from `at` as ever, so those only show). True when a verdict judged
   * differently could come out: a new one, a changed vote or cause, one gone stale or fresh again.
   */
  private merge(now: number): boolean {
    const fresh = (v: Verdict) => now - v.at <= FRESH_INTERVALS * v.intervalMs;
    let changed = now > this.staleAt;
    for (const v of this.store.verdicts()) {
      let byProber = this.seen.get(v.checkId);
      if (!byProber) this.seen.set(v.checkId, (byProber = new Map()));
      const had = byProber.get(v.prober);
      if (had && v.at < had.at) continue;
      if (!had || had.up !== v.up || had.cause !== v.cause || had.intervalMs !== v.intervalMs || !fresh(had)) changed = true;
      byProber.set(v.prober, v);
    }
    let staleAt = Infinity;
    for (const [id, byProber] of this.seen) {
      for (const [prober, v] of byProber) {
        if (now - v.at > SHOWN_STALE_INTERVALS * v.intervalMs) {
          byProber.delete(prober);
          changed = true;
        } else if (fresh(v)) {
          staleAt = Math.min(staleAt, v.at + FRESH_INTERVALS * v.intervalMs);
        }
      }
      if (byProber.size === 0) this.seen.delete(id);
    }
    this.staleAt = staleAt;
    return changed;
  }

  /** GET /v1/health, judged now (the kept view's ages would be those of its last change). */
  report(): HealthReport | null {
    if (!this.previous || !this.lastSnapshot) return null;
    const prober = this.opts.prober;
    return healthReport({
      view: this.judge((this.opts.now ?? Date.now)()),
      checks: this.plan.regions,
      endpoints: this.plan,
      local: prober ? { proberId: this.opts.proberId ?? 'local', states: prober.localStates() } : null,
    });
  }
}
