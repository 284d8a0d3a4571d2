// The immutable world the query path answers from. Writers (zone reload, health, ops) build a new
// Snapshot beside the old one and swap one reference; a query never sees a half-built state.

import { RRClass, RRType } from '../dns/constants.js';
import { nameToWire } from '../dns/name.js';
import { QUESTION_NAME, type WireRR } from '../dns/types.js';
import type { GeoLocator } from '../geo/types.js';
import type { LatencyTable } from '../geo/latency-table.js';
import type { HostnamePolicy, RegionId, SteeringConfig } from '../steering/policy.js';
import { SteeringMemo } from '../steering/pipeline.js';
import { NO_TENANT_FILE } from '../steering/tenant-table.js';
import { buildZone, buildZoneSet, type Zone, type ZoneSet } from '../zone/tree.js';
import type { LoadedZone } from '../zone/load.js';
import type { CheckId } from '../health/check-config.js';
import type { PoolChecks } from '../health/plan.js';
import { foldHostname, needsFold, type RegionEndpoints, type RegionRecords } from './endpoint-health.js';
import type { Drain, EndpointDrain } from './fleet-store.js';
import { TenantDirectory } from './tenant-directory.js';
import { tenantAnswers, type TenantAnswers } from './tenant-answers.js';

export interface RegionHealth {
  up: boolean;
  reason: string;
}

/** A steered hostname with its answers pre-encoded per region, so a query only picks and concatenates. */
export interface SteeredName {
  policy: HostnamePolicy;
  /**
   * Per region: A and AAAA records at the policy TTL, and at half of it for fail-open answers, of the
   * endpoints answered now (healthy, not drained; see endpoint-health.ts).
   * A wildcard hostname's records are owned by QUESTION_NAME (written as a pointer to the question).
   */
  records: Map<RegionId, RegionRecords>;
  /** Every endpoint's records, whatever its health: what fail-open serves. The same map as `records` when nothing is folded. */
  all: Map<RegionId, RegionRecords>;
  /** Per region, each endpoint's state and min-healthy per family; absent when no endpoint has checks or a drain. */
  endpoints?: Map<RegionId, RegionEndpoints>;
}

export type Family = 4 | 6;

/**
 * Derived data, safe to fill: memos computed from a snapshot's immutable fields, kept for the next
 * query. Filling one never changes an answer; each snapshot (withState too) starts with its own.
 */
export class SnapshotMemo {
  private readonly steering4 = new SteeringMemo();
  /** With endpoint health a region can answer one family and not the other: a memo per family. */
  private readonly steering6 = new SteeringMemo();

  /** Steering orders per located client network (see steering/pipeline.ts). */
  steering(family: Family): SteeringMemo {
    return family === 6 ? this.steering6 : this.steering4;
  }
}

/** Built once, never changed: a change builds a new one (withState). Queries fill `memo` only. */
export interface Snapshot {
  readonly version: number;
  readonly builtAt: number;
  readonly zones: ZoneSet;
  readonly zoneList: readonly Zone[];
  readonly steering: SteeringConfig;
  readonly steered: ReadonlyMap<string, SteeredName>;
  /** Which endpoint checks decide each pool endpoint (ids only: the checks are the health plan's). */
  readonly endpointCheckIds: PoolChecks;
  readonly geo: GeoLocator | null;
  readonly latencyTable: LatencyTable | null;
  /** What the health probes say; regions absent from the map are up. */
  readonly regionHealth: ReadonlyMap<RegionId, RegionHealth>;
  /** Operator drains, by region. */
  readonly drains: ReadonlyMap<RegionId, Drain>;
  /** Endpoint checks that are down (by quorum); absent: up. */
  readonly endpointHealth: ReadonlyMap<CheckId, RegionHealth>;
  /** Operator drains of pool endpoints, by address. */
  readonly endpointDrains: ReadonlyMap<string, EndpointDrain>;
  /** Runtime weight overrides, aligned with the policy's sets. */
  readonly weightOverrides: ReadonlyMap<string, readonly number[]>;
  /** Tenant slug → home region: the tenants file under the API's overrides. */
  readonly tenants: TenantDirectory;
  /** Tenant hostnames' answers per home region, made with the snapshot (a query picks one). */
  readonly tenantAnswers: TenantAnswers;
  /** What queries derive from the fields above and keep; the only part of a snapshot a query fills. */
  readonly memo: SnapshotMemo;
  /**
   * Health and drains of regions, and min-healthy of their endpoints for `family` (default 4), folded
   * into one function per hostname and family, bound once per snapshot.
   */
  isOperationalFor(fqdn: string, family?: Family): (region: RegionId) => RegionHealth;
}

const UP: RegionHealth = Object.freeze({ up: true, reason: 'up' });

/**
 * Precedence: an operator's drain beats health (a drained region is out even when its probes pass),
 * then the probes' verdict.
 */
export function operational(fqdn: string, region: RegionId, health: ReadonlyMap<RegionId, RegionHealth>, drains: ReadonlyMap<RegionId, Drain>): RegionHealth {
  const d = drains.get(region);
  if (d && (d.hostnames === null || d.hostnames.includes(fqdn))) return { up: false, reason: `drained by ${d.by}: ${d.reason}` };
  return health.get(region) ?? UP;
}

function operationalFns(
  steered: ReadonlyMap<string, SteeredName>,
  health: ReadonlyMap<RegionId, RegionHealth>,
  drains: ReadonlyMap<RegionId, Drain>,
): (fqdn: string, family?: Family) => (region: RegionId) => RegionHealth {
  // Answers are computed once per (hostname, family, region) here, not per query.
  const byHost = new Map<string, [(region: RegionId) => RegionHealth, (region: RegionId) => RegionHealth]>();
  const bind = (fqdn: string, endpoints: Map<RegionId, RegionEndpoints> | undefined, family: Family) => {
    const cache = new Map<RegionId, RegionHealth>();
    return (region: RegionId): RegionHealth => {
      let h = cache.get(region);
      if (!h) {
        h = operational(fqdn, region, health, drains);
        const e = endpoints?.get(region);
        const byFamily = e ? (family === 4 ? e.v4 : e.v6) : null;
        if (h.up && byFamily && !byFamily.up) h = { up: false, reason: `endpoints: ${byFamily.reason}` };
        cache.set(region, h);
      }
      return h;
    };
  };
  for (const [fqdn, s] of steered) byHost.set(fqdn, [bind(fqdn, s.endpoints, 4), bind(fqdn, s.endpoints, 6)]);
  const fallback = (fqdn: string) => (region: RegionId) => operational(fqdn, region, health, drains);
  return (fqdn, family = 4) => byHost.get(fqdn)?.[family === 4 ? 0 : 1] ?? fallback(fqdn);
}

/**
 * The steered names with endpoint health folded in: hostnames that need it get a copy with the
 * records answered now; the others are shared. The map itself is shared when nothing is folded.
 */
function foldSteered(
  steered: ReadonlyMap<string, SteeredName>, checkIds: PoolChecks, endpointHealth: ReadonlyMap<CheckId, RegionHealth>, endpointDrains: ReadonlyMap<string, EndpointDrain>,
  folded: ReadonlySet<string> | null,
): { steered: Map<string, SteeredName>; folded: Set<string> } {
  const out = new Set<string>();
  let copy: Map<string, SteeredName> | null = null;
  for (const [fqdn, s] of steered) {
    const checks = checkIds.get(fqdn);
    const need = needsFold(s.policy, checks, endpointDrains);
    if (!need && !folded?.has(fqdn)) continue;
    copy ??= new Map(steered);
    if (!need) { copy.set(fqdn, { policy: s.policy, records: s.all, all: s.all }); continue; }
    const f = foldHostname(s.policy, s.all, checks, endpointHealth, endpointDrains);
    copy.set(fqdn, { policy: s.policy, records: f.records, all: s.all, endpoints: f.endpoints });
    out.add(fqdn);
  }
  return { steered: copy ?? (steered as Map<string, SteeredName>), folded: out };
}

/** Hostnames folded in a snapshot (so the next one can unfold those no longer affected). */
const foldedIn = new WeakMap<object, ReadonlySet<string>>();

export interface SnapshotInputs {
  version: number;
  zones: readonly LoadedZone[];
  /** Zones already built (a reload gets them built, src/server/reload/): used instead of `zones`. */
  builtZones?: readonly Zone[];
  steering: SteeringConfig;
  /** The health plan's `pools`: absent, no endpoint has checks. */
  endpointCheckIds?: PoolChecks;
  geo: GeoLocator | null;
  latencyTable: LatencyTable | null;
  regionHealth?: ReadonlyMap<RegionId, RegionHealth>;
  drains?: ReadonlyMap<RegionId, Drain>;
  endpointHealth?: ReadonlyMap<CheckId, RegionHealth>;
  endpointDrains?: ReadonlyMap<string, EndpointDrain>;
  weightOverrides?: ReadonlyMap<string, readonly number[]>;
  /** The fleet store's 'tenant' namespace. */
  tenantOverrides?: ReadonlyMap<string, unknown>;
}

export function buildSnapshot(inputs: SnapshotInputs): Snapshot {
  const steeredByZone = new Map<string, string[]>();
  for (const p of inputs.steering.hostnames.values()) {
    const list = steeredByZone.get(p.zone) ?? [];
    list.push(p.fqdn);
    steeredByZone.set(p.zone, list);
  }
  // Zones built aside (the reload process) come ready; loaded ones are built here.
  const zoneList = inputs.builtZones ?? inputs.zones.map((z) => Object.assign(buildZone(z.origin, z.file, z.records, steeredByZone.get(z.origin) ?? []), { dnssec: z.dnssec }));
  const encoded = new Map<string, SteeredName>();
  for (const p of inputs.steering.hostnames.values()) encoded.set(p.fqdn, preEncode(p));
  const endpointHealth = inputs.endpointHealth ?? new Map();
  const endpointDrains = inputs.endpointDrains ?? new Map();
  const endpointCheckIds = inputs.endpointCheckIds ?? new Map();
  const { steered, folded } = foldSteered(encoded, endpointCheckIds, endpointHealth, endpointDrains, null);
  const regionHealth = inputs.regionHealth ?? new Map();
  const drains = inputs.drains ?? new Map();
  const isOperationalFor = operationalFns(steered, regionHealth, drains);
  const snap: Snapshot = {
    version: inputs.version,
    builtAt: Date.now(),
    zones: buildZoneSet(zoneList),
    zoneList,
    steering: inputs.steering,
    steered,
    endpointCheckIds,
    geo: inputs.geo,
    latencyTable: inputs.latencyTable,
    regionHealth,
    drains,
    endpointHealth,
    endpointDrains,
    memo: new SnapshotMemo(),
    weightOverrides: inputs.weightOverrides ?? new Map(),
    tenants: new TenantDirectory(inputs.steering.tenants ?? NO_TENANT_FILE, inputs.tenantOverrides ?? new Map()),
    tenantAnswers: tenantAnswers(steered, isOperationalFor, inputs.steering.regions),
    isOperationalFor,
  };
  foldedIn.set(snap, folded);
  return snap;
}

/** The same world with other region health or overrides: zones and pre-encoded answers are shared. */
export function withState(
  snap: Snapshot,
  change: {
    version: number;
    regionHealth?: ReadonlyMap<RegionId, RegionHealth>;
    drains?: ReadonlyMap<RegionId, Drain>;
    endpointHealth?: ReadonlyMap<CheckId, RegionHealth>;
    endpointDrains?: ReadonlyMap<string, EndpointDrain>;
    weightOverrides?: ReadonlyMap<string, readonly number[]>;
    tenantOverrides?: ReadonlyMap<string, unknown>;
  },
): Snapshot {
  const regionHealth = change.regionHealth ?? snap.regionHealth;
  const drains = change.drains ?? snap.drains;
  const endpointHealth = change.endpointHealth ?? snap.endpointHealth;
  const endpointDrains = change.endpointDrains ?? snap.endpointDrains;
  const sameEndpoints = endpointHealth === snap.endpointHealth && endpointDrains === snap.endpointDrains;
  const { steered, folded } = sameEndpoints
    ? { steered: snap.steered, folded: foldedIn.get(snap) ?? new Set<string>() }
    : foldSteered(snap.steered, snap.endpointCheckIds, endpointHealth, endpointDrains, foldedIn.get(snap) ?? null);
  const isOperationalFor = operationalFns(steered, regionHealth, drains);
  // Tenant answers follow health and drains only: an override or weight change keeps them.
  const sameHealth = steered === snap.steered && regionHealth === snap.regionHealth && drains === snap.drains;
  const next: Snapshot = {
    ...snap,
    version: change.version,
    builtAt: Date.now(),
    regionHealth,
    drains,
    endpointHealth,
    endpointDrains,
    steered,
    memo: new SnapshotMemo(),
    weightOverrides: change.weightOverrides ?? snap.weightOverrides,
    tenants: change.tenantOverrides && change.tenantOverrides !== snap.tenants.overrides
      ? new TenantDirectory(snap.tenants.file, change.tenantOverrides, snap.tenants)
      : snap.tenants,
    tenantAnswers: sameHealth ? snap.tenantAnswers : tenantAnswers(steered, isOperationalFor, snap.steering.regions),
    isOperationalFor,
  };
  foldedIn.set(next, folded);
  return next;
}

function preEncode(p: HostnamePolicy): SteeredName {
  const ownerWire = nameToWire(p.fqdn);
  const owner = p.fqdn.startsWith('*.') ? QUESTION_NAME : p.fqdn;
  const half = Math.floor(p.ttl / 2);
  const rr = (type: number, ttl: number, rdata: Uint8Array): WireRR => ({ owner, ownerWire, type, klass: RRClass.IN, ttl, rdata });
  const records = new Map<RegionId, RegionRecords>();
  for (const [region, ep] of p.pools) {
    records.set(region, {
      a: ep.v4.map((b) => rr(RRType.A, p.ttl, b)),
      aaaa: ep.v6.map((b) => rr(RRType.AAAA, p.ttl, b)),
      aHalf: ep.v4.map((b) => rr(RRType.A, half, b)),
      aaaaHalf: ep.v6.map((b) => rr(RRType.AAAA, half, b)),
    });
  }
  return { policy: p, records, all: records };
}
