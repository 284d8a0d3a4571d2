// Loads every `*.zone` file of a folder: parse, make RRsets sound (RFC 2181 §5), validate.
// A zone with any error is left out; the caller decides whether to keep its previous snapshot.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ConfigError } from '../config/errors.js';
import { notRegular, readConfigBytes } from '../config/read-file.js';
import type { ZoneSigner } from '../dnssec/signer.js';
import { typeName } from '../dns/constants.js';
import { parseMasterFile, ZoneErrorCode, type ZoneRecord } from './masterfile.js';
import { absoluteName } from './rdata.js';
import { validateZone } from './validate.js';
import { ZoneWarningCode } from '../config/error-codes.js';

export interface LoadedZone {
  origin: string;
  file: string;
  records: ZoneRecord[];
  /** Set when the zone has DNSSEC keys (src/dnssec/load.ts): the zone is signed. */
  dnssec?: ZoneSigner;
  /** Content hash of the file and its $INCLUDEs (hex): equal hashes, equal zone. */
  hash?: string;
}

export interface LoadResult {
  zones: LoadedZone[];
  errors: ConfigError[];
  /** Problems fixed on load (TTLs made equal in an RRset); the zone is still served. */
  warnings: ConfigError[];
  /** Origins of zone files that did not load: what depends on them is judged once they load. */
  failedOrigins: string[];
  /** Files whose content (with their $INCLUDEs) was unchanged since the last load with the same cache: not parsed again. */
  unchanged: string[];
}

type FileResult = { zone?: LoadedZone; errors: ConfigError[]; warnings: ConfigError[] };

/**
 * What the last load of each zone file found, by content hash, so a reload parses only the files
 * that changed. One per long-lived loader (the reload process); a load keeps only the files it saw.
 */
export class ZoneFileCache {
  private entries = new Map<string, { hash: string; includes: { path: string; hash: string }[]; result: FileResult }>();
  private seen = new Map<string, { hash: string; includes: { path: string; hash: string }[]; result: FileResult }>();

  /** The previous result when the file and every file it included still hash the same. */
  lookup(file: string, hash: string): FileResult | null {
    const e = this.entries.get(file);
    if (!e || e.hash !== hash) return null;
    for (const inc of e.includes) {
      try {
        if (sha256(readConfigBytes(inc.path)) !== inc.hash) return null;
      } catch {
        return null; // parse again: it reports why the include cannot be read
      }
    }
    this.seen.set(file, e);
    return e.result;
  }

  store(file: string, hash: string, includes: { path: string; hash: string }[], result: FileResult): void {
    this.seen.set(file, { hash, includes, result });
  }

  /** Ends one load: forget files that are gone. */
  commit(): void {
    this.entries = this.seen;
    this.seen = new Map();
  }
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export { ZoneWarningCode };

const ZONE_SUFFIX = '.zone';

export function loadZoneDir(dir: string, cache?: ZoneFileCache): LoadResult {
  const out: LoadResult = { zones: [], errors: [], warnings: [], unchanged: [], failedOrigins: [] };
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith(ZONE_SUFFIX) && n.length > ZONE_SUFFIX.length).sort();
  } catch (e) {
    out.errors.push({ code: ZoneErrorCode.DIR_READ, file: dir, line: 0, message: `cannot read the zones folder: ${(e as Error).message}` });
    return out;
  }

  const loaded: LoadedZone[] = [];
  const firstFileOf = new Map<string, string>();
  const duplicated = new Set<string>();
  for (const name of names) {
    const file = path.join(dir, name);
    const kind = fileKind(file);
    if (kind === 'other') continue;
    if (kind !== 'file') {
      out.errors.push({ code: ZoneErrorCode.FILE_READ, file, line: 0, message: `cannot read zone file: ${kind}` });
      continue;
    }
    const r = loadZoneFile(file, name.slice(0, -ZONE_SUFFIX.length), dir, cache);
    if (r.unchanged) out.unchanged.push(file);
    out.errors.push(...r.errors);
    out.warnings.push(...r.warnings);
    if (!r.zone) continue;
    const first = firstFileOf.get(r.zone.origin);
    if (first !== undefined) {
      // Neither file wins: serving whichever sorts first would hide the conflict.
      out.errors.push({ code: ZoneErrorCode.DUPLICATE_ORIGIN, file, line: 0, message: `zone ${r.zone.origin} is also defined by ${first}: keep one file per zone (a file's zone is its name minus .zone, or its leading $ORIGIN)` });
      duplicated.add(r.zone.origin);
      continue;
    }
    firstFileOf.set(r.zone.origin, file);
    if (r.errors.length === 0) loaded.push(r.zone);
    else out.failedOrigins.push(r.zone.origin);
  }
  out.zones = loaded.filter((z) => !duplicated.has(z.origin));
  out.failedOrigins.push(...duplicated);
  cache?.commit();
  return out;
}

/**
 * Loads one zone file. `baseName` is the file name minus `.zone`, which names the zone unless
 * the file starts with $ORIGIN. `zone` is set even when there are errors (so duplicate origins
 * can be detected); callers serve it only when `errors` is empty.
 */
export function loadZoneFile(file: string, baseName: string, includeRoot: string, cache?: ZoneFileCache): FileResult & { unchanged?: boolean } {
  let bytes: Buffer;
  try {
    bytes = readConfigBytes(file);
  } catch (e) {
    return { errors: [{ code: ZoneErrorCode.FILE_READ, file, line: 0, message: `cannot read zone file: ${(e as Error).message}` }], warnings: [] };
  }
  const fileHash = cache ? sha256(bytes) : '';
  const before = cache?.lookup(file, fileHash);
  if (before) return { ...before, unchanged: true };
  const includes: { path: string; hash: string }[] = [];
  const result = parseZoneText(bytes.toString('utf8'), file, baseName, includeRoot, (abs) => {
    const b = readConfigBytes(abs);
    if (cache) includes.push({ path: abs, hash: sha256(b) });
    return b.toString('utf8');
  });
  if (cache) {
    if (result.zone) result.zone.hash = includes.length === 0 ? fileHash : sha256(Buffer.from([fileHash, ...includes.map((i) => i.hash)].join(',')));
    cache.store(file, fileHash, includes, result);
  }
  return result;
}

function parseZoneText(text: string, file: string, baseName: string, includeRoot: string, readInclude: (abs: string) => string): FileResult {
  let nameOrigin: string | undefined;
  let nameProblem = '';
  try {
    nameOrigin = absoluteName(baseName, '.');
  } catch (e) {
    nameProblem = (e as Error).message;
  }
  const parsed = parseMasterFile(text, { file, origin: nameOrigin ?? '.', includeRoot, readInclude });
  const errors = parsed.errors;
  if (nameOrigin === undefined && !parsed.originFromFile) {
    errors.unshift({ code: ZoneErrorCode.BAD_FILENAME, file, line: 0, message: `file name does not give a zone name (${nameProblem}): name the file <zone>.zone, e.g. example.com.zone, or start it with $ORIGIN` });
    return { errors, warnings: [] };
  }
  const { records, warnings } = normalizeRRsets(parsed.records);
  let problems = validateZone(parsed.origin, records, file);
  // A record the parser rejected (say a bad SOA line) would also show up as "no SOA": skip the
  // zone-wide findings then, the parser's error already points at the line.
  if (errors.length > 0) problems = problems.filter((p) => p.line !== 0);
  errors.push(...problems);
  return { zone: { origin: parsed.origin, file, records }, errors, warnings };
}

interface RRsetInfo {
  first: ZoneRecord;
  minTtl: number;
  /** latin1 images of the distinct rdatas, made once the RRset has a second record. */
  seen?: Set<string>;
  /** First record whose TTL differs from the first's. */
  differs?: ZoneRecord;
  /** The next RRset at the same owner (another type). */
  next?: RRsetInfo;
}

function rdataKey(rdata: Uint8Array): string {
  return Buffer.from(rdata.buffer, rdata.byteOffset, rdata.length).toString('latin1');
}

/**
 * RFC 2181 §5: an RRset holds no duplicates, so identical records are dropped silently;
 * §5.2: all its TTLs are equal, so each takes the RRset's lowest TTL (with a warning).
 * Record order is kept. Input records are not modified.
 */
export function normalizeRRsets(records: ZoneRecord[]): { records: ZoneRecord[]; warnings: ConfigError[] } {
  // Keyed by owner alone (a name's string hash is computed once and cached by V8), then a
  // short chain by type: much cheaper than building an owner+type key per record.
  const byOwner = new Map<string, RRsetInfo>();
  const kept: ZoneRecord[] = [];
  const setOf: RRsetInfo[] = [];
  let anyDiffers = false;
  let lastOwner = '';
  let lastHead: RRsetInfo | undefined;
  for (const r of records) {
    // Records of one owner usually come together: skip the map lookup for them.
    const head = r.owner === lastOwner ? lastHead : byOwner.get(r.owner);
    let s = head;
    while (s !== undefined && s.first.type !== r.type) s = s.next;
    lastOwner = r.owner;
    lastHead = head;
    if (s === undefined) {
      s = { first: r, minTtl: r.ttl, seen: undefined, differs: undefined, next: head };
      byOwner.set(r.owner, s);
      lastHead = s;
    } else {
      if (!s.seen) s.seen = new Set([rdataKey(s.first.rdata)]);
      const k = rdataKey(r.rdata);
      if (s.seen.has(k)) continue;
      s.seen.add(k);
      if (r.ttl !== s.first.ttl && !s.differs) { s.differs = r; anyDiffers = true; }
      if (r.ttl < s.minTtl) s.minTtl = r.ttl;
    }
    kept.push(r);
    setOf.push(s);
  }
  if (!anyDiffers) return { records: kept, warnings: [] };

  const warnings: ConfigError[] = [];
  for (let i = 0; i < kept.length; i++) {
    const s = setOf[i];
    if (!s.differs) continue;
    const r = kept[i];
    if (r.ttl !== s.minTtl) kept[i] = { ...r, ttl: s.minTtl };
    if (r === s.differs) {
      warnings.push({
        code: ZoneWarningCode.TTL_MISMATCH,
        file: r.file,
        line: r.line,
        message: `TTLs differ within the ${r.owner} ${typeName(r.type)} RRset (${s.first.ttl} at ${s.first.file}:${s.first.line}, ${r.ttl} here): all records of an RRset share one TTL (RFC 2181 §5.2), so ${s.minTtl} (the lowest) is used; make them equal`,
      });
    }
  }
  return { records: kept, warnings };
}

/**
 * 'file', 'other' (a folder named *.zone: ignored) or why it cannot be read (a broken symlink, a
 * FIFO, socket or device: never opened, so it cannot block the process).
 */
function fileKind(p: string): string {
  try {
    const st = fs.statSync(p);
    if (st.isDirectory()) return 'other';
    const kind = notRegular(st);
    return kind ? `${kind}, not a regular file: only regular files are read from the zones folder` : 'file';
  } catch (e) {
    return (e as Error).message;
  }
}
