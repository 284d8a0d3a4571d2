// A signed zone's keys and its signature cache. Private derived data: queries fill it, nothing reads
// it but this class, and it holds at most `maxEntries` RRsets.
//
// Signatures are cached by the RRset's content (owner as signed, type, TTL, sorted rdata), so a
// steered answer that many clients share is signed once, not per query. A signature is valid from a
// little in the past (clock skew of validators) to `validity` ahead plus a random jitter (so that the
// signatures made at load do not all expire together), and is remade once 3/4 of that time has passed,
// long before any validator could see it expire.

import { RRClass, RRType } from '../dns/constants.js';
import { nameToWire } from '../dns/name.js';
import type { WireRR } from '../dns/types.js';
import { dnssecSignatures } from '../obs/metrics.js';
import { SEP, type DnssecKey } from './keys.js';
import { CDNSKEY, CDS, DNSKEY, RRSIG } from './nsec.js';
import { makeRrsig } from './rrsig.js';

export interface SignerOptions {
  /** Seconds a signature is valid for, before jitter (default 14 days). */
  validity?: number;
  /** Seconds of random extra validity, so expirations spread out (default 1 day). */
  jitter?: number;
  /** Seconds the inception is set back (default 1 hour). */
  skew?: number;
  /** RRsets kept (default 100,000). */
  maxEntries?: number;
  random?: () => number;
}

interface Entry {
  /** The RRSIG records for `owner`. */
  rrsigs: readonly WireRR[];
  owner: string;
  signedOwner: string;
  /** ms since epoch after which the signatures are remade. */
  refreshAt: number;
}

export interface SignRequest {
  /** Owner written in the answer (may be QUESTION_NAME). */
  owner: string;
  ownerWire: Uint8Array;
  /** Owner as signed: the wildcard for a synthesized RRset, else the owner. */
  signedOwner: string;
  signedOwnerWire: Uint8Array;
  labels: number;
  type: number;
  ttl: number;
  records: readonly WireRR[];
}

const rdataKeys = new WeakMap<Uint8Array, string>();

function rdataKey(rd: Uint8Array): string {
  let k = rdataKeys.get(rd);
  if (k === undefined) {
    k = Buffer.from(rd.buffer, rd.byteOffset, rd.byteLength).toString('latin1');
    rdataKeys.set(rd, k);
  }
  return k;
}

export class ZoneSigner {
  private readonly cache = new Map<string, Entry>();
  /**
   * Fast path for one-record RRsets (most steered answers): the entry by the record object, which the
   * snapshot keeps for its lifetime, so a query builds no key. Holds at most one entry per live record.
   */
  private readonly byRecord = new WeakMap<WireRR, Entry>();
  /** Records made on the fly and kept (denial NSECs), so repeated questions reuse objects and keys. */
  private readonly made = new Map<string, WireRR | null>();
  private readonly wires = new Map<string, Uint8Array>();
  private readonly validity: number;
  private readonly jitter: number;
  private readonly skew: number;
  private readonly maxEntries: number;
  private readonly random: () => number;
  /** Keys that sign the DNSKEY, CDS and CDNSKEY sets: the KSKs, or the CSK. */
  readonly ksks: readonly DnssecKey[];
  /** Keys that sign everything else: the ZSKs, or the CSK. */
  readonly zsks: readonly DnssecKey[];

  constructor(readonly origin: string, readonly keys: readonly DnssecKey[], opts: SignerOptions = {}) {
    const sep = keys.filter((k) => (k.flags & SEP) !== 0);
    const zsk = keys.filter((k) => (k.flags & SEP) === 0);
    this.ksks = sep.length > 0 ? sep : zsk;
    this.zsks = zsk.length > 0 ? zsk : sep;
    this.validity = opts.validity ?? 14 * 86400;
    this.jitter = opts.jitter ?? 86400;
    this.skew = opts.skew ?? 3600;
    this.maxEntries = opts.maxEntries ?? 100_000;
    this.random = opts.random ?? Math.random;
  }

  get size(): number {
    return this.cache.size;
  }

  /** The RRSIGs of one RRset, from the cache when still fresh; `now` in ms. */
  sign(req: SignRequest, now: number): readonly WireRR[] {
    const one = req.records.length === 1 ? req.records[0] : null;
    if (one !== null) {
      const hit = this.byRecord.get(one);
      if (hit !== undefined && hit.owner === req.owner && hit.signedOwner === req.signedOwner && now < hit.refreshAt) return hit.rrsigs;
    }
    const rdatas = req.records.length === 1 ? [rdataKey(req.records[0].rdata)] : req.records.map((r) => rdataKey(r.rdata)).sort();
    const key = `${req.signedOwner}|${req.type}|${req.ttl}|${rdatas.join('\u0100')}`;
    let e = this.cache.get(key);
    if (e === undefined || now >= e.refreshAt) {
      e = this.make(req, rdatas, now);
      if (this.cache.size >= this.maxEntries) {
        // Oldest inserted first out: a bound, not an LRU; hot RRsets are simply signed again.
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
      this.cache.set(key, e);
    }
    if (one !== null && e.owner === req.owner) this.byRecord.set(one, e);
    if (e.owner !== req.owner) {
      // Same signatures under another owner (a wildcard answered for another name).
      return e.rrsigs.map((r) => ({ ...r, owner: req.owner, ownerWire: req.ownerWire }));
    }
    return e.rrsigs;
  }

  /** Wire form of a name this zone signs under (a wildcard owner), made once. */
  wireOf(name: string): Uint8Array {
    let w = this.wires.get(name);
    if (w === undefined) {
      w = nameToWire(name);
      this.wires.set(name, w);
    }
    return w;
  }

  /** A record derived from `key` alone (e.g. an NSEC), made once and kept, bounded like the cache. */
  derived(key: string, make: () => WireRR | null): WireRR | null {
    let rr = this.made.get(key);
    if (rr === undefined) {
      rr = make();
      if (this.made.size >= this.maxEntries) {
        const oldest = this.made.keys().next().value;
        if (oldest !== undefined) this.made.delete(oldest);
      }
      this.made.set(key, rr);
    }
    return rr;
  }

  private make(req: SignRequest, sortedKeys: readonly string[], now: number): Entry {
    const unique = [...new Set(sortedKeys)];
    const rdatas = unique.map((k) => Buffer.from(k, 'latin1'));
    const sec = Math.floor(now / 1000);
    const inception = sec - this.skew;
    const expiration = sec + this.validity + Math.floor(this.random() * this.jitter);
    const keys = req.type === DNSKEY || req.type === CDS || req.type === CDNSKEY ? this.ksks : this.zsks;
    const rrsigs: WireRR[] = keys.map((k) => ({
      owner: req.owner,
      ownerWire: req.ownerWire,
      type: RRSIG,
      klass: RRClass.IN,
      ttl: req.ttl,
      rdata: makeRrsig({ ownerWire: req.signedOwnerWire, type: req.type, ttl: req.ttl, rdatas, labels: req.labels }, k, { inception, expiration }),
    }));
    dnssecSignatures.inc(rrsigs.length);
    const refreshAt = (inception + ((expiration - inception) * 3) / 4) * 1000;
    return { rrsigs, owner: req.owner, signedOwner: req.signedOwner, refreshAt };
  }
}

/** Types never signed in an answer: OPT is not data, RRSIG is not signed (RFC 4035 §2.2). */
export function isSignable(type: number): boolean {
  return type !== RRType.OPT && type !== RRSIG;
}
