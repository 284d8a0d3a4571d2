// A zone as the query path sees it: canonical name → node, with RRsets pre-encoded for the wire.
// Built once per snapshot from parsed records; never mutated afterwards.

import { RRType } from '../dns/constants.js';
import { nameToWire, parentName, isSubdomain } from '../dns/name.js';
import { QUESTION_NAME, type WireRR } from '../dns/types.js';
import type { ZoneSigner } from '../dnssec/signer.js';
import type { ZoneRecord } from './masterfile.js';

export interface RRSet {
  type: number;
  ttl: number;
  records: WireRR[];
  /** Canonical names carried in the rdata (CNAME target, NS hosts), for chasing and glue. */
  targets: string[];
  /**
   * At a wildcard: the records owned by QUESTION_NAME, what a name the wildcard covers is answered
   * with (RFC 4592 §3.3.1: the owner is the query name, written as a pointer to the question). Made
   * when the node is, so a synthesized answer encodes no owner per query.
   */
  asQuestion?: readonly WireRR[];
}

export interface ZoneNode {
  name: string;
  /** Empty for an empty non-terminal (RFC 4592 §2.2.2): the name exists, with no data. */
  rrsets: Map<number, RRSet>;
  /** The child `*.<name>`, if any: the wildcard that covers names this node is the closest encloser of. */
  wildcard?: ZoneNode;
}

/** Name → node: a Map, or a compact index that makes nodes on first use (flat-zone.ts, for reloads). */
export interface NodeIndex {
  get(name: string): ZoneNode | undefined;
}

export interface Zone {
  origin: string;
  file: string;
  nodes: NodeIndex;
  soa: WireRR;
  /** SOA as sent in negative answers: TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §3, §5). */
  negativeSoa: WireRR;
  /** True when some name below the apex has NS records (a zone cut). */
  hasCuts: boolean;
  /** True when the zone has a wildcard owner somewhere. */
  hasWildcards: boolean;
  recordCount: number;
  /** The zone's keys and signature cache when it is signed (DNSSEC); absent for an unsigned zone. */
  dnssec?: ZoneSigner;
}

/**
 * A zone record for the wire. Its owner's wire form is made on first use: most answers point at the
 * question instead (the encoder compresses an owner equal to the query name), so a million-record zone
 * would otherwise build a million buffers that are never read. That lazy field is derived data, safe
 * to fill: private, and always the same bytes for the same owner.
 */
export class ZoneRR implements WireRR {
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
  const nodes = new Map<string, ZoneNode>();
  let soa: WireRR | null = null;
  let soaMinimum = 0;
  let hasCuts = false;
  let hasWildcards = false;

  const nodeFor = (name: string): ZoneNode => {
    let node = nodes.get(name);
    if (!node) {
      node = { name, rrsets: new Map() };
      nodes.set(name, node);
      // Every ancestor up to the apex exists, if only as an empty non-terminal.
      if (name !== origin) {
        const parent = nodeFor(parentName(name));
        if (name.startsWith('*.')) parent.wildcard = node;
      }
    }
    return node;
  };
  nodeFor(origin);

  for (const r of records) {
    const rr: WireRR = new ZoneRR(r.owner, r.type, r.klass, r.ttl, r.rdata);
    const node = nodeFor(r.owner);
    let set = node.rrsets.get(r.type);
    if (!set) {
      set = { type: r.type, ttl: r.ttl, records: [], targets: [] };
      node.rrsets.set(r.type, set);
    }
    set.records.push(rr);
    if (r.target !== undefined) set.targets.push(r.target);
    if (r.type === RRType.SOA && r.owner === origin) {
      soa = rr;
      soaMinimum = r.soaMinimum ?? r.ttl;
    }
    if (r.type === RRType.NS && r.owner !== origin) hasCuts = true;
    if (r.owner.startsWith('*.')) hasWildcards = true;
  }
  for (const name of extraNames) {
    if (!isSubdomain(name, origin)) continue;
    nodeFor(name);
    if (name.startsWith('*.')) hasWildcards = true; // a steered wildcard (tenant subdomains)
  }
  if (hasWildcards) for (const node of nodes.values()) addQuestionOwned(node);
  if (!soa) throw new Error(`zone ${origin} has no SOA at the apex`);
  const s0 = soa as WireRR;
  // A new record, not a spread: a spread would drop ZoneRR's ownerWire getter.
  const negativeSoa: WireRR = new ZoneRR(s0.owner, s0.type, s0.klass, Math.min(s0.ttl, soaMinimum), s0.rdata);
  return { origin, file, nodes, soa, negativeSoa, hasCuts, hasWildcards, recordCount: records.length };
}

/** At a wildcard node, each RRset's records as answers to the question (RRSet.asQuestion). */
export function addQuestionOwned(node: ZoneNode): void {
  if (!node.name.startsWith('*.')) return;
  for (const set of node.rrsets.values()) {
    set.asQuestion = set.records.map((r) => ({ owner: QUESTION_NAME, ownerWire: r.ownerWire, type: r.type, klass: r.klass, ttl: r.ttl, rdata: r.rdata }));
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
