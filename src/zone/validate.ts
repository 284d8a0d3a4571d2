// Whole-zone checks after parsing: apex SOA and NS (RFC 1035 §5.2), CNAME exclusivity
// (RFC 1034 §3.6.2, RFC 2181 §10.1), data outside the zone, and data hidden below a zone cut
// (RFC 1034 §4.2.1). Each problem is an error at the record's file:line saying what to fix.

import type { ConfigError } from '../config/errors.js';
import { RRType, typeName } from '../dns/constants.js';
import { isSubdomain, parentName } from '../dns/name.js';
import { MAX_ERRORS, ZoneErrorCode, type ZoneRecord } from './masterfile.js';
import type { ConfigErrorCode } from '../config/error-codes.js';

// Types that may share an owner with a CNAME (RFC 4035 §2.5: DNSSEC's own records).
const RRSIG = 46;
const NSEC = 47;
const DS = 43;

function where(r: ZoneRecord): string {
  return `${r.file}:${r.line}`;
}

function sameRdata(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Records with distinct rdata (identical duplicates are one record, RFC 2181 §5). */
function distinct(rs: ZoneRecord[]): ZoneRecord[] {
  const out: ZoneRecord[] = [];
  for (const r of rs) if (!out.some((o) => sameRdata(o.rdata, r.rdata))) out.push(r);
  return out;
}

export function validateZone(origin: string, records: ZoneRecord[], originFile: string): ConfigError[] {
  const errors: ConfigError[] = [];
  let dropped = 0;
  // Capped while collecting: a wrong $ORIGIN puts every record out of zone.
  const err: Report = (code, r, message) => {
    if (r && errors.length >= MAX_ERRORS) { dropped++; return; }
    errors.push({ code, file: r ? r.file : originFile, line: r ? r.line : 0, message });
  };

  // One pass over all records; per-owner lists are built only for the few owners that need
  // them (CNAME owners, delegations), so a million-record zone stays cheap.
  const apexSoa: ZoneRecord[] = [];
  let apexNs = false;
  const cnameOwners = new Map<string, ZoneRecord[]>();
  const cuts = new Map<string, ZoneRecord>(); // non-apex owner with NS → its first NS record
  const inZone: ZoneRecord[] = [];
  for (const r of records) {
    if (!isSubdomain(r.owner, origin)) {
      err(ZoneErrorCode.OUT_OF_ZONE, r, `${typeName(r.type)} record for ${r.owner} is outside the zone ${origin}: use a name at or below ${origin}, or put it in that name's own zone file`);
      continue;
    }
    inZone.push(r);
    const apex = r.owner === origin;
    if (r.type === RRType.SOA) {
      if (apex) apexSoa.push(r);
      else err(ZoneErrorCode.SOA_NOT_AT_APEX, r, `SOA record for ${r.owner} is not at the zone apex ${origin}: a zone has one SOA, at its apex; remove this one or move ${r.owner} to its own zone file`);
    } else if (r.type === RRType.NS) {
      if (apex) apexNs = true;
      else if (!cuts.has(r.owner)) cuts.set(r.owner, r);
    } else if (r.type === RRType.CNAME) {
      cnameOwners.set(r.owner, []);
    }
  }

  const soas = distinct(apexSoa);
  if (soas.length === 0) {
    err(ZoneErrorCode.NO_SOA, undefined, `zone ${origin} has no SOA record at its apex: add e.g. "@ IN SOA ns1.${origin} hostmaster.${origin} 1 7200 3600 1209600 300"`);
  }
  for (const extra of soas.slice(1)) {
    err(ZoneErrorCode.MULTIPLE_SOA, extra, `second SOA record for ${origin} (the first is at ${where(soas[0])}): a zone has exactly one SOA; remove one`);
  }
  if (!apexNs) {
    err(ZoneErrorCode.NO_APEX_NS, soas[0], `zone ${origin} has no NS records at its apex: add at least one, e.g. "@ IN NS ns1.${origin}"`);
  }

  if (cnameOwners.size > 0) {
    let lastOwner = '';
    let list: ZoneRecord[] | undefined;
    for (const r of inZone) {
      if (r.owner !== lastOwner) { lastOwner = r.owner; list = cnameOwners.get(r.owner); }
      list?.push(r);
    }
    for (const [owner, rs] of cnameOwners) checkCname(owner, rs, origin, err);
  }
  if (cuts.size > 0) checkOccluded(inZone, cuts, origin, err);

  errors.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  if (errors.length + dropped <= MAX_ERRORS) return errors;
  const kept = errors.slice(0, MAX_ERRORS - 1);
  kept.push({ code: ZoneErrorCode.TOO_MANY_ERRORS, file: originFile, line: 0, message: `${errors.length + dropped - kept.length} more problems in zone ${origin} not shown: fix the errors above first` });
  return kept;
}

type Report = (code: ConfigErrorCode, r: ZoneRecord | undefined, message: string) => void;

/** RFC 1034 §3.6.2: a CNAME owner has no other data, and one CNAME; the apex has none. */
function checkCname(owner: string, rs: ZoneRecord[], origin: string, err: Report): void {
  if (rs.length === 1 && owner !== origin) return; // the common case: the CNAME alone
  const cnames = distinct(rs.filter((r) => r.type === RRType.CNAME));
  const first = cnames[0];
  if (owner === origin) {
    err(ZoneErrorCode.CNAME_AT_APEX, first, `CNAME at the zone apex ${origin} is not allowed (the apex needs SOA and NS records, and a CNAME cannot share its name): use A/AAAA records at the apex instead`);
    return;
  }
  for (const extra of cnames.slice(1)) {
    err(ZoneErrorCode.MULTIPLE_CNAME, extra, `second CNAME for ${owner} (the first is at ${where(first)}): a name has at most one CNAME; remove one`);
  }
  const others = new Map<number, ZoneRecord>();
  for (const r of rs) {
    if (r.type !== RRType.CNAME && r.type !== RRSIG && r.type !== NSEC && !others.has(r.type)) others.set(r.type, r);
  }
  if (others.size === 0) return;
  const list = [...others.values()].map((r) => `${typeName(r.type)} at ${where(r)}`).join(', ');
  err(ZoneErrorCode.CNAME_AND_OTHER_DATA, first, `CNAME for ${owner} cannot coexist with other data at that name (${list}) (RFC 1034 §3.6.2): remove the CNAME or the other records, or give one of them another name`);
}

/**
 * RFC 1034 §4.2.1: below an NS at a non-apex name the data belongs to the child zone, so only
 * glue addresses may be there; at the cut itself only NS, DS and glue.
 */
function checkOccluded(records: ZoneRecord[], cuts: Map<string, ZoneRecord>, origin: string, err: Report): void {
  let lastOwner = '';
  let above: ZoneRecord | undefined; // the delegation above lastOwner, if any
  for (const r of records) {
    if (isGlue(r) || r.owner === origin) continue;
    if (r.owner !== lastOwner) { lastOwner = r.owner; above = cutAbove(r.owner, cuts, origin); }
    if (above) {
      err(ZoneErrorCode.OCCLUDED, r, `${typeName(r.type)} record for ${r.owner} is occluded: it is below the delegation to ${above.owner} (NS at ${where(above)}) and would never be served; only glue A/AAAA records belong below a zone cut. Move it to the child zone or remove the delegation`);
      continue;
    }
    const atCut = cuts.get(r.owner);
    // CNAME beside the NS is already reported as CNAME-and-other-data.
    if (atCut && r.type !== RRType.NS && r.type !== DS && r.type !== RRType.CNAME) {
      err(ZoneErrorCode.OCCLUDED, r, `${typeName(r.type)} record for ${r.owner} is occluded: ${r.owner} is delegated (NS at ${where(atCut)}), so only NS, DS and glue A/AAAA records belong there; move it to the child zone or remove the delegation`);
    }
  }
}

function isGlue(r: ZoneRecord): boolean {
  return r.type === RRType.A || r.type === RRType.AAAA;
}

/** The highest delegation strictly above `owner` and below the apex, if any. */
function cutAbove(owner: string, cuts: Map<string, ZoneRecord>, origin: string): ZoneRecord | undefined {
  let found: ZoneRecord | undefined;
  for (let n = parentName(owner); n !== origin && n !== '.'; n = parentName(n)) {
    const c = cuts.get(n);
    if (c) found = c;
  }
  return found;
}
