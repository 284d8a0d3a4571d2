// What the health side probes and judges, as loaded beside the steering policies: the checks of each
// region, the distinct endpoint checks, and which of them decide each pool endpoint. Steering knows
// none of it; the prober, the tracker and /v1/health read it, and a snapshot takes only the ids.

import type { RegionId } from '../core/region-id.js';
import type { CheckConfig, CheckId } from './check-config.js';

/** hostname (canonical fqdn) → region → endpoint address (canonical text) → the ids of its checks. */
export type PoolChecks = ReadonlyMap<string, ReadonlyMap<RegionId, ReadonlyMap<string, readonly CheckId[]>>>;

export interface HealthPlan {
  /** Every region of regions.yaml, in the order written, with its checks; none: always operational. */
  regions: ReadonlyMap<RegionId, readonly CheckConfig[]>;
  /** Every distinct endpoint check of every pool, by id: each is probed once however many pools name it. */
  endpointChecks: ReadonlyMap<CheckId, CheckConfig>;
  /** Only the endpoints that have checks, in the order written. */
  pools: PoolChecks;
}

export function emptyHealthPlan(): HealthPlan {
  return { regions: new Map(), endpointChecks: new Map(), pools: new Map() };
}

/** Region and endpoint checks together: what the prober schedules and judging costs time in proportion to. */
export function checkCount(plan: Pick<HealthPlan, 'regions' | 'endpointChecks'>): number {
  let n = plan.endpointChecks.size;
  for (const list of plan.regions.values()) n += list.length;
  return n;
}
