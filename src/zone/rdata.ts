// Presentation-form rdata (RFC 1035 §5.1) → uncompressed wire rdata (RFC 1035 §3.3), plus the
// RFC 3597 §5 generic form `\# <length> <hex>`. Names in rdata are canonicalised (lower case,
// absolute) so that a record written natively and one written in generic form give equal bytes.

import { parseIPv4, parseIPv6 } from '../dns/address.js';
import { canonicalName, labelToText, nameToWire, MAX_LABEL, MAX_NAME_WIRE } from '../dns/name.js';
import { RRType, typeName } from '../dns/constants.js';

/** A user-facing problem with one record's rdata; the message names the offending text. */
export class RdataError extends Error {}

/**
 * The tokens of one entry, as the tokenizer leaves them: raw text with backslash escapes kept,
 * and whether each token was a quoted string. Parallel arrays so no object is made per token.
 */
export interface Fields {
  text: string[];
  quoted: boolean[];
}

export interface ParsedRdata {
  rdata: Uint8Array;
  /** NS host, CNAME/PTR target, MX exchange, SRV target, SOA MNAME (canonical). */
  target?: string;
  /** SOA MINIMUM (RFC 2308 §4 negative-caching TTL). */
  soaMinimum?: number;
}

const MAX_RDATA = 0xffff;
const MAX_TTL = 0x7fffffff; // RFC 2181 §8
const MAX_U32 = 0xffffffff;

// ---------------------------------------------------------------------------------------------
// Names

/**
 * Makes a presentation-form name absolute against `origin` and canonicalises it. `@` is the
 * origin (RFC 1035 §5.1); a name is absolute when it ends in an unescaped dot.
 */
export function absoluteName(text: string, origin: string): string {
  if (text === '@') return origin;
  if (isAbsolute(text)) return canonical(text);
  return canonical(origin === '.' ? text + '.' : text + '.' + origin);
}

function isAbsolute(text: string): boolean {
  const n = text.length;
  if (n === 0 || text.charCodeAt(n - 1) !== 0x2e) return false;
  let k = n - 2;
  let backslashes = 0;
  while (k >= 0 && text.charCodeAt(k) === 0x5c) { backslashes++; k--; }
  return backslashes % 2 === 0; // an odd count escapes the final dot: "a\." is relative
}

/**
 * Fast path for the common name (printable ASCII, no escapes, sane lengths): lower-case it and
 * keep it. Anything else goes through name.ts, which throws a user-facing message.
 */
function canonical(abs: string): string {
  const n = abs.length;
  if (abs === '.') return abs;
  if (n + 1 > MAX_NAME_WIRE) return canonicalName(abs);
  let upper = false;
  let labelLen = 0;
  for (let i = 0; i < n; i++) {
    const c = abs.charCodeAt(i);
    if (c === 0x2e) {
      if (labelLen === 0) return canonicalName(abs);
      labelLen = 0;
    } else if (c <= 0x20 || c >= 0x7f || c === 0x5c) {
      return canonicalName(abs);
    } else {
      if (c >= 0x41 && c <= 0x5a) upper = true;
      if (++labelLen > MAX_LABEL) return canonicalName(abs);
    }
  }
  return upper ? abs.toLowerCase() : abs;
}

/** Reads an uncompressed wire name at `off`; returns the canonical text and the end offset. */
export function readWireName(buf: Uint8Array, off: number, end: number): { name: string; end: number } {
  let s = '';
  let wireLen = 1;
  for (;;) {
    if (off >= end) throw new RdataError('domain name runs past the end of the rdata');
    const len = buf[off++];
    if (len === 0) return { name: s === '' ? '.' : s, end: off };
    // RFC 3597 §4: rdata of a type given in generic form is never compressed.
    if (len > MAX_LABEL) throw new RdataError(`label length ${len} in a domain name (compression pointers are not allowed, max ${MAX_LABEL})`);
    if (off + len > end) throw new RdataError('domain name runs past the end of the rdata');
    wireLen += len + 1;
    if (wireLen > MAX_NAME_WIRE) throw new RdataError(`domain name longer than ${MAX_NAME_WIRE} octets`);
    s += labelToText(buf.subarray(off, off + len)) + '.';
    off += len;
  }
}

function nameField(f: Fields, i: number, origin: string, what: string): string {
  try {
    return absoluteName(f.text[i], origin);
  } catch (e) {
    throw new RdataError(`bad ${what} "${f.text[i]}": ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers and TTLs

/** A plain decimal integer 0..max, or undefined. */
export function parseUint(text: string, max: number): number | undefined {
  const n = text.length;
  if (n === 0 || n > 10) return undefined;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return undefined;
    v = v * 10 + d;
  }
  return v <= max ? v : undefined;
}

const TTL_UNITS: Record<number, number> = { 0x73: 1, 0x6d: 60, 0x68: 3600, 0x64: 86400, 0x77: 604800 }; // s m h d w

/**
 * A TTL in seconds: plain decimal, or BIND-style units such as `1h`, `2d`, `1w30m` (each number
 * takes a unit; the last may omit it and counts as seconds). Undefined when malformed or > max.
 */
export function parseTtl(text: string, max: number = MAX_TTL): number | undefined {
  const plain = parseUint(text, max);
  if (plain !== undefined) return plain;
  const n = text.length;
  if (n === 0 || n > 40) return undefined;
  let total = 0;
  let i = 0;
  while (i < n) {
    let v = 0;
    const start = i;
    for (; i < n; i++) {
      const d = text.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    if (i === start || v > max) return undefined;
    if (i === n) { total += v; break; }
    const unit = TTL_UNITS[text.charCodeAt(i) | 0x20];
    if (unit === undefined) return undefined;
    total += v * unit;
    i++;
  }
  return total <= max ? total : undefined;
}

function uintField(f: Fields, i: number, max: number, what: string): number {
  const v = parseUint(f.text[i], max);
  if (v === undefined) throw new RdataError(`bad ${what} "${f.text[i]}": expected a whole number from 0 to ${max}`);
  return v;
}

function ttlField(f: Fields, i: number, what: string): number {
  const v = parseTtl(f.text[i], MAX_U32);
  if (v === undefined) throw new RdataError(`bad ${what} "${f.text[i]}": expected seconds (0 to ${MAX_U32}) or units like 1h, 2d, 1w30m`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Character strings (RFC 1035 §3.3, §5.1)

/** Decodes a token's text (escapes `\X` and `\DDD`; other characters as UTF-8) to bytes. */
export function textToBytes(text: string): Uint8Array {
  if (!text.includes('\\')) return Buffer.from(text, 'utf8');
  const out: number[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c !== 0x5c) {
      const j = nextBackslash(text, i);
      for (const b of Buffer.from(text.slice(i, j), 'utf8')) out.push(b);
      i = j;
      continue;
    }
    if (i + 1 >= n) throw new RdataError(`dangling backslash at the end of "${text}"`);
    if (isDigit(text, i + 1)) {
      if (!isDigit(text, i + 2) || !isDigit(text, i + 3)) throw new RdataError(`bad escape in "${text}": \\DDD needs three decimal digits`);
      const v = Number(text.slice(i + 1, i + 4));
      if (v > 255) throw new RdataError(`bad escape \\${text.slice(i + 1, i + 4)} in "${text}": must be 000 to 255`);
      out.push(v);
      i += 4;
    } else {
      const cp = text.codePointAt(i + 1)!;
      const ch = String.fromCodePoint(cp);
      for (const b of Buffer.from(ch, 'utf8')) out.push(b);
      i += 1 + ch.length;
    }
  }
  return Uint8Array.from(out);
}

function nextBackslash(text: string, from: number): number {
  const j = text.indexOf('\\', from);
  return j < 0 ? text.length : j;
}

function isDigit(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 0x30 && c <= 0x39;
}

// ---------------------------------------------------------------------------------------------
// Per-type encoders

function expectCount(f: Fields, start: number, end: number, want: number, type: string, shape: string): void {
  const got = end - start;
  if (got < want) {
    throw new RdataError(`${type} needs ${want} field${want === 1 ? '' : 's'} (${shape}), got ${got}: add the missing field${want - got === 1 ? '' : 's'}`);
  }
  if (got > want) {
    throw new RdataError(`${type} takes ${want} field${want === 1 ? '' : 's'} (${shape}), got ${got}: remove "${f.text.slice(start + want, end).join(' ')}"`);
  }
}

function u16(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 8;
  out[at + 1] = v & 0xff;
}

function u32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

function encodeA(f: Fields, s: number, e: number): ParsedRdata {
  expectCount(f, s, e, 1, 'A', 'an IPv4 address');
  const rdata = parseIPv4(f.text[s]);
  if (!rdata) throw new RdataError(`bad IPv4 address "${f.text[s]}": write a dotted quad like 192.0.2.1 (no leading zeros)`);
  return { rdata };
}

function encodeAAAA(f: Fields, s: number, e: number): ParsedRdata {
  expectCount(f, s, e, 1, 'AAAA', 'an IPv6 address');
  const rdata = parseIPv6(f.text[s]);
  if (!rdata) throw new RdataError(`bad IPv6 address "${f.text[s]}": write it like 2001:db8::1 (no brackets, no %zone)`);
  return { rdata };
}

function encodeNameOnly(type: string, what: string) {
  return (f: Fields, s: number, e: number, origin: string): ParsedRdata => {
    expectCount(f, s, e, 1, type, what);
    const target = nameField(f, s, origin, what);
    return { rdata: nameToWire(target), target };
  };
}

function encodeMX(f: Fields, s: number, e: number, origin: string): ParsedRdata {
  expectCount(f, s, e, 2, 'MX', 'preference exchange');
  const pref = uintField(f, s, 0xffff, 'MX preference');
  const target = nameField(f, s + 1, origin, 'MX exchange');
  const nw = nameToWire(target);
  const rdata = new Uint8Array(2 + nw.length);
  u16(rdata, 0, pref);
  rdata.set(nw, 2);
  return { rdata, target };
}

function encodeSRV(f: Fields, s: number, e: number, origin: string): ParsedRdata {
  expectCount(f, s, e, 4, 'SRV', 'priority weight port target');
  const prio = uintField(f, s, 0xffff, 'SRV priority');
  const weight = uintField(f, s + 1, 0xffff, 'SRV weight');
  const port = uintField(f, s + 2, 0xffff, 'SRV port');
  const target = nameField(f, s + 3, origin, 'SRV target');
  const nw = nameToWire(target);
  const rdata = new Uint8Array(6 + nw.length);
  u16(rdata, 0, prio);
  u16(rdata, 2, weight);
  u16(rdata, 4, port);
  rdata.set(nw, 6);
  return { rdata, target };
}

function encodeSOA(f: Fields, s: number, e: number, origin: string): ParsedRdata {
  expectCount(f, s, e, 7, 'SOA', 'mname rname serial refresh retry expire minimum');
  const mname = nameField(f, s, origin, 'SOA mname');
  const rname = nameField(f, s + 1, origin, 'SOA rname');
  const serial = uintField(f, s + 2, MAX_U32, 'SOA serial');
  const refresh = ttlField(f, s + 3, 'SOA refresh');
  const retry = ttlField(f, s + 4, 'SOA retry');
  const expire = ttlField(f, s + 5, 'SOA expire');
  const minimum = ttlField(f, s + 6, 'SOA minimum');
  return soaWire(mname, rname, [serial, refresh, retry, expire, minimum]);
}

function soaWire(mname: string, rname: string, nums: number[]): ParsedRdata {
  const m = nameToWire(mname);
  const r = nameToWire(rname);
  const rdata = new Uint8Array(m.length + r.length + 20);
  rdata.set(m, 0);
  rdata.set(r, m.length);
  let at = m.length + r.length;
  for (const v of nums) { u32(rdata, at, v); at += 4; }
  return { rdata, target: mname, soaMinimum: nums[4] };
}

function encodeTXT(f: Fields, s: number, e: number): ParsedRdata {
  if (e <= s) throw new RdataError('TXT needs at least one string: add "text" (use "" for an empty string)');
  const parts: Uint8Array[] = [];
  let len = 0;
  for (let i = s; i < e; i++) {
    const b = textToBytes(f.text[i]);
    // RFC 1035 §3.3: a <character-string> carries a one-octet length.
    if (b.length > 255) {
      throw new RdataError(`TXT string of ${b.length} bytes is too long (max 255): split it into several quoted strings, e.g. "first part" "second part"`);
    }
    parts.push(b);
    len += 1 + b.length;
  }
  const rdata = new Uint8Array(len);
  let at = 0;
  for (const p of parts) { rdata[at++] = p.length; rdata.set(p, at); at += p.length; }
  return { rdata };
}

/** RFC 8659 §4.1.1: a tag is 1-15 ASCII letters and digits. */
function validCaaTag(tag: Uint8Array): boolean {
  if (tag.length < 1 || tag.length > 15) return false;
  for (const c of tag) {
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) return false;
  }
  return true;
}

function encodeCAA(f: Fields, s: number, e: number): ParsedRdata {
  expectCount(f, s, e, 3, 'CAA', 'flags tag "value"');
  const flags = uintField(f, s, 0xff, 'CAA flags');
  const tag = textToBytes(f.text[s + 1]);
  if (!validCaaTag(tag)) throw new RdataError(`bad CAA tag "${f.text[s + 1]}": use 1-15 letters or digits, e.g. issue, issuewild, iodef`);
  const value = textToBytes(f.text[s + 2]);
  const rdata = new Uint8Array(2 + tag.length + value.length);
  rdata[0] = flags;
  rdata[1] = tag.length;
  rdata.set(tag, 2);
  rdata.set(value, 2 + tag.length);
  return { rdata };
}

type Encoder = (f: Fields, start: number, end: number, origin: string) => ParsedRdata;

const encoders = new Map<number, Encoder>([
  [RRType.A, encodeA],
  [RRType.AAAA, encodeAAAA],
  [RRType.NS, encodeNameOnly('NS', 'NS host')],
  [RRType.CNAME, encodeNameOnly('CNAME', 'CNAME target')],
  [RRType.PTR, encodeNameOnly('PTR', 'PTR target')],
  [RRType.MX, encodeMX],
  [RRType.SRV, encodeSRV],
  [RRType.SOA, encodeSOA],
  [RRType.TXT, encodeTXT],
  [RRType.CAA, encodeCAA],
]);

/** True for the types whose presentation form regiondns parses (others need `\#`). */
export function hasNativeSyntax(type: number): boolean {
  return encoders.has(type);
}

// ---------------------------------------------------------------------------------------------
// RFC 3597 generic form

function parseGeneric(f: Fields, s: number, e: number, label: string): Uint8Array {
  if (e - s < 2) throw new RdataError(`generic rdata needs a length: write \\# <length> <hex>, e.g. \\# 4 c0000201 (or \\# 0)`);
  const len = parseUint(f.text[s + 1], MAX_RDATA);
  if (len === undefined) throw new RdataError(`bad generic rdata length "${f.text[s + 1]}": expected a number of octets from 0 to ${MAX_RDATA}`);
  // RFC 3597 §5: the hex may be split into several words.
  const hex = f.text.slice(s + 2, e).join('');
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new RdataError(`bad generic rdata hex "${hex}" for ${label}: use an even number of hex digits`);
  }
  if (hex.length / 2 !== len) {
    throw new RdataError(`generic rdata for ${label} declares ${len} octets but the hex holds ${hex.length / 2}: make \\# ${hex.length / 2} match the data`);
  }
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/**
 * Checks generic-form rdata of a type regiondns knows and re-encodes it the way the native
 * syntax would (names lower-cased), so both spellings dedupe and answer alike.
 */
function decodeKnown(type: number, w: Uint8Array): ParsedRdata {
  const label = typeName(type);
  const n = w.length;
  const exact = (want: number): void => {
    if (n !== want) throw new RdataError(`${label} rdata in generic form must be ${want} octets, got ${n}`);
  };
  const nameAt = (off: number, what: string): { name: string; end: number } => {
    try { return readWireName(w, off, n); } catch (err) { throw new RdataError(`${label} ${what} in generic form: ${(err as Error).message}`); }
  };
  switch (type) {
    case RRType.A: exact(4); return { rdata: w };
    case RRType.AAAA: exact(16); return { rdata: w };
    case RRType.NS: case RRType.CNAME: case RRType.PTR: {
      const r = nameAt(0, 'target');
      exact(r.end);
      return { rdata: nameToWire(r.name), target: r.name };
    }
    case RRType.MX: case RRType.SRV: {
      const fixed = type === RRType.MX ? 2 : 6;
      if (n < fixed + 1) throw new RdataError(`${label} rdata in generic form is ${n} octets, too short`);
      const r = nameAt(fixed, 'target');
      exact(r.end);
      const nw = nameToWire(r.name);
      const rdata = new Uint8Array(fixed + nw.length);
      rdata.set(w.subarray(0, fixed), 0);
      rdata.set(nw, fixed);
      return { rdata, target: r.name };
    }
    case RRType.SOA: {
      const m = nameAt(0, 'mname');
      const r = nameAt(m.end, 'rname');
      exact(r.end + 20);
      const nums: number[] = [];
      const dv = new DataView(w.buffer, w.byteOffset, n);
      for (let i = 0; i < 5; i++) nums.push(dv.getUint32(r.end + 4 * i));
      return soaWire(m.name, r.name, nums);
    }
    case RRType.TXT: {
      if (n === 0) throw new RdataError('TXT rdata in generic form needs at least one character-string');
      for (let at = 0; at < n; at += 1 + w[at]) {
        if (at + 1 + w[at] > n) throw new RdataError('TXT rdata in generic form: a character-string runs past the end');
      }
      return { rdata: w };
    }
    case RRType.CAA: {
      if (n < 2 || 2 + w[1] > n || !validCaaTag(w.subarray(2, 2 + w[1]))) {
        throw new RdataError('CAA rdata in generic form needs flags, a tag length and a 1-15 letter/digit tag');
      }
      return { rdata: w };
    }
    default:
      return { rdata: w };
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Parses the rdata fields `f[start..end)` of a record of `type` (current `origin` for relative
 * names). Throws RdataError with a message that names the bad text and how to fix it.
 */
export function parseRdata(type: number, f: Fields, start: number, end: number, origin: string): ParsedRdata {
  let parsed: ParsedRdata;
  if (start < end && f.text[start] === '\\#' && !f.quoted[start]) {
    parsed = decodeKnown(type, parseGeneric(f, start, end, typeName(type)));
  } else {
    const enc = encoders.get(type);
    if (!enc) {
      throw new RdataError(`${typeName(type)} has no native syntax in regiondns: write the rdata in RFC 3597 generic form, \\# <length> <hex>`);
    }
    parsed = enc(f, start, end, origin);
  }
  if (parsed.rdata.length > MAX_RDATA) {
    throw new RdataError(`rdata of ${parsed.rdata.length} octets is too long (max ${MAX_RDATA})`);
  }
  parsed.rdata = pooled(parsed.rdata);
  return parsed;
}

// A Uint8Array of its own costs ~240 bytes of heap; a view into a shared slab ~110. With a
// million records that is the difference of a hundred megabytes. Views never overlap.
const SLAB = 64 * 1024;
let slab = new Uint8Array(SLAB);
let slabUsed = 0;

function pooled(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  if (n > SLAB / 16) return bytes;
  if (slabUsed + n > SLAB) { slab = new Uint8Array(SLAB); slabUsed = 0; }
  const view = slab.subarray(slabUsed, slabUsed + n);
  view.set(bytes);
  slabUsed += n;
  return view;
}
