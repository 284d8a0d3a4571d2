// The steering pipeline for one A/AAAA query on a steered hostname:
//   pick a record set → drop regions not operational → (all down? when-all-down) → sort by latency → first N.
// Pure: health, weights, the GeoIP result, the latency table and the RNG all come in through `input`.

import { addressToString } from '../dns/ecs.js';
import { NO_PREFIX, type LatencyTable, type PrefixCell } from '../geo/latency-table.js';
import type { ClientLocation } from '../geo/types.js';
import type { HostnamePolicy, RecordSet, Region, RegionId, SteeringOutcome } from './policy.js';
import type { Rng } from './rng.js';
import {
  dropNotOperational, firstN, pickRecordSet, sortByLatency, STICKY_PREFIX_V4, STICKY_PREFIX_V6, whenAllDown,
  type IsOperational, type SteeringClient,
} from './stages.js';
import type { Trace, TraceAnswer } from './trace.js';

export interface SteeringInput {
  policy: HostnamePolicy;
  /** Runtime weights aligned with `policy.sets`; the configured weights when absent. */
  weights?: readonly number[];
  client: SteeringClient;
  /** GeoIP result for `client.address`, or null when the database has no match. */
  location: ClientLocation | null;
  isOperational: IsOperational;
  regions: ReadonlyMap<RegionId, Region>;
  latencyTable: LatencyTable | null;
  rng: Rng;
  /** The snapshot's memo of orders (see SteeringMemo); absent: every stage runs. */
  memo?: SteeringMemo | null;
}

export interface CachedOrder {
  regions: RegionId[];
  outcome: SteeringOutcome;
  sortMattered: boolean;
}

/**
 * Derived data, safe to fill: the pipeline's result after the draw, per snapshot. Within one snapshot,
 * health and drains are fixed, so (located client, latency-table prefix, record set) always gives the
 * same order: the distance model runs once per client network, not once per query. Filling it never
 * changes an answer; a new snapshot starts with a new memo, so a swap clears it.
 *
 * Keyed by the locator's (interned, frozen) location object, the latency table's (interned) cell for
 * the client (NO_PREFIX without a table) and the drawn RecordSet.
 */
export class SteeringMemo {
  private readonly byLocation = new WeakMap<ClientLocation, Map<PrefixCell, Map<RecordSet, CachedOrder>>>();

  get(location: ClientLocation, cell: PrefixCell, set: RecordSet): CachedOrder | undefined {
    return this.byLocation.get(location)?.get(cell)?.get(set);
  }

  set(location: ClientLocation, cell: PrefixCell, set: RecordSet, order: CachedOrder): void {
    let byCell = this.byLocation.get(location);
    if (!byCell) { byCell = new Map(); this.byLocation.set(location, byCell); }
    let bySet = byCell.get(cell);
    if (!bySet) { bySet = new Map(); byCell.set(cell, bySet); }
    bySet.set(set, order);
  }

  /** How many orders are kept for a client network (tests). */
  orders(location: ClientLocation): number {
    let n = 0;
    for (const bySet of this.byLocation.get(location)?.values() ?? []) n += bySet.size;
    return n;
  }
}

export interface SteeringResult {
  /** Chosen regions, nearest first, at most `policy.answers`; empty on servfail. */
  regions: RegionId[];
  setName: string;
  outcome: SteeringOutcome;
  /** The policy's TTL, halved on fail-open so clients ask again soon. */
  ttl: number;
  /** ECS scope prefix length to return (RFC 7871 §7.2.1). */
  ecsScope: number;
}

export function steer(input: SteeringInput, trace: Trace | null): SteeringResult {
  const { policy, client, location } = input;
  if (trace) {
    traceClient(trace, policy, client);
    trace.location = location === null ? 'unknown' : {
      country: location.country, city: location.city, lat: location.point.lat, lon: location.point.lon,
      networkPrefix: location.networkPrefix,
    };
  }

  const set = pickRecordSet(policy, input.weights ?? policy.weights, client, input.rng, trace);
  // What the client's address decides beyond its location: the latency table's prefix for it. The
  // table is consulted only for a located client (an unlocated one gets the configured order).
  const table = location !== null ? input.latencyTable : null;
  const tableMatch = table !== null ? table.match(client.address) : null;
  const cell = tableMatch !== null ? tableMatch.cell : NO_PREFIX;
  const tableScope = tableMatch !== null ? tableMatch.scope : 0;
  // The memo is sound because nothing client-specific beyond (location, table cell) matters; it is
  // skipped when tracing, which wants every stage to run.
  const memo = trace === null && location !== null ? input.memo : null;
  if (memo) {
    const hit = memo.get(location!, cell, set);
    if (hit) {
      const ttl = hit.outcome === 'fail-open' ? Math.floor(policy.ttl / 2) : policy.ttl;
      return { regions: hit.regions, setName: set.name, outcome: hit.outcome, ttl, ecsScope: ecsScope(policy, client, location, hit.sortMattered, null, tableScope) };
    }
  }
  let candidates = dropNotOperational(set.regions, input.isOperational, trace);
  let outcome: SteeringOutcome = 'ok';
  if (candidates.length === 0) {
    const fallback = whenAllDown(policy, set, input.isOperational, trace);
    outcome = fallback.outcome;
    candidates = fallback.regions;
  }

  let chosen: RegionId[] = [];
  if (outcome !== 'servfail') {
    const sorted = sortByLatency(candidates, input.regions, location, client.address, input.latencyTable, trace);
    chosen = firstN(sorted, policy.answers);
  }
  const ttl = outcome === 'fail-open' ? Math.floor(policy.ttl / 2) : policy.ttl;
  const sortMattered = outcome !== 'servfail' && candidates.length > 1;
  const scope = ecsScope(policy, client, location, sortMattered, trace, tableScope);
  if (memo) memo.set(location!, cell, set, { regions: chosen, outcome, sortMattered });

  if (trace) {
    trace.answer = traceAnswer(policy, chosen);
    trace.outcome = outcome;
    trace.ttl = ttl;
  }
  return { regions: chosen, setName: set.name, outcome, ttl, ecsScope: scope };
}

/** The endpoints of the regions answered, for explain. */
export function traceAnswer(policy: HostnamePolicy, regions: readonly RegionId[]): TraceAnswer[] {
  return regions.map((region) => {
    const e = policy.pools.get(region);
    return { region, v4: e ? e.v4Text.slice() : [], v6: e ? e.v6Text.slice() : [] };
  });
}

/** Who asked, for explain. */
export function traceClient(trace: Trace, policy: HostnamePolicy, client: SteeringClient): void {
  trace.hostname = policy.fqdn;
  trace.client = {
    address: addressToString(client.address.length === 4 ? 1 : 2, client.address),
    prefix: client.sourcePrefix,
    source: client.fromEcs ? 'ecs' : 'resolver',
  };
}

/**
 * The ECS scope (RFC 7871 §7.2.1): the shortest prefix the answer really depends on, so resolvers can
 * cache it as widely as is correct (echoing the full source prefix ruins their caches).
 *  - A random set draw, health and the fallback region do not depend on the client: they add nothing.
 *  - A sticky draw depends on the client's /24 or /56.
 *  - The latency sort matters only when two or more regions are left to order. It then depends on the
 *    GeoIP network that matched (`networkPrefix`); when nothing matched, the answer depends on the client
 *    being in an unlocated network, whose size we do not know, so we claim the /24 or /56 (the
 *    granularity GeoIP databases and ECS senders commonly use) rather than 0, which would wrongly
 *    hand the configured-order answer to located neighbours sharing a wider cache entry.
 *  - With a latency table, the sort also depends on the table prefix the client falls in
 *    (`tableScope`, see LatencyTable.match): the scope is the narrower of that and the GeoIP network.
 * Never more than the client's source prefix.
 */
export function ecsScope(
  policy: HostnamePolicy,
  client: SteeringClient,
  location: ClientLocation | null,
  sortMattered: boolean,
  trace: Trace | null,
  tableScope = 0,
): number {
  const v4 = client.address.length === 4;
  const subnet = v4 ? STICKY_PREFIX_V4 : STICKY_PREFIX_V6;
  let scope = 0;
  let why = 'answer does not depend on the client';
  if (policy.sticky === 'subnet' && policy.sets.length > 1) {
    scope = subnet;
    why = `sticky split hashes the /${subnet}`;
  }
  if (sortMattered) {
    const geo = location === null ? subnet : Math.min(location.networkPrefix, v4 ? 32 : 128);
    if (geo > scope) {
      scope = geo;
      why = location === null ? `client not located: claim its /${subnet}` : 'GeoIP network that located the client';
    }
    if (location !== null && tableScope > scope) {
      scope = tableScope;
      why = 'latency-table prefix the client falls in';
    }
  }
  if (scope > client.sourcePrefix) {
    scope = client.sourcePrefix;
    why += `, capped at the source prefix /${client.sourcePrefix}`;
  }
  if (trace) {
    trace.ecsScope = scope;
    trace.ecsScopeWhy = why;
  }
  return scope;
}
