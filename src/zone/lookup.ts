// Authoritative lookup over the zones of a snapshot (RFC 1034 §4.3.2), pure.
// Steered hostnames are "dynamic names": the zone knows they exist, the steering engine fills them in.

import { RRType, Rcode } from '../dns/constants.js';
import { isSubdomain, nameToWire, parentName } from '../dns/name.js';
import { QUESTION_NAME, type Answer, type WireRR } from '../dns/types.js';
import { findZone, type RRSet, type Zone, type ZoneNode, type ZoneSet } from './tree.js';

/** RFC 4035 §2.4 type code, the one type answered from the parent side of a zone cut. */
const DS = 43;
/** Bound on CNAME chains (RFC 1034 §3.6.2 warns of loops; BIND stops at 16, Knot at 5 for in-zone chains). */
export const MAX_CNAME_CHAIN = 8;

export interface DynamicAnswer {
  /** Records for the name, owner already set to it (or QUESTION_NAME at a wildcard); empty means NODATA. */
  records: readonly WireRR[];
  servfail: boolean;
  ecsScope: number;
}

export interface DynamicNames {
  /**
   * The steered answer for `name`, or null when it is not a dynamic name. `owner` is the node that
   * matched: `name` itself, or the wildcard that covers it (RFC 4592), e.g. a tenant hostname.
   */
  answer(owner: string, qtype: number, name: string): DynamicAnswer | null;
}

const NONE: readonly WireRR[] = Object.freeze([]);

export function refused(): Answer {
  return { rcode: Rcode.REFUSED, aa: false, answer: NONE, authority: NONE, additional: NONE, ecsScope: 0 };
}

export function lookup(zones: ZoneSet, qname: string, qtype: number, dynamic: DynamicNames | null): Answer {
  const zone = findZone(zones, qname);
  if (!zone) return refused(); // not authoritative: no AA, no referral to the root (RFC 1034 §4.3.2 step 2)
  return lookupInZone(zone, qname, qtype, dynamic);
}

export function lookupInZone(zone: Zone, qname: string, qtype: number, dynamic: DynamicNames | null): Answer {
  let chain: WireRR[] | null = null; // CNAMEs followed so far
  let name = qname;
  let wildcard: string | undefined; // the wildcard the question's own name matched, if any
  for (let step = 0; step <= MAX_CNAME_CHAIN; step++) {
    if (zone.hasCuts) {
      const cut = findCut(zone, name);
      // A DS query at the cut itself belongs to the parent side (RFC 4035 §3.1.4.1).
      if (cut && !(cut.name === name && qtype === DS)) return referral(zone, cut, chain);
    }
    let node = zone.nodes.get(name);
    let synthesizedOwner: string | null = null;
    if (!node) {
      node = zone.hasWildcards ? wildcardFor(zone, name) : undefined;
      if (!node) return negative(zone, Rcode.NXDOMAIN, chain); // RFC 6604: rcode of the last name in the chain
      synthesizedOwner = name; // RFC 4592 §3.3.1: the owner of a synthesized RR is the query name
      if (step === 0) wildcard = node.name;
    }

    if (qtype === RRType.A || qtype === RRType.AAAA || qtype === RRType.ANY) {
      // ANY at a steered name: its A answer, one RRset as RFC 8482 §4.1 allows.
      const dyn = dynamic?.answer(node.name, qtype === RRType.ANY ? RRType.A : qtype, name);
      if (dyn) {
        if (dyn.servfail) return { rcode: Rcode.SERVFAIL, aa: false, answer: chain ?? NONE, authority: NONE, additional: NONE, ecsScope: dyn.ecsScope };
        if (dyn.records.length === 0) return { ...negative(zone, Rcode.NOERROR, chain), ecsScope: dyn.ecsScope };
        // Records owned by "the question" answer the question's name; after a CNAME they need this one.
        const records = name === qname ? dyn.records : ownedBy(dyn.records, name);
        return { rcode: Rcode.NOERROR, aa: true, answer: join(chain, records), authority: NONE, additional: NONE, ecsScope: dyn.ecsScope, wildcard };
      }
    }

    const cname = node.rrsets.get(RRType.CNAME);
    if (cname && qtype !== RRType.CNAME && qtype !== RRType.ANY) {
      chain = chain ?? [];
      pushRecords(chain, cname, synthesizedOwner, qname);
      const target = cname.targets[0];
      // Chase only inside this zone (RFC 1034 §4.3.2 step 3.a); the resolver follows the rest.
      if (target === undefined || !isSubdomain(target, zone.origin)) return positive(chain, NONE, wildcard);
      name = target;
      continue;
    }

    const set = qtype === RRType.ANY ? anyRRSet(node) : node.rrsets.get(qtype);
    if (!set) return negative(zone, Rcode.NOERROR, chain); // NODATA (RFC 2308 §2.2)
    const out = chain ?? [];
    pushRecords(out, set, synthesizedOwner, qname);
    return positive(out, NONE, wildcard);
  }
  // A chain longer than we follow: hand back what we have and let the resolver continue.
  return positive(chain ?? [], NONE, wildcard);
}

function positive(answer: readonly WireRR[], additional: readonly WireRR[], wildcard: string | undefined): Answer {
  return { rcode: Rcode.NOERROR, aa: true, answer, authority: NONE, additional, ecsScope: 0, wildcard };
}

/** NXDOMAIN or NODATA: the SOA in authority with the negative TTL (RFC 2308 §3). */
function negative(zone: Zone, rcode: number, chain: readonly WireRR[] | null): Answer {
  return { rcode, aa: true, answer: chain ?? NONE, authority: [zone.negativeSoa], additional: NONE, ecsScope: 0 };
}

/**
 * The highest zone cut at or above `name` and below the apex: everything under it is the child's.
 */
function findCut(zone: Zone, name: string): ZoneNode | null {
  let found: ZoneNode | null = null;
  let n = name;
  while (n !== zone.origin && n !== '.') {
    const node = zone.nodes.get(n);
    if (node?.rrsets.has(RRType.NS)) found = node;
    n = parentName(n);
  }
  return found;
}

/** Referral: AA clear, the cut's NS in authority, in-zone glue in additional (RFC 1034 §4.3.2 step 3.b). */
function referral(zone: Zone, cut: ZoneNode, chain: readonly WireRR[] | null): Answer {
  const ns = cut.rrsets.get(RRType.NS) as RRSet;
  const glue: WireRR[] = [];
  for (const host of ns.targets) {
    if (!isSubdomain(host, zone.origin)) continue;
    const node = zone.nodes.get(host);
    if (!node) continue;
    const a = node.rrsets.get(RRType.A);
    const aaaa = node.rrsets.get(RRType.AAAA);
    if (a) glue.push(...a.records);
    if (aaaa) glue.push(...aaaa.records);
  }
  // After an in-zone CNAME the answer part is still ours, so AA stays set (RFC 1034 §6.2.7 example).
  return { rcode: Rcode.NOERROR, aa: chain !== null, answer: chain ?? NONE, authority: ns.records, additional: glue, ecsScope: 0 };
}

/**
 * The wildcard node that covers a name that does not exist (RFC 4592 §3.3.1), if any: the closest
 * encloser's `*` child. One Map lookup per label walked up, and no name built.
 */
export function wildcardFor(zone: Zone, name: string): ZoneNode | undefined {
  let encloser = parentName(name);
  for (;;) {
    const node = zone.nodes.get(encloser);
    if (node) return node.wildcard;
    if (encloser === zone.origin || encloser === '.') return undefined;
    encloser = parentName(encloser);
  }
}

/** RFC 8482 §4.1: answer ANY with one RRset rather than all of them. */
function anyRRSet(node: ZoneNode): RRSet | undefined {
  for (const set of node.rrsets.values()) if (set.type !== RRType.SOA || node.rrsets.size === 1) return set;
  return undefined;
}

/** `owner`: the name a wildcard's records are synthesized for (null: the set's own records). */
function pushRecords(out: WireRR[], set: RRSet, owner: string | null, qname: string): void {
  if (owner === null) {
    for (const r of set.records) out.push(r);
    return;
  }
  if (owner === qname && set.asQuestion !== undefined) {
    for (const r of set.asQuestion) out.push(r);
    return;
  }
  const ownerWire = nameToWire(owner);
  for (const r of set.records) out.push({ ...r, owner, ownerWire });
}

/** `records` with QUESTION_NAME replaced by `owner` (allocates only when some record has it). */
function ownedBy(records: readonly WireRR[], owner: string): readonly WireRR[] {
  if (!records.some((r) => r.owner === QUESTION_NAME)) return records;
  const ownerWire = nameToWire(owner);
  return records.map((r) => (r.owner === QUESTION_NAME ? { ...r, owner, ownerWire } : r));
}

function join(chain: readonly WireRR[] | null, records: readonly WireRR[]): readonly WireRR[] {
  return chain ? [...chain, ...records] : records;
}
