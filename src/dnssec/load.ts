// At load: a zone with keys in the keys folder becomes signed. Its apex gains the DNSKEY set and, for
// the KSKs (or CSK), CDS and CDNSKEY (RFC 7344, RFC 8078: the parent can pick up the DS from them),
// and a signer that signs each RRset when first answered (load-time signing is kept for
// `regiondns check` and tests). Zones without keys are left as they are.

import path from 'node:path';
import type { ConfigError } from '../config/errors.js';
import { RRClass, RRType } from '../dns/constants.js';
import { labelCount, nameToWire } from '../dns/name.js';
import type { WireRR } from '../dns/types.js';
import type { ZoneRecord } from '../zone/masterfile.js';
import { dsRdata, isActive, isPublished, KeyFileError, readZoneKeys, type DnssecKey } from './keys.js';
import { CDNSKEY, CDS, DNSKEY, NSEC, RRSIG } from './nsec.js';
import { ZoneSigner, type SignerOptions } from './signer.js';
import { OtherConfigError } from '../config/error-codes.js';

export const KEYS_DIR_NAME = 'keys';

/** The default keys folder: `keys/` inside the zones folder, so keys travel with the zones. */
export function defaultKeysDir(zonesDir: string): string {
  return path.join(zonesDir, KEYS_DIR_NAME);
}

export interface SignableZone {
  origin: string;
  records: ZoneRecord[];
  dnssec?: ZoneSigner;
}

/**
 * RRsets signed at load, per zone, apex first. Every worker loads every zone, and a 100,000-record
 * zone took 10 s and 200 MB more per worker to sign whole; beyond this many RRsets, signing on
 * first use costs each new RRset about 0.1 ms once, and the signature cache holds only what is asked.
 */
export const PRESIGN_LIMIT = 10_000;

/** The signer each zone got at its last load in this process, by origin. */
const lastSigners = new Map<string, { id: string; signer: ZoneSigner }>();

function keySetId(keys: readonly DnssecKey[]): string {
  return keys.map((k) => Buffer.from(k.dnskey).toString('base64')).sort().join(' ');
}

/** A zone's keys in force now: the published ones (in the DNSKEY set) and the active ones (signing). */
function keysInForce(origin: string, keysDir: string, errors: ConfigError[], now: number): { published: DnssecKey[]; active: DnssecKey[] } | null {
  let keys: DnssecKey[];
  try {
    keys = readZoneKeys(keysDir, origin);
  } catch (e) {
    if (!(e instanceof KeyFileError)) throw e;
    errors.push({ code: OtherConfigError.DNSSEC_KEY, file: e.file, line: e.line, message: e.message });
    return null;
  }
  // BIND's timing metadata, read at each load: a published key is in the DNSKEY set, an active
  // one signs. Reload (SIGHUP) to apply a time that has passed.
  const published = keys.filter((k) => isPublished(k, now));
  const active = published.filter((k) => isActive(k, now));
  if (active.length === 0) {
    if (keys.length > 0) errors.push({ code: OtherConfigError.DNSSEC_KEY, file: keys[0].file, line: 0, message: `zone ${origin} has key files but no key that is active now (see their Publish/Activate/Inactive/Delete times)` });
    return null;
  }
  return { published, active };
}

/**
 * The signer of a zone with keys, or null. Same keys as at the zone's last load in this process:
 * the same signer, so RRsets that did not change keep their signatures and only new content is signed.
 */
export function zoneSigner(origin: string, keysDir: string, errors: ConfigError[], opts: SignerOptions = {}, now = Date.now()): ZoneSigner | null {
  const keys = keysInForce(origin, keysDir, errors, now);
  if (keys === null) {
    lastSigners.delete(origin);
    return null;
  }
  const id = keySetId(keys.active);
  const before = lastSigners.get(origin);
  const signer = before !== undefined && before.id === id && Object.keys(opts).length === 0 ? before.signer : new ZoneSigner(origin, keys.active, opts);
  lastSigners.set(origin, { id, signer });
  return signer;
}

/**
 * Adds keys to the zones that have them (in place): the DNSKEY set and, for the KSKs (or CSK), CDS
 * and CDNSKEY at the apex. With `sign` (the default) the zone also gets its signer and its static
 * RRsets are signed now; without (the reload process, which holds no signer for the serving side)
 * only the records are added, and the serving side attaches the signer (zoneSigner). A key file
 * that cannot be read is an error naming it: the zone is not served half-signed.
 */
export function attachKeys(
  zones: SignableZone[], keysDir: string, errors: ConfigError[], opts: SignerOptions = {}, now = Date.now(), sign = true, presignLimit = PRESIGN_LIMIT,
): void {
  for (const zone of zones) {
    const keys = keysInForce(zone.origin, keysDir, errors, now);
    if (keys === null) {
      lastSigners.delete(zone.origin);
      continue;
    }
    const soa = zone.records.find((r) => r.type === RRType.SOA && r.owner === zone.origin);
    const ttl = soa?.ttl ?? 3600;
    const rec = (type: number, rdata: Uint8Array, key: DnssecKey): ZoneRecord =>
      ({ owner: zone.origin, type, klass: RRClass.IN, ttl, rdata, file: key.file, line: 1 });
    // Records of these types in the zone file would clash with the ones made here.
    zone.records = zone.records.filter((r) => ![DNSKEY, CDS, CDNSKEY, RRSIG, NSEC].includes(r.type));
    for (const k of keys.published) zone.records.push(rec(DNSKEY, k.dnskey, k));
    const ksks = keys.active.filter((k) => (k.flags & 1) !== 0);
    for (const k of ksks.length > 0 ? ksks : keys.active) {
      zone.records.push(rec(CDNSKEY, k.dnskey, k));
      zone.records.push(rec(CDS, dsRdata(zone.origin, k), k));
    }
    if (!sign) continue;
    const signer = zoneSigner(zone.origin, keysDir, errors, opts, now)!;
    presign(signer, zone, now, presignLimit);
    zone.dnssec = signer;
  }
}

/** Signs the authoritative static RRsets (not delegation NS or glue: RFC 4035 §2.2), at most `limit`, apex first. */
function presign(signer: ZoneSigner, zone: SignableZone, now: number, limit: number): void {
  const sets = new Map<string, ZoneRecord[]>();
  const cuts = new Set<string>();
  for (const r of zone.records) if (r.type === RRType.NS && r.owner !== zone.origin) cuts.add(r.owner);
  // Grouped without wire forms, apex first, and no new RRset once `limit` are held.
  for (const apex of [true, false]) {
    for (const r of zone.records) {
      if ((r.owner === zone.origin) !== apex || belowCut(r.owner, cuts)) continue;
      const key = `${r.owner}|${r.type}`;
      let list = sets.get(key);
      if (!list) {
        if (sets.size >= limit) continue;
        sets.set(key, (list = []));
      }
      list.push(r);
    }
  }
  for (const list of sets.values()) {
    const ownerWire = nameToWire(list[0].owner);
    const records: WireRR[] = list.map((r) => ({ owner: r.owner, ownerWire, type: r.type, klass: r.klass, ttl: r.ttl, rdata: r.rdata }));
    const first = records[0];
    const wildcard = first.owner.startsWith('*.');
    signer.sign({
      owner: first.owner, ownerWire, signedOwner: first.owner, signedOwnerWire: ownerWire,
      labels: labelCount(first.owner) - (wildcard ? 1 : 0), type: first.type, ttl: first.ttl, records,
    }, now);
  }
}

/** True for a name at or below a zone cut (the cut's NS and glue are the child's). */
function belowCut(name: string, cuts: ReadonlySet<string>): boolean {
  if (cuts.size === 0) return false;
  for (const c of cuts) if (name === c || name.endsWith('.' + c)) return true;
  return false;
}
