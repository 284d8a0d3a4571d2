// Per-endpoint health folded into a snapshot: for each hostname whose pools have endpoint checks (or
// an endpoint drained), per region, the records of the endpoints that are answered now and whether
// the region has `min-healthy` of them per family. Computed once per snapshot, so a query only picks
// a precomputed list; nothing here runs per query.
// Precedence, as for regions: an operator's drain beats health (a drained endpoint is out even when
// its checks pass).

import type { WireRR } from '../dns/types.js';
import type { CheckId } from '../health/check-config.js';
import type { PoolChecks } from '../health/plan.js';
import type { Endpoint, HostnamePolicy, RegionId, SteeringOutcome } from '../steering/policy.js';
import type { EndpointDrain } from './fleet-store.js';

export interface OperationalVerdict {
  up: boolean;
  reason: string;
}

/** A region's records at the policy TTL, and at half of it (fail-open answers). */
export interface RegionRecords {
  a: WireRR[];
  aaaa: WireRR[];
  aHalf: WireRR[];
  aaaaHalf: WireRR[];
}

/** One endpoint as explain shows it. */
export interface EndpointState {
  address: string;
  family: 4 | 6;
  /** Answered: checks up (or none) and not drained. */
  up: boolean;
  drained: boolean;
  /** "up (no checks)", "up", "check tcp 10.1.0.2:443 [..]: connection refused (2 of 2 probers)", "drained by alice: …" */
  reason: string;
}

export interface RegionEndpoints {
  /** Every endpoint in the order written. */
  states: EndpointState[];
  /** min-healthy per family; null when the pool has no endpoint of the family (an AAAA query then gets NODATA, as without checks). */
  v4: OperationalVerdict | null;
  v6: OperationalVerdict | null;
}

export const UP: OperationalVerdict = Object.freeze({ up: true, reason: 'up' });

/** Whether drain `d` takes `address` out of `fqdn`'s pools. */
export function drainApplies(d: EndpointDrain | undefined, fqdn: string): d is EndpointDrain {
  return d !== undefined && (d.hostnames === null || d.hostnames.includes(fqdn));
}

/** One hostname's part of the plan's PoolChecks: region → address → check ids; absent: no endpoint has checks. */
export type HostnameChecks = PoolChecks extends ReadonlyMap<string, infer V> ? V : never;

const NO_CHECKS: readonly CheckId[] = [];

/** Whether a hostname needs folding at all: some endpoint has checks, or is drained for it. */
export function needsFold(policy: HostnamePolicy, checks: HostnameChecks | undefined, drains: ReadonlyMap<string, EndpointDrain>): boolean {
  if (checks) return true;
  if (drains.size === 0) return false;
  for (const pool of policy.pools.values()) for (const t of pool.v4Text.concat(pool.v6Text)) if (drainApplies(drains.get(t), policy.fqdn)) return true;
  return false;
}

/**
 * State of one endpoint of `fqdn`'s pools, decided by `checks` (its check ids). `downChecks` holds the
 * endpoint checks that are down (absent: up).
 */
export function endpointState(
  fqdn: string, e: Pick<Endpoint, 'text' | 'family'>, checks: readonly CheckId[], downChecks: ReadonlyMap<CheckId, OperationalVerdict>,
  drains: ReadonlyMap<string, EndpointDrain>,
): EndpointState {
  const d = drains.get(e.text);
  if (drainApplies(d, fqdn)) return { address: e.text, family: e.family, up: false, drained: true, reason: `drained by ${d.by}: ${d.reason}` };
  const down: string[] = [];
  for (const id of checks) {
    const h = downChecks.get(id);
    if (h && !h.up) down.push(`check ${id}: ${h.reason}`);
  }
  if (down.length > 0) return { address: e.text, family: e.family, up: false, drained: false, reason: `down: ${down.join('; ')}` };
  return { address: e.text, family: e.family, up: true, drained: false, reason: checks.length === 0 ? 'up (no checks)' : 'up' };
}

/**
 * Folds one hostname: per region its endpoint states, min-healthy per family, and the records of
 * the endpoints answered (taken from `all`, which holds every endpoint's records in pool order).
 */
export function foldHostname(
  policy: HostnamePolicy,
  all: ReadonlyMap<RegionId, RegionRecords>,
  checks: HostnameChecks | undefined,
  downChecks: ReadonlyMap<CheckId, OperationalVerdict>,
  drains: ReadonlyMap<string, EndpointDrain>,
): { records: Map<RegionId, RegionRecords>; endpoints: Map<RegionId, RegionEndpoints> } {
  const records = new Map<RegionId, RegionRecords>();
  const endpoints = new Map<RegionId, RegionEndpoints>();
  const minHealthy = policy.minHealthy ?? 1;
  for (const [region, pool] of policy.pools) {
    const full = all.get(region);
    if (!full) continue;
    const list: readonly Pick<Endpoint, 'text' | 'family'>[] = pool.list
      ?? [...pool.v4Text.map((text) => ({ text, family: 4 as const })), ...pool.v6Text.map((text) => ({ text, family: 6 as const }))];
    const byAddress = checks?.get(region);
    const states: EndpointState[] = [];
    const live: RegionRecords = { a: [], aaaa: [], aHalf: [], aaaaHalf: [] };
    let i4 = 0;
    let i6 = 0;
    for (const e of list) {
      const s = endpointState(policy.fqdn, e, byAddress?.get(e.text) ?? NO_CHECKS, downChecks, drains);
      states.push(s);
      if (e.family === 4) {
        if (s.up) { live.a.push(full.a[i4]); live.aHalf.push(full.aHalf[i4]); }
        i4++;
      } else {
        if (s.up) { live.aaaa.push(full.aaaa[i6]); live.aaaaHalf.push(full.aaaaHalf[i6]); }
        i6++;
      }
    }
    records.set(region, live);
    endpoints.set(region, {
      states,
      v4: familyVerdict(live.a.length, i4, minHealthy, 'IPv4'),
      v6: familyVerdict(live.aaaa.length, i6, minHealthy, 'IPv6'),
    });
  }
  return { records, endpoints };
}

const NONE: readonly WireRR[] = Object.freeze([]);

/**
 * A region's records for an outcome: its healthy endpoints normally; every endpoint when failing open
 * (as if up, TTL halved); for a fallback region, its healthy endpoints or, when none is, all of them
 * (the fallback is served whatever its health).
 */
export function regionRecords(
  s: { records: ReadonlyMap<RegionId, RegionRecords>; all: ReadonlyMap<RegionId, RegionRecords> }, region: RegionId, outcome: SteeringOutcome, v6: boolean,
): readonly WireRR[] {
  if (outcome === 'fail-open') return familyRecords(s.all.get(region), v6, true);
  const live = familyRecords(s.records.get(region), v6, false);
  return live.length === 0 && outcome === 'fallback-region' ? familyRecords(s.all.get(region), v6, false) : live;
}

function familyRecords(r: RegionRecords | undefined, v6: boolean, halved: boolean): readonly WireRR[] {
  if (r === undefined) return NONE;
  return v6 ? (halved ? r.aaaaHalf : r.aaaa) : halved ? r.aHalf : r.a;
}

/** A pool with fewer endpoints of the family than min-healthy needs all of them (else it could never answer). */
function familyVerdict(healthy: number, configured: number, minHealthy: number, family: string): OperationalVerdict | null {
  if (configured === 0) return null;
  const need = Math.min(minHealthy, configured);
  if (healthy >= need) return healthy === configured ? UP : { up: true, reason: `up: ${healthy} of ${configured} ${family} endpoints healthy` };
  return { up: false, reason: `${healthy} of ${configured} ${family} endpoints healthy, ${need === minHealthy ? `min-healthy ${minHealthy}` : `needs all ${need} (min-healthy ${minHealthy})`}` };
}
