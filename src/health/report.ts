// Health as operators see it: the JSON of `GET /v1/health` (every region and check, the fleet's
// verdict with each prober's vote, and this instance's recent probe results) and the fleet-view
// gauges. Built from values; serving it is the ops API's job.

import { checkStale, endpointsByState, endpointTransitions, endpointUp, regionOperational } from '../obs/metrics.js';
import type { RegionId } from '../core/region-id.js';
import { checkTarget, type CheckConfig, type CheckId } from './check-config.js';
import { poolEndpoints } from './endpoint-checks.js';
import type { HealthPlan } from './plan.js';
import type { LocalCheckStatus } from './prober.js';
import type { HealthView, VoterView } from './quorum.js';

export interface HealthReport {
  at: string;
  /** This instance's prober id; null when it does not probe. */
  prober: string | null;
  /** Every region, in config order. */
  regions: Record<RegionId, RegionReport>;
  /** Checks of pool endpoints, by check id (each probed once however many pools name it). */
  endpointChecks: Record<CheckId, EndpointCheckReport>;
}

export interface EndpointCheckReport extends CheckReport {
  /** "<region> <address>" of every pool endpoint that uses the check. */
  endpoints: string[];
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
  /** The pools' endpoint checks; absent: none listed. */
  endpoints?: Pick<HealthPlan, 'pools' | 'endpointChecks'>;
  /** This instance's prober, when it runs one. */
  local: { proberId: string; states: ReadonlyMap<CheckId, LocalCheckStatus> } | null;
}

export function healthReport({ view, checks, endpoints, local }: ReportInput): HealthReport {
  const regions: Record<RegionId, RegionReport> = {};
  const checkReport = (c: CheckConfig): CheckReport => {
    const ch = view.checks.get(c.id);
    const mine = local?.states.get(c.id);
    return {
      id: c.id, type: c.type, target: checkTarget(c),
      intervalMs: c.intervalMs, timeoutMs: c.timeoutMs, rise: c.rise, fall: c.fall,
      up: ch?.up ?? c.initialState !== 'down', stale: ch?.stale ?? true, cause: ch?.cause ?? 'not evaluated yet',
      voters: ch?.voters ?? [],
      local: mine ? localReport(mine) : null,
    };
  };
  for (const [region, list] of checks) {
    const rh = view.regions.get(region);
    const out: RegionReport = { operational: rh?.up ?? true, reason: rh?.reason ?? 'up', stale: rh?.stale ?? false, checks: {} };
    for (const c of list) out.checks[c.name] = checkReport(c);
    regions[region] = out;
  }
  const endpointChecks: Record<CheckId, EndpointCheckReport> = {};
  if (endpoints && endpoints.endpointChecks.size > 0) {
    const users = new Map<CheckId, string[]>();
    for (const e of poolEndpoints(endpoints)) {
      for (const c of e.checks) {
        const list = users.get(c.id) ?? [];
        if (list.length === 0) users.set(c.id, list);
        list.push(`${e.region} ${e.address}`);
      }
    }
    for (const c of endpoints.endpointChecks.values()) endpointChecks[c.id] = { ...checkReport(c), endpoints: users.get(c.id) ?? [] };
  }
  return { at: iso(view.at), prober: local?.proberId ?? null, regions, endpointChecks };
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
  for (const c of view.checks.values()) if (c.region !== '') checkStale.set({ region: c.region, check: c.name }, c.stale ? 1 : 0);
}

/** (region, address) → up, as last recorded: transitions are counted against it. */
let endpointStates = new Map<string, boolean>();

/**
 * Sets the per-endpoint gauges from a view: an endpoint is up when every one of its checks is. With
 * more than `limit` endpoints the per-endpoint series are dropped and transitions count under
 * endpoint="*", so the series stay bounded by the number of regions.
 */
export function recordEndpointMetrics(view: HealthView, plan: Pick<HealthPlan, 'pools' | 'endpointChecks'>, limit: number): void {
  const endpoints = poolEndpoints(plan);
  const perEndpoint = endpoints.length <= limit;
  const counts = new Map<RegionId, { up: number; down: number }>();
  const next = new Map<string, boolean>();
  endpointUp.reset();
  for (const e of endpoints) {
    let up = true;
    for (const c of e.checks) if (!(view.checks.get(c.id)?.up ?? c.initialState !== 'down')) { up = false; break; }
    next.set(e.key, up);
    const was = endpointStates.get(e.key);
    if (was !== undefined && was !== up) endpointTransitions.inc({ region: e.region, endpoint: perEndpoint ? e.address : '*', to: up ? 'up' : 'down' });
    if (perEndpoint) endpointUp.set({ region: e.region, endpoint: e.address }, up ? 1 : 0);
    const c = counts.get(e.region) ?? { up: 0, down: 0 };
    if (up) c.up++; else c.down++;
    counts.set(e.region, c);
  }
  endpointStates = next;
  endpointsByState.reset();
  for (const [region, c] of counts) {
    endpointsByState.set({ region, state: 'up' }, c.up);
    endpointsByState.set({ region, state: 'down' }, c.down);
  }
}
