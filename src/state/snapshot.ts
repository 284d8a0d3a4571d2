// The immutable world the query path answers from. Writers (zone reload, health, ops) build a new
// Snapshot beside the old one and swap one reference; a query never sees a half-built state.

import { RRClass, RRType } from '../dns/constants.js';
import { nameToWire } from '../dns/name.js';
import { QUESTION_NAME, type WireRR } from '../dns/types.js';
import type { GeoLocator } from '../geo/types.js';
import type { LatencyTable } from '../geo/latency-table.js';
import type { HostnamePolicy, RegionId, SteeringConfig } from '../steering/policy.js';
import type { SteeringCache, SteeringResult } from '../steering/pipeline.js';
import { NO_TENANT_FILE } from '../steering/tenant-table.js';
import type { TenantRoute } from '../steering/tenants.js';
import type { DynamicAnswer } from '../zone/lookup.js';
import { buildZone, buildZoneSet, type Zone, type ZoneSet } from '../zone/tree.js';
import type { LoadedZone } from '../zone/load.js';
import type { Drain } from './fleet-store.js';
import { TenantDirectory } from './tenants.js';

export interface RegionHealth {
  up: boolean;
  reason: string;
}

/** A steered hostname with its answers pre-encoded per region, so a query only picks and concatenates. */
export interface SteeredName {
  policy: HostnamePolicy;
  /**
   * Per region: A and AAAA records at the policy TTL, and at half of it for fail-open answers.
   * A wildcard hostname's records are owned by QUESTION_NAME (written as a pointer to the question).
   */
  records: Map<RegionId, { a: WireRR[]; aaaa: WireRR[]; aHalf: WireRR[]; aaaaHalf: WireRR[] }>;
}

/** A tenant hostname's answer for one home region, computed once per snapshot and shared by every query. */
export interface TenantAnswer {
  route: TenantRoute;
  /** What the query handler counts in metrics. */
  result: SteeringResult;
  a: DynamicAnswer;
  aaaa: DynamicAnswer;
}

export interface Snapshot {
  version: number;
  builtAt: number;
  zones: ZoneSet;
  zoneList: readonly Zone[];
  steering: SteeringConfig;
  steered: Map<string, SteeredName>;
  geo: GeoLocator | null;
  latencyTable: LatencyTable | null;
  /** What the health probes say; regions absent from the map are up. */
  regionHealth: ReadonlyMap<RegionId, RegionHealth>;
  /** Operator drains, by region. */
  drains: ReadonlyMap<RegionId, Drain>;
  /** Runtime weight overrides, aligned with the policy's sets. */
  weightOverrides: ReadonlyMap<string, readonly number[]>;
  /** Tenant slug → home region: the tenants file under the API's overrides. */
  tenants: TenantDirectory;
  /** Memo of steering orders per located client network (see steering/pipeline.ts); new per snapshot. */
  steeringCache: SteeringCache;
  /** Memo of tenant answers per tenant hostname and home region; new per snapshot. */
  tenantAnswers: Map<SteeredName, Map<RegionId, TenantAnswer>>;
  /** Health and drains folded into one function per hostname, bound once per snapshot. */
  isOperationalFor(fqdn: string): (region: RegionId) => RegionHealth;
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
  hostnames: Iterable<string>,
  health: ReadonlyMap<RegionId, RegionHealth>,
  drains: ReadonlyMap<RegionId, Drain>,
): (fqdn: string) => (region: RegionId) => RegionHealth {
  // Answers are computed once per (hostname, region) here, not per query.
  const byHost = new Map<string, (region: RegionId) => RegionHealth>();
  for (const fqdn of hostnames) {
    const cache = new Map<RegionId, RegionHealth>();
    byHost.set(fqdn, (region) => {
      let h = cache.get(region);
      if (!h) { h = operational(fqdn, region, health, drains); cache.set(region, h); }
      return h;
    });
  }
  const fallback = (fqdn: string) => (region: RegionId) => operational(fqdn, region, health, drains);
  return (fqdn) => byHost.get(fqdn) ?? fallback(fqdn);
}

export interface SnapshotInputs {
  version: number;
  zones: readonly LoadedZone[];
  /** Zones already built (a reload gets them built, src/server/reload/): used instead of `zones`. */
  builtZones?: readonly Zone[];
  steering: SteeringConfig;
  geo: GeoLocator | null;
  latencyTable: LatencyTable | null;
  regionHealth?: ReadonlyMap<RegionId, RegionHealth>;
  drains?: ReadonlyMap<RegionId, Drain>;
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
  const zoneList = inputs.builtZones ?? inputs.zones.map((z) => buildZone(z.origin, z.file, z.records, steeredByZone.get(z.origin) ?? []));
  const steered = new Map<string, SteeredName>();
  for (const p of inputs.steering.hostnames.values()) steered.set(p.fqdn, preEncode(p));
  return {
    version: inputs.version,
    builtAt: Date.now(),
    zones: buildZoneSet(zoneList),
    zoneList,
    steering: inputs.steering,
    steered,
    geo: inputs.geo,
    latencyTable: inputs.latencyTable,
    regionHealth: inputs.regionHealth ?? new Map(),
    drains: inputs.drains ?? new Map(),
    steeringCache: new WeakMap(),
    weightOverrides: inputs.weightOverrides ?? new Map(),
    tenants: new TenantDirectory(inputs.steering.tenants ?? NO_TENANT_FILE, inputs.tenantOverrides ?? new Map()),
    tenantAnswers: new Map(),
    isOperationalFor: operationalFns(inputs.steering.hostnames.keys(), inputs.regionHealth ?? new Map(), inputs.drains ?? new Map()),
  };
}

/** The same world with other region health or overrides: zones and pre-encoded answers are shared. */
export function withState(
  snap: Snapshot,
  change: {
    version: number;
    regionHealth?: ReadonlyMap<RegionId, RegionHealth>;
    drains?: ReadonlyMap<RegionId, Drain>;
    weightOverrides?: ReadonlyMap<string, readonly number[]>;
    tenantOverrides?: ReadonlyMap<string, unknown>;
  },
): Snapshot {
  const regionHealth = change.regionHealth ?? snap.regionHealth;
  const drains = change.drains ?? snap.drains;
  return {
    ...snap,
    version: change.version,
    builtAt: Date.now(),
    regionHealth,
    drains,
    steeringCache: new WeakMap(),
    weightOverrides: change.weightOverrides ?? snap.weightOverrides,
    tenants: change.tenantOverrides && change.tenantOverrides !== snap.tenants.overrides
      ? new TenantDirectory(snap.tenants.file, change.tenantOverrides, snap.tenants)
      : snap.tenants,
    tenantAnswers: new Map(),
    isOperationalFor: operationalFns(snap.steering.hostnames.keys(), regionHealth, drains),
  };
}

function preEncode(p: HostnamePolicy): SteeredName {
  const ownerWire = nameToWire(p.fqdn);
  const owner = p.fqdn.startsWith('*.') ? QUESTION_NAME : p.fqdn;
  const half = Math.floor(p.ttl / 2);
  const rr = (type: number, ttl: number, rdata: Uint8Array): WireRR => ({ owner, ownerWire, type, klass: RRClass.IN, ttl, rdata });
  const records: SteeredName['records'] = new Map();
  for (const [region, ep] of p.pools) {
    records.set(region, {
      a: ep.v4.map((b) => rr(RRType.A, p.ttl, b)),
      aaaa: ep.v6.map((b) => rr(RRType.AAAA, p.ttl, b)),
      aHalf: ep.v4.map((b) => rr(RRType.A, half, b)),
      aaaaHalf: ep.v6.map((b) => rr(RRType.AAAA, half, b)),
    });
  }
  return { policy: p, records };
}
