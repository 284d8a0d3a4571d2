// A zone as the query path sees it: canonical name → node, with RRsets pre-encoded for the wire.
// Built once per snapshot from parsed records; never mutated afterwards.

import { RRType } from '../dns/constants.js';
import { nameToWire, parentName, isSubdomain } from '../dns/name.js';
import type { WireRR } from '../dns/types.js';
import type { ZoneRecord } from './masterfile.js';

export interface RRSet {
  type: number;
  ttl: number;
  records: WireRR[];
  /** Canonical names carried in the rdata (CNAME target, NS hosts), for chasing and glue. */
  targets: string[];
}

export interface ZoneNode {
  name: string;
  /** Empty for an empty non-terminal (RFC 4592 §2.2.2): the name exists, with no data. */
  rrsets: Map<number, RRSet>;
  /** The child `*.<name>`, if any: the wildcard that covers names this node is the closest encloser of. */
  wildcard?: ZoneNode;
}

export interface Zone {
  origin: string;
  file: string;
  nodes: Map<string, ZoneNode>;
  soa: WireRR;
  /** SOA as sent in negative answers: TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §3, §5). */
  negativeSoa: WireRR;
  /** True when some name below the apex has NS records (a zone cut). */
  hasCuts: boolean;
  /** True when the zone has a wildcard owner somewhere. */
  hasWildcards: boolean;
  recordCount: number;
}

/**
 * A zone record for the wire. Its owner's wire form is made on first use: most answers point at the
 * question instead (the encoder compresses an owner equal to the query name), so a million-record zone
 * would otherwise build a million buffers that are never read.
 */
class ZoneRR implements WireRR {
  private wire: Uint8Array | null = null;
  constructor(readonly owner: string, readonly type: number, readonly klass: number, readonly ttl: number, readonly rdata: Uint8Array) {}
  get ownerWire(): Uint8Array {
    return (this.wire ??= nameToWire(this.owner));
  }
}

/**
 * `extraNames` are names that exist without static data (steered hostnames): they get nodes so that
 * other types at them are NODATA, not NXDOMAIN, and their ancestors become empty non-terminals.
 */
export function buildZone(origin: string, file: string, records: readonly ZoneRecord[], extraNames: Iterable<string> = []): Zone {
  const b = new ZoneBuilder(origin);
  for (const r of records) b.add(r.owner, r.type, r.klass, r.ttl, r.rdata, r.target, r.soaMinimum);
  return b.finish(file, extraNames);
}

/**
 * Builds a Zone one record at a time, so a reload can build a large zone in slices between queries
 * (src/server/reload/). Not a Zone until finish(); nothing reads it before.
 */
export class ZoneBuilder {
  private readonly nodes = new Map<string, ZoneNode>();
  private soa: WireRR | null = null;
  private soaMinimum = 0;
  private hasCuts = false;
  private hasWildcards = false;
  private count = 0;

  constructor(readonly origin: string) {
    this.nodeFor(origin);
  }

  private nodeFor(name: string): ZoneNode {
    let node = this.nodes.get(name);
    if (!node) {
      node = { name, rrsets: new Map() };
      this.nodes.set(name, node);
      // Every ancestor up to the apex exists, if only as an empty non-terminal.
      if (name !== this.origin) {
        const parent = this.nodeFor(parentName(name));
        if (name.startsWith('*.')) parent.wildcard = node;
      }
    }
    return node;
  }

  add(owner: string, type: number, klass: number, ttl: number, rdata: Uint8Array, target: string | undefined, soaMinimum: number | undefined): void {
    const rr: WireRR = new ZoneRR(owner, type, klass, ttl, rdata);
    const node = this.nodeFor(owner);
    let set = node.rrsets.get(type);
    if (!set) {
      set = { type, ttl, records: [], targets: [] };
      node.rrsets.set(type, set);
    }
    set.records.push(rr);
    if (target !== undefined) set.targets.push(target);
    if (type === RRType.SOA && owner === this.origin) {
      this.soa = rr;
      this.soaMinimum = soaMinimum ?? ttl;
    }
    if (type === RRType.NS && owner !== this.origin) this.hasCuts = true;
    if (owner.startsWith('*.')) this.hasWildcards = true;
    this.count++;
  }

  finish(file: string, extraNames: Iterable<string> = []): Zone {
    const origin = this.origin;
    for (const name of extraNames) {
      if (!isSubdomain(name, origin)) continue;
      this.nodeFor(name);
      if (name.startsWith('*.')) this.hasWildcards = true; // a steered wildcard (tenant subdomains)
    }
    if (!this.soa) throw new Error(`zone ${origin} has no SOA at the apex`);
    const s0 = this.soa;
    // A new record, not a spread: a spread would drop ZoneRR's ownerWire getter.
    const negativeSoa: WireRR = new ZoneRR(s0.owner, s0.type, s0.klass, Math.min(s0.ttl, this.soaMinimum), s0.rdata);
    return { origin, file, nodes: this.nodes, soa: s0, negativeSoa, hasCuts: this.hasCuts, hasWildcards: this.hasWildcards, recordCount: this.count };
  }
}

/** The zones a server is authoritative for, matched longest-suffix first. */
export interface ZoneSet {
  byOrigin: Map<string, Zone>;
  /** Longest origin first; used for a scan without allocation when there are few zones. */
  longestFirst: Zone[];
}

export function buildZoneSet(zones: readonly Zone[]): ZoneSet {
  return {
    byOrigin: new Map(zones.map((z) => [z.origin, z])),
    longestFirst: [...zones].sort((a, b) => b.origin.length - a.origin.length),
  };
}

/** Below this many zones a suffix scan beats walking up the name (which slices a string per label). */
const SCAN_LIMIT = 16;

/** The zone with the longest origin that encloses `name`, or null (→ REFUSED). */
export function findZone(set: ZoneSet, name: string): Zone | null {
  if (set.longestFirst.length <= SCAN_LIMIT) {
    for (const z of set.longestFirst) if (isSubdomain(name, z.origin)) return z;
    return null;
  }
  let n = name;
  for (;;) {
    const z = set.byOrigin.get(n);
    if (z) return z;
    if (n === '.') return null;
    n = parentName(n);
  }
}

/** True when `name` is in `zone` and has A or AAAA records of its own. */
export function hasStaticAddresses(zone: Zone, name: string): boolean {
  if (!isSubdomain(name, zone.origin)) return false;
  const node = zone.nodes.get(name);
  return !!node && (node.rrsets.has(RRType.A) || node.rrsets.has(RRType.AAAA));
}
