// Judges region health from the fleet's verdicts, for the coordinator's snapshots and /v1/health.
// Keeps the previous view because a check with no fresh verdict holds its last state.

import { recordHealthMetrics, healthReport, type HealthReport } from './report.js';
import { checksByRegion, evaluateHealth, type HealthView, type Quorum } from './quorum.js';
import type { Prober } from './prober.js';
import type { FleetStore } from '../state/fleet-store.js';
import type { RegionHealth, Snapshot } from '../state/snapshot.js';
import type { RegionId } from '../steering/policy.js';

export class HealthTracker {
  private previous: HealthView | null = null;
  private lastSnapshot: Snapshot | null = null;

  constructor(
    private readonly store: Pick<FleetStore, 'verdicts'>,
    private readonly opts: { quorum?: Quorum; prober?: Prober | null; proberId?: string } = {},
  ) {}

  /** The coordinator's HealthSource: region → operational, per the probes' quorum. */
  readonly source = (snap: Snapshot, now: number): ReadonlyMap<RegionId, RegionHealth> => {
    this.lastSnapshot = snap;
    const view = evaluateHealth({
      checks: checksByRegion(snap.steering.regions),
      verdicts: this.store.verdicts(),
      now,
      previous: this.previous,
      quorum: this.opts.quorum,
    });
    this.previous = view;
    recordHealthMetrics(view);
    const out = new Map<RegionId, RegionHealth>();
    for (const [region, h] of view.regions) if (!h.up) out.set(region, { up: false, reason: h.reason });
    return out;
  };

  /** GET /v1/health */
  report(): HealthReport | null {
    if (!this.previous || !this.lastSnapshot) return null;
    const prober = this.opts.prober;
    return healthReport({
      view: this.previous,
      checks: checksByRegion(this.lastSnapshot.steering.regions),
      local: prober ? { proberId: this.opts.proberId ?? 'local', states: prober.localStates() } : null,
    });
  }
}
