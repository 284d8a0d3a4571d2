// What a steering policy is once loaded: regions, and per steered hostname the pools of endpoints,
// the record sets to split between, and what to do when every region is down.
// Built once per config load (load-policy.ts); read-only on the query path.

import type { GeoPoint } from '../geo/types.js';
import type { RegionId } from '../core/region-id.js';
import type { TenantFile } from './tenant-table.js';

export type { RegionId, TenantFile };

export interface Region {
  id: RegionId;
  location: GeoPoint;
  file: string;
  line: number;
}

/** One side of a weighted split: a named, ordered list of regions (the order is the tiebreak). */
export interface RecordSet {
  name: string;
  weight: number;
  regions: RegionId[];
}

export type WhenAllDown = { kind: 'fail-open' } | { kind: 'servfail' } | { kind: 'region'; region: RegionId };

/** One address of a pool. Whether it is answered is the health plan's business (src/health/plan.ts). */
export interface Endpoint {
  /** Canonical text (RFC 5952 for IPv6): the key of endpoint drains. */
  text: string;
  bytes: Uint8Array;
  family: 4 | 6;
  line: number;
}

/** A region's endpoints, as wire bytes (4 or 16 octets) for the encoder and as text for explain. */
export interface Endpoints {
  v4: Uint8Array[];
  v6: Uint8Array[];
  v4Text: string[];
  v6Text: string[];
  /** Every endpoint in the order written; v4 and v6 above are its two families in the same order. */
  list?: Endpoint[];
}

export type Sticky = 'none' | 'subnet';

/** What a tenant's subdomain gets when its home region is not operational. */
export type WhenHomeDown = 'fallback' | 'servfail' | 'fail-open';
/** What a subdomain gets whose tenant is not in the map: latency steering (`nearest`) or SERVFAIL. */
export type UnknownTenant = 'nearest' | 'servfail';

/** Data residency of a wildcard hostname whose first label under it names a tenant. */
export interface TenantPolicy {
  /** Where each home region's tenants may go when it is down; a home region not listed: nowhere else. */
  residency: ReadonlyMap<RegionId, readonly RegionId[]>;
  whenHomeDown: WhenHomeDown;
  unknown: UnknownTenant;
}

export interface HostnamePolicy {
  /** Canonical owner name (lower case, trailing dot). */
  fqdn: string;
  /** Canonical origin of the zone the name is served from. */
  zone: string;
  ttl: number;
  /** How many regions' endpoints go into one answer. */
  answers: number;
  /** In the order written in the file. */
  pools: Map<RegionId, Endpoints>;
  sets: RecordSet[];
  /** `sets[i].weight`, precomputed so the query path does not allocate it. */
  weights: readonly number[];
  sticky: Sticky;
  /** A region answers a family (A or AAAA) when at least this many of its endpoints of it are healthy. */
  minHealthy?: number;
  whenAllDown: WhenAllDown;
  /** Set on a wildcard hostname with `tenants:`: tenants' subdomains go to their home region. */
  tenants?: TenantPolicy;
  file: string;
  line: number;
}

export interface SteeringConfig {
  /** In the order written in regions.yaml. */
  regions: Map<RegionId, Region>;
  /** Keyed by canonical fqdn. */
  hostnames: Map<string, HostnamePolicy>;
  /** Absent or empty when no hostname names a tenants file. */
  tenants?: TenantFile;
}

export function emptySteeringConfig(): SteeringConfig {
  return { regions: new Map(), hostnames: new Map() };
}

/**
 * How an answer came about: normally, by failing open, by refusing (SERVFAIL), from the fallback
 * region, or for a tenant: its home region (`pinned`) or a region its residency allows.
 */
export type SteeringOutcome = 'ok' | 'fail-open' | 'servfail' | 'fallback-region' | 'pinned' | 'residency-fallback';
