// Turns an answer of a signed zone into its DNSSEC form for a query with DO=1 (RFC 4035 §3.1):
// RRSIGs after every authoritative RRset, compact denial NSECs for NXDOMAIN and NODATA (see nsec.ts),
// an NSEC proving the absence of DS at a referral (RFC 4035 §3.1.4.1), and, for a wildcard expansion,
// the proof that the name asked does not exist (RFC 4035 §3.1.3.3). Unsigned zones are untouched.

import { Rcode, RRClass, RRType } from '../dns/constants.js';
import { labelCount, nameToWire, parentName } from '../dns/name.js';
import { QUESTION_NAME, type Answer, type WireRR } from '../dns/types.js';
import type { Snapshot, SteeredName } from '../state/snapshot.js';
import { wildcardFor } from '../zone/lookup.js';
import { findZone, type Zone } from '../zone/tree.js';
import { afterSubtreeWire, NSEC, nsecRdata, NXNAME, predecessorWire, RRSIG, successorWire, typeBitmap, wireToName } from './nsec.js';
import type { ZoneSigner } from './signer.js';

const DS = 43;
const NONE: readonly WireRR[] = Object.freeze([]);

/**
 * The answer to a DO=1 query: signed when its zone is, else as it was. `now` in ms. `compactOk`: the
 * query set CO (RFC 9824 §5.1), so a name that does not exist keeps its NXDOMAIN rcode.
 */
export function withDnssec(ans: Answer, qname: string, qtype: number, snap: Snapshot, now: number, compactOk = false): Answer {
  const zone = findZone(snap.zones, qname);
  const signer = zone?.dnssec;
  return zone === null || signer === undefined ? ans : secureAnswer(ans, qname, qtype, zone, signer, snap.steered, now, compactOk);
}

export function secureAnswer(
  ans: Answer, qname: string, qtype: number, zone: Zone, signer: ZoneSigner, steered: ReadonlyMap<string, SteeredName>, now: number,
  compactOk = false,
): Answer {
  if (ans.rcode !== Rcode.NOERROR && ans.rcode !== Rcode.NXDOMAIN) return ans;
  if (qtype === RRSIG && !isReferral(ans, zone)) return rrsigAnswer(ans, qname, zone, signer, steered, now);
  const src = ans.answer;
  const answer: WireRR[] = [];
  const proofs: WireRR[] = [];
  let final = qname; // the name the answer ends at (after in-zone CNAMEs): the one a denial is about
  for (let i = 0; i < src.length; ) {
    const first = src[i];
    let j = i + 1;
    while (j < src.length && src[j].owner === first.owner && src[j].type === first.type) j++;
    const records = src.slice(i, j);
    for (const r of records) answer.push(r);
    const owner = first.owner === QUESTION_NAME ? qname : first.owner;
    let signedOwner = owner;
    let labels = labelCount(owner) - (owner.startsWith('*.') ? 1 : 0);
    if (zone.nodes.get(owner) === undefined) {
      // Synthesized from a wildcard (RFC 4592): signed as the wildcard, Labels without the `*`.
      const wc = wildcardFor(zone, owner);
      if (wc !== undefined) {
        signedOwner = wc.name;
        labels = labelCount(wc.name) - 1;
        pushNoSuchName(proofs, zone, signer, owner, parentName(wc.name), now);
      }
    }
    const sigs = signer.sign({
      owner: first.owner, ownerWire: first.ownerWire, signedOwner, signedOwnerWire: signedOwner === owner ? first.ownerWire : signer.wireOf(signedOwner),
      labels, type: first.type, ttl: first.ttl, records,
    }, now);
    for (const s of sigs) answer.push(s);
    if (first.type === RRType.CNAME) final = wireToName(first.rdata);
    i = j;
  }

  let rcode = ans.rcode;
  let authority: readonly WireRR[] = ans.authority;
  const head = authority[0];
  if (head !== undefined && head.type === RRType.SOA) {
    // NXDOMAIN or NODATA, both as NODATA with an NSEC at the name (RFC 9824).
    const out: WireRR[] = [head, ...signOne(signer, head, now)];
    // The type asked is never listed: a steered name has AAAA in some regions and not in the one
    // this client was given, and this answer must prove "no AAAA here" for that client.
    const types = ans.rcode === Rcode.NXDOMAIN ? [NXNAME] : typesAt(zone, steered, final).filter((t) => t !== qtype);
    // RFC 9824 §5.1: a querier that set CO is told NXDOMAIN for a name that does not exist, with the
    // same NXNAME NSEC; others get NOERROR (§3.1).
    rcode = compactOk && ans.rcode === Rcode.NXDOMAIN ? Rcode.NXDOMAIN : Rcode.NOERROR;
    if (qtype === NSEC) {
      // The NSEC made for the name is the answer to a question for its NSEC (RFC 9824): a
      // NODATA listing NSEC in its own bitmap would contradict itself. Data owned by the name
      // asked answers it, so the rcode stays NOERROR even with CO.
      pushNsec(answer, signer, final, [...types, RRSIG, NSEC], head.ttl, now);
      authority = NONE;
      rcode = Rcode.NOERROR;
    } else {
      pushNsec(out, signer, final, [...types, RRSIG, NSEC], head.ttl, now);
      for (const p of proofs) out.push(p); // a wildcard CNAME on the way here still needs its proof
      authority = out;
    }
  } else if (isReferral(ans, zone)) {
    // Referral: the NS set is the child's (not signed, RFC 4035 §2.2); an NSEC at the cut says no DS.
    const out: WireRR[] = [...authority];
    pushNsec(out, signer, head.owner, [RRType.NS, RRSIG, NSEC], zone.negativeSoa.ttl, now);
    for (const p of proofs) out.push(p);
    authority = out;
  } else if (proofs.length > 0) {
    authority = authority.length === 0 ? proofs : [...authority, ...proofs];
  }
  return { ...ans, rcode, answer, authority };
}

function isReferral(ans: Answer, zone: Zone): boolean {
  const head = ans.authority[0];
  return head !== undefined && head.type === RRType.NS && head.owner !== zone.origin;
}

/**
 * A question for type RRSIG (DO=1): the RRSIGs at the name, the signatures of each of its RRsets
 * (RFC 3225 §3: security records matching an explicit query for them are returned). A NODATA cannot
 * be proven for it: the NSEC that would prove it is itself signed, so its bitmap always has RRSIG.
 * A name with no RRset of its own (one that does not exist, or an empty non-terminal) owns, as
 * compact denial presents it, its NSEC: the answer is that NSEC's signature. Steered A/AAAA sets differ per client
 * and are left out; RRSIGs are never signed (RFC 4035 §2.2), and no resolver validates this answer.
 */
function rrsigAnswer(ans: Answer, qname: string, zone: Zone, signer: ZoneSigner, steered: ReadonlyMap<string, SteeredName>, now: number): Answer {
  const answer: WireRR[] = [];
  const exact = zone.nodes.get(qname);
  const node = exact ?? wildcardFor(zone, qname);
  if (node !== undefined) {
    // A wildcard's signatures, under the name asked (RFC 4035 §5.3.2: Labels tells a validator).
    const ownerWire = exact !== undefined ? null : nameToWire(qname);
    const labels = exact !== undefined ? labelCount(qname) - (qname.startsWith('*.') ? 1 : 0) : labelCount(node.name) - 1;
    for (const set of node.rrsets.values()) {
      const first = set.records[0];
      if (first === undefined) continue;
      const sigs = signer.sign({
        owner: qname, ownerWire: ownerWire ?? first.ownerWire, signedOwner: node.name, signedOwnerWire: first.ownerWire,
        labels, type: set.type, ttl: first.ttl, records: set.records,
      }, now);
      for (const s of sigs) answer.push(s);
    }
  }
  if (answer.length === 0) {
    const nsec: WireRR[] = [];
    const types = node === undefined ? [NXNAME] : typesAt(zone, steered, qname);
    pushNsec(nsec, signer, qname, [...types, RRSIG, NSEC], zone.negativeSoa.ttl, now);
    for (const rr of nsec) if (rr.type === RRSIG) answer.push(rr);
  }
  return { ...ans, rcode: Rcode.NOERROR, aa: true, answer, authority: NONE, additional: NONE };
}

function signOne(signer: ZoneSigner, rr: WireRR, now: number): readonly WireRR[] {
  return signer.sign({
    owner: rr.owner, ownerWire: rr.ownerWire, signedOwner: rr.owner, signedOwnerWire: rr.ownerWire,
    labels: labelCount(rr.owner), type: rr.type, ttl: rr.ttl, records: [rr],
  }, now);
}

/** An NSEC at `owner` whose next name is `owner`'s successor (`\000.<owner>`), with its RRSIGs. */
function pushNsec(out: WireRR[], signer: ZoneSigner, owner: string, types: number[], ttl: number, now: number): void {
  const nsec = signer.derived(`${owner}|${ttl}|${types.join(',')}`, () => {
    const ownerWire = nameToWire(owner);
    const next = successorWire(ownerWire);
    // A name too long to have a successor: the answer stays unproven.
    return next === null ? null : { owner, ownerWire, type: NSEC, klass: RRClass.IN, ttl, rdata: nsecRdata(next, typeBitmap(types)) };
  });
  if (nsec !== null) out.push(nsec, ...signOne(signer, nsec, now));
}

/**
 * RFC 4035 §3.1.3.3: an answer made from a wildcard carries an NSEC showing that the next closer name
 * (the closest encloser plus one label of `name`) does not exist. The NSEC spans from just before that
 * name to just after its subtree, so it covers `name` too and nothing else in the zone.
 */
function pushNoSuchName(out: WireRR[], zone: Zone, signer: ZoneSigner, name: string, encloser: string, now: number): void {
  let nextCloser = name;
  while (parentName(nextCloser) !== encloser && nextCloser !== '.') nextCloser = parentName(nextCloser);
  const nsec = signer.derived(`~${nextCloser}`, () => {
    const wire = nameToWire(nextCloser);
    const before = predecessorWire(wire);
    const after = afterSubtreeWire(wire) ?? successorWire(wire);
    if (before === null || after === null) return null;
    return { owner: wireToName(before), ownerWire: before, type: NSEC, klass: RRClass.IN, ttl: zone.negativeSoa.ttl, rdata: nsecRdata(after, typeBitmap([RRSIG, NSEC])) };
  });
  if (nsec !== null) out.push(nsec, ...signOne(signer, nsec, now));
}

/** The types a name has, for a NODATA NSEC: its static RRsets, plus A/AAAA when steered. */
function typesAt(zone: Zone, steered: ReadonlyMap<string, SteeredName>, name: string): number[] {
  const node = zone.nodes.get(name) ?? wildcardFor(zone, name);
  if (node === undefined) return [];
  // At a zone cut only NS (and a DS, if ever served) is the parent's data (RFC 4035 §2.3).
  if (node.name !== zone.origin && node.rrsets.has(RRType.NS)) return node.rrsets.has(DS) ? [RRType.NS, DS] : [RRType.NS];
  const types = [...node.rrsets.keys()];
  const s = steered.get(node.name);
  if (s !== undefined) {
    for (const ep of s.policy.pools.values()) {
      if (ep.v4.length > 0) types.push(RRType.A);
      if (ep.v6.length > 0) types.push(RRType.AAAA);
    }
  }
  return types;
}
