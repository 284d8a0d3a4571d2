// Judges region health from the fleet's verdicts, for the coordinator's snapshots and /v1/health.
// Keeps the previous view because a check with no fresh verdict holds its last state, and keeps the
// verdicts it has seen for a while: stores drop a verdict once it is no longer fresh (3 × interval),
// so without them a stopped prober would vanish from /v1/health instead of showing as stale.

import { recordEndpointMetrics, recordHealthMetrics, healthReport, type HealthReport } from './report.js';
import type { CheckId } from './check-config.js';
import { checksByRegion, evaluateHealth, type HealthView, type Quorum } from './quorum.js';
import type { Prober } from './prober.js';
import type { FleetStore, Verdict } from '../state/fleet-store.js';
import type { RegionHealth, Snapshot } from '../state/snapshot.js';
import type { RegionId } from '../steering/policy.js';

/** A stale verdict is still shown (never counted) until it is this many of its intervals old. */
export const SHOWN_STALE_INTERVALS = 20;

/** Above this many (region, endpoint) pairs, per-endpoint metric series are not exported. */
export const DEFAULT_ENDPOINT_METRICS_LIMIT = 1000;

export class HealthTracker {
  private previous: HealthView | null = null;
  private lastSnapshot: Snapshot | null = null;
  private lastNow = -1;
  /** check id + prober → the newest verdict seen. */
  private readonly seen = new Map<string, Verdict>();

  constructor(
    private readonly store: Pick<FleetStore, 'verdicts'>,
    private readonly opts: { quorum?: Quorum; prober?: Prober | null; proberId?: string; endpointMetricsLimit?: number } = {},
  ) {}

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
    for (const id of snap.steering.endpointChecks?.keys() ?? []) {
      const h = view.checks.get(id);
      if (h && !h.up) out.set(id, { up: false, reason: `${h.cause}${h.stale ? ', stale: no fresh verdict' : ''}` });
    }
    return out;
  };

  /** One evaluation per (snapshot, instant): the region and endpoint sources share it. */
  private evaluate(snap: Snapshot, now: number): HealthView {
    if (this.previous && this.lastSnapshot === snap && this.lastNow === now) return this.previous;
    this.lastSnapshot = snap;
    this.lastNow = now;
    const view = evaluateHealth({
      checks: checksByRegion(snap.steering.regions),
      endpointChecks: snap.steering.endpointChecks?.values(),
      verdicts: this.verdicts(now),
      now,
      previous: this.previous,
      quorum: this.opts.quorum,
    });
    this.previous = view;
    recordHealthMetrics(view);
    recordEndpointMetrics(view, snap.steering, this.opts.endpointMetricsLimit ?? DEFAULT_ENDPOINT_METRICS_LIMIT);
    return view;
  }

  /** The store's verdicts plus those it has let go of lately (freshness is judged from `at` as ever, so those only show). */
  private verdicts(now: number): Verdict[] {
    for (const v of this.store.verdicts()) {
      const k = `${v.checkId}\n${v.prober}`;
      const had = this.seen.get(k);
      if (!had || v.at >= had.at) this.seen.set(k, v);
    }
    for (const [k, v] of this.seen) if (now - v.at > SHOWN_STALE_INTERVALS * v.intervalMs) this.seen.delete(k);
    return [...this.seen.values()];
  }

  /** GET /v1/health */
  report(): HealthReport | null {
    if (!this.previous || !this.lastSnapshot) return null;
    const prober = this.opts.prober;
    return healthReport({
      view: this.previous,
      checks: checksByRegion(this.lastSnapshot.steering.regions),
      steering: this.lastSnapshot.steering,
      local: prober ? { proberId: this.opts.proberId ?? 'local', states: prober.localStates() } : null,
    });
  }
}
