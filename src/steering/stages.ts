// The steering stages (NS1-style filter chain): each is a small pure function over region ids that
// picks, removes, reorders or cuts, and records what it did when handed a trace. With `trace === null`
// (the query path) nothing is recorded and no trace data is built.

import { fmix32 } from '../core/fmix32.js';
import { addressToString } from '../dns/ecs.js';
import { estimateRttMs, greatCircleKm } from '../geo/latency.js';
import type { LatencyTable } from '../geo/latency-table.js';
import type { ClientLocation } from '../geo/types.js';
import type { HostnamePolicy, RecordSet, Region, RegionId, SteeringOutcome } from './policy.js';
import type { Rng } from './rng.js';
import type { Trace, TraceLatency } from './trace.js';

/** Who asked: the ECS subnet when the query had one (RFC 7871), else the resolver's address. */
export interface SteeringClient {
  /** 4 octets for IPv4, 16 for IPv6 (IPv4-mapped IPv6 should be unmapped by the caller). */
  address: Uint8Array;
  sourcePrefix: number;
  fromEcs: boolean;
}

export interface OperationalState {
  up: boolean;
  /** Human-readable, for explain: "3/3 probes pass", "drained by alice: maintenance". */
  reason: string;
}

export type IsOperational = (region: RegionId) => OperationalState;

/** The prefix a sticky split hashes: one /24 (IPv4) or /56 (IPv6) always draws the same record set. */
export const STICKY_PREFIX_V4 = 24;
export const STICKY_PREFIX_V6 = 56;

const TWO_POW_32 = 4294967296;

/**
 * The 32-bit sticky hash of a client's /24 or /56: FNV-1a over the masked address octets, then the
 * murmur3 finalizer so neighbouring subnets spread over the whole range. This is a contract: every
 * server in the fleet, and every release, must map a subnet to the same value, or sticky clients move.
 */
export function stickySubnetHash(address: Uint8Array): number {
  const keep = address.length === 4 ? STICKY_PREFIX_V4 / 8 : STICKY_PREFIX_V6 / 8;
  let h = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) {
    h ^= i < keep ? address[i] : 0;
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** Sum of `weights` when they are usable for `count` sets (same length, finite, ≥ 0, some > 0); else -1. */
function usableTotal(weights: readonly number[], count: number): number {
  if (weights.length !== count) return -1;
  let total = 0;
  for (let i = 0; i < count; i++) {
    const w = weights[i];
    if (!(w >= 0) || w === Infinity) return -1;
    total += w;
  }
  return total > 0 ? total : -1;
}

/**
 * Index of the set whose cumulative-weight interval holds `u * total`, u in [0, 1). Zero-weight sets
 * have empty intervals and are never chosen. The float draw resolves far finer than 0.01%: weights
 * 99.9999/0.0001 give 1e-6 of draws to the second set, up to float rounding of ~1e-16 relative.
 */
export function walkWeights(weights: readonly number[], total: number, u: number): number {
  const x = u * total;
  let cum = 0;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] <= 0) continue;
    cum += weights[i];
    last = i;
    if (x < cum) return i;
  }
  // u * total can round up to total itself when u is within 2^-53 of 1.
  return last < 0 ? 0 : last;
}

/**
 * Stage 1: draws one record set. `weights` are the effective weights aligned with `policy.sets`
 * (the configured ones, or a runtime override); an unusable override falls back to the configured weights.
 * Random draws use `rng`; with `sticky: subnet` the draw is the client's subnet hash instead.
 */
export function pickRecordSet(
  policy: HostnamePolicy,
  weights: readonly number[],
  client: SteeringClient,
  rng: Rng,
  trace: Trace | null,
): RecordSet {
  const sets = policy.sets;
  let effective = weights;
  let total = usableTotal(weights, sets.length);
  const overridden = weights !== policy.weights;
  let note: string | null = null;
  if (total < 0) {
    if (trace) note = `runtime weights [${weights.join(', ')}] ignored: need ${sets.length} non-negative weights, not all zero`;
    effective = policy.weights;
    total = usableTotal(effective, sets.length);
  }
  if (sets.length === 1) {
    if (trace) recordDraw(trace, policy, effective, overridden && note === null, note, total, 'single', null, null, null, sets[0].name);
    return sets[0];
  }
  let u: number;
  let hash = 0;
  if (policy.sticky === 'subnet') {
    hash = stickySubnetHash(client.address);
    u = hash / TWO_POW_32;
  } else {
    u = rng();
  }
  const chosen = sets[walkWeights(effective, total, u)];
  if (trace) {
    const sticky = policy.sticky === 'subnet';
    const subnet = sticky ? stickySubnetText(client.address) : null;
    const hashText = sticky ? `0x${hash.toString(16).padStart(8, '0')}` : null;
    recordDraw(trace, policy, effective, overridden && note === null, note, total, sticky ? 'sticky' : 'random', u, subnet, hashText, chosen.name);
  }
  return chosen;
}

function stickySubnetText(address: Uint8Array): string {
  const v4 = address.length === 4;
  const prefix = v4 ? STICKY_PREFIX_V4 : STICKY_PREFIX_V6;
  const masked = new Uint8Array(address.length);
  masked.set(address.subarray(0, prefix / 8));
  return `${addressToString(v4 ? 1 : 2, masked)}/${prefix}`;
}

function recordDraw(
  trace: Trace, policy: HostnamePolicy, weights: readonly number[], override: boolean, note: string | null,
  total: number, method: 'single' | 'random' | 'sticky', value: number | null, subnet: string | null,
  hash: string | null, chosen: string,
): void {
  trace.draw = {
    method,
    sets: policy.sets.map((s, i) => ({ name: s.name, weight: weights[i] })),
    weightsFrom: override ? 'override' : 'policy',
    note, total, value, subnet, hash, chosen,
  };
}

/** Stage 2: keeps the regions that are operational, in order. */
export function dropNotOperational(regions: readonly RegionId[], isOperational: IsOperational, trace: Trace | null): RegionId[] {
  const kept: RegionId[] = [];
  if (trace) trace.health = [];
  for (const r of regions) {
    const state = isOperational(r);
    if (state.up) kept.push(r);
    if (trace) trace.health!.push({ region: r, up: state.up, reason: state.reason });
  }
  return kept;
}

/**
 * Stage 3: orders regions by estimated RTT from the client, nearest first. The estimate is the
 * latency table's entry when it has one, else the distance model. The sort is stable: ties, and
 * every region when the client has no location, keep the configured order.
 */
export function sortByLatency(
  regions: readonly RegionId[],
  regionDefs: ReadonlyMap<RegionId, Region>,
  location: ClientLocation | null,
  clientAddress: Uint8Array,
  latencyTable: LatencyTable | null,
  trace: Trace | null,
): RegionId[] {
  if (location === null) {
    if (trace) {
      trace.sort = {
        method: 'configured-order',
        why: 'client location unknown',
        entries: regions.map((region) => ({ region, km: null, rttMs: null, source: 'unknown', tableSource: null })),
      };
    }
    return regions.slice();
  }
  if (regions.length < 2 && !trace) return regions.slice();
  const n = regions.length;
  const ms = new Array<number>(n);
  const details: TraceLatency[] | null = trace ? new Array<TraceLatency>(n) : null;
  for (let i = 0; i < n; i++) {
    const region = regions[i];
    const def = regionDefs.get(region);
    const measured = latencyTable ? latencyTable.lookup(clientAddress, location.country, region) : null;
    const useTable = measured !== null && Number.isFinite(measured.ms);
    let km: number | null = null;
    if (def && (!useTable || details)) km = greatCircleKm(location.point, def.location);
    ms[i] = useTable ? measured.ms : km !== null ? estimateRttMs(km) : Infinity;
    if (details) {
      details[i] = {
        region, km, rttMs: Number.isFinite(ms[i]) ? ms[i] : null,
        source: useTable ? 'table' : km !== null ? 'model' : 'unknown',
        tableSource: useTable ? measured.source : null,
      };
    }
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => (ms[a] < ms[b] ? -1 : ms[a] > ms[b] ? 1 : a - b));
  if (trace) trace.sort = { method: 'latency', why: null, entries: order.map((i) => details![i]) };
  return order.map((i) => regions[i]);
}

/** Stage 4: the first `n` regions. */
export function firstN(regions: readonly RegionId[], n: number): RegionId[] {
  return regions.slice(0, n);
}

export interface AllDownResult {
  outcome: Exclude<SteeringOutcome, 'ok'>;
  /** Candidates to sort and cut: the whole set (fail-open), the fallback region, or none (servfail). */
  regions: RegionId[];
}

/**
 * When stage 2 leaves nothing, the policy's `when-all-down` decides: fail open (every region of the set,
 * as if up; the caller halves the TTL so clients come back soon), SERVFAIL, or a fallback region
 * served whatever its health.
 */
export function whenAllDown(policy: HostnamePolicy, set: RecordSet, isOperational: IsOperational, trace: Trace | null): AllDownResult {
  const w = policy.whenAllDown;
  switch (w.kind) {
    case 'fail-open':
      if (trace) {
        trace.allDown = {
          policy: 'fail-open',
          action: `answering with all ${set.regions.length} region(s) of set ${set.name} as if up, TTL halved`,
        };
      }
      return { outcome: 'fail-open', regions: set.regions.slice() };
    case 'servfail':
      if (trace) trace.allDown = { policy: 'servfail', action: 'answering SERVFAIL' };
      return { outcome: 'servfail', regions: [] };
    case 'region': {
      if (trace) {
        const state = isOperational(w.region);
        const health = state.up ? '' : ` (itself down: ${state.reason}; served anyway)`;
        trace.allDown = { policy: `region:${w.region}`, action: `answering with fallback region ${w.region}${health}` };
      }
      return { outcome: 'fallback-region', regions: [w.region] };
    }
  }
}
