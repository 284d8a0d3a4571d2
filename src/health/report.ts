// Health as operators see it: the JSON of `GET /v1/health` (every region and check, the fleet's
// verdict with each prober's vote, and this instance's recent probe results) and the fleet-view
// gauges. Built from values; serving it is the ops API's job.

import { checkStale, regionOperational } from '../obs/metrics.js';
import type { RegionId } from '../steering/policy.js';
import { checkTarget, type CheckConfig, type CheckId } from './check-config.js';
import type { LocalCheckStatus } from './prober.js';
import type { HealthView, VoterView } from './quorum.js';

export interface HealthReport {
  at: string;
  /** This instance's prober id; null when it does not probe. */
  prober: string | null;
  /** Every region, in config order. */
  regions: Record<RegionId, RegionReport>;
}

export interface RegionReport {
  operational: boolean;
  reason: string;
  stale: boolean;
  /** By check name ("http#0" or the check's `name`), in config order. */
  checks: Record<string, CheckReport>;
}

export interface CheckReport {
  id: CheckId;
  type: CheckConfig['type'];
  /** What is probed ("GET https://lb.eu.example.net/healthz", "tcp 10.1.0.10:443"); never headers. */
  target: string;
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  /** The fleet's verdict. */
  up: boolean;
  stale: boolean;
  cause: string;
  voters: VoterView[];
  /** This instance's own view; null when it does not probe this check. */
  local: LocalReport | null;
}

export interface LocalReport {
  up: boolean;
  since: string;
  consecutiveOk: number;
  consecutiveFail: number;
  lastCause: string;
  transitions: number;
  skipped: number;
  /** Newest first. */
  recent: { at: string; ok: boolean; cause: string; durationMs: number }[];
}

export interface ReportInput {
  view: HealthView;
  checks: ReadonlyMap<RegionId, readonly CheckConfig[]>;
  /** This instance's prober, when it runs one. */
  local: { proberId: string; states: ReadonlyMap<CheckId, LocalCheckStatus> } | null;
}

export function healthReport({ view, checks, local }: ReportInput): HealthReport {
  const regions: Record<RegionId, RegionReport> = {};
  for (const [region, list] of checks) {
    const rh = view.regions.get(region);
    const out: RegionReport = { operational: rh?.up ?? true, reason: rh?.reason ?? 'up', stale: rh?.stale ?? false, checks: {} };
    for (const c of list) {
      const ch = view.checks.get(c.id);
      const mine = local?.states.get(c.id);
      out.checks[c.name] = {
        id: c.id, type: c.type, target: checkTarget(c),
        intervalMs: c.intervalMs, timeoutMs: c.timeoutMs, rise: c.rise, fall: c.fall,
        up: ch?.up ?? c.initialState !== 'down', stale: ch?.stale ?? true, cause: ch?.cause ?? 'not evaluated yet',
        voters: ch?.voters ?? [],
        local: mine ? localReport(mine) : null,
      };
    }
    regions[region] = out;
  }
  return { at: iso(view.at), prober: local?.proberId ?? null, regions };
}

function localReport(s: LocalCheckStatus): LocalReport {
  return {
    up: s.state.up, since: iso(s.state.since), consecutiveOk: s.state.consecutiveOk, consecutiveFail: s.state.consecutiveFail,
    lastCause: s.state.lastCause, transitions: s.state.transitions, skipped: s.skipped,
    recent: s.recent.map((r) => ({ at: iso(r.at), ok: r.ok, cause: r.cause, durationMs: r.durationMs })).reverse(),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Sets the fleet-view gauges from a view; series of regions and checks no longer configured go away. */
export function recordHealthMetrics(view: HealthView): void {
  regionOperational.reset();
  checkStale.reset();
  for (const [region, r] of view.regions) regionOperational.set({ region }, r.up ? 1 : 0);
  for (const c of view.checks.values()) checkStale.set({ region: c.region, check: c.name }, c.stale ? 1 : 0);
}
