// Server-side query decoder: bytes from a socket → Query, or a verdict on why not.
// Hot path and hostile input: bounds-checked byte reads, no exceptions, no regex, one string per qname.

import type { ClientSubnet, Edns, Query } from './types.js';
import { EdnsOption, Rcode, RRType } from './constants.js';
import { decodeEcs, isEcsError } from './ecs.js';
import { cookieLengthOk } from './cookie-option.js';
import { labelToText, MAX_LABEL, MAX_NAME_WIRE } from './name.js';

/** Every way a query can be refused; a bounded label set for the malformed-query metric. */
export const MALFORMED_KINDS = [
  'short_header', // < 12 octets: drop
  'response_bit', // QR=1: drop, never answer a response
  'truncated_question', // the question runs past the message: drop
  'bad_opcode', // opcode ≠ QUERY: NOTIMP (RFC 1035 §4.1.1)
  'qdcount', // QDCOUNT ≠ 1: FORMERR (RFC 9619)
  'bad_counts', // ANCOUNT/NSCOUNT ≠ 0 or ARCOUNT > 2: FORMERR
  'bad_question', // compression pointer, reserved label type or name > 255 octets in the question: FORMERR
  'bad_additional', // an additional record runs past the message: FORMERR
  'bad_edns', // OPT not owned by root, or its options overrun RDATA: FORMERR
  'two_opt', // RFC 6891 §6.1.1: FORMERR
  'bad_ecs', // RFC 7871 §7.1.1: FORMERR
  'two_ecs', // FORMERR
  'badvers', // EDNS version > 0: BADVERS (RFC 6891 §6.1.3)
  'bad_cookie', // a COOKIE option of a wrong length, or two of them: FORMERR (RFC 7873 §5.2.2)
] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

export type DecodeResult =
  | { kind: 'query'; query: Query }
  | { kind: 'drop'; reason: MalformedKind }
  | {
      kind: 'error';
      reason: MalformedKind;
      rcode: number;
      id: number;
      flags: number;
      opcode: number;
      /** 12 when there is no usable question to echo. */
      questionEnd: number;
      /** Set when the reply must carry an OPT (the request had a readable one); `ecs` is always null here. */
      edns: Edns | null;
    };

const HEADER = 12;
const QR = 0x8000;
const MAX_ADDITIONAL = 2; // an OPT and maybe a TSIG / SIG(0)

// One qname's lower-cased bytes, turned into a string with a single latin1 decode.
const scratch = Buffer.allocUnsafe(MAX_NAME_WIRE + 1);

// Resolvers ask the same names again and again: the text of recent ones, direct-mapped by a hash of
// their lower-cased bytes and confirmed byte for byte, so a repeat costs a compare instead of a
// Buffer.toString (~13% of the handler's time on the batched UDP path, bench/micro-handler.mjs with
// --cpu-prof). Same bytes, same text: a hostile mix of names only turns hits into misses.
const NAME_CACHE = 1024;
const cachedBytes = new Uint8Array(NAME_CACHE * (MAX_NAME_WIRE + 1));
const cachedLength = new Uint16Array(NAME_CACHE);
const cachedName: string[] = new Array<string>(NAME_CACHE).fill('');

// Result of parseQuestion: the offset past the question, or a negative code.
const Q_TRUNCATED = -1;
const Q_BAD = -2;

/** Walks the question name at 12 (no pointers allowed); returns the offset past QTYPE/QCLASS or Q_*. */
function parseQuestion(buf: Uint8Array, len: number): number {
  let p = HEADER;
  let wire = 1;
  for (;;) {
    if (p >= len) return Q_TRUNCATED;
    const b = buf[p];
    if (b === 0) break;
    // 0xC0 is a pointer: the first name has nothing before it but the header. 0x40/0x80 are reserved (RFC 6891 §5).
    if (b > MAX_LABEL) return Q_BAD;
    wire += b + 1;
    if (wire > MAX_NAME_WIRE) return Q_BAD;
    p += b + 1;
  }
  p += 5; // root octet + QTYPE + QCLASS
  return p > len ? Q_TRUNCATED : p;
}

/** Canonical text of the (already validated) question name; same output as joining labelToText. */
function questionName(buf: Uint8Array, nameEnd: number): string {
  let p = HEADER;
  if (buf[p] === 0) return '.';
  let n = 0;
  let hash = 0x811c9dc5; // FNV-1a over the text's bytes
  while (p < nameEnd) {
    let l = buf[p++];
    if (l === 0) break;
    while (l-- > 0) {
      let c = buf[p++];
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      else if (c <= 0x20 || c >= 0x7f || c === 0x2e || c === 0x5c) return escapedName(buf, nameEnd);
      scratch[n++] = c;
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    scratch[n++] = 0x2e;
  }
  const slot = (hash ^ (hash >>> 15) ^ n) & (NAME_CACHE - 1);
  const at = slot * (MAX_NAME_WIRE + 1);
  if (cachedLength[slot] === n) {
    let i = 0;
    while (i < n && cachedBytes[at + i] === scratch[i]) i++;
    if (i === n) return cachedName[slot];
  }
  const name = scratch.toString('latin1', 0, n);
  for (let i = 0; i < n; i++) cachedBytes[at + i] = scratch[i];
  cachedLength[slot] = n;
  cachedName[slot] = name;
  return name;
}

/** Rare path: a label holds a byte needing a presentation escape; labelToText owns the escaping rules. */
function escapedName(buf: Uint8Array, nameEnd: number): string {
  let s = '';
  let p = HEADER;
  while (p < nameEnd) {
    const l = buf[p];
    if (l === 0) break;
    s += labelToText(buf.subarray(p + 1, p + 1 + l)) + '.';
    p += l + 1;
  }
  return s;
}

/** Skips a possibly compressed name in a non-question record; returns the offset past it, or -1. */
function skipName(buf: Uint8Array, p: number, len: number): number {
  let wire = 1;
  for (;;) {
    if (p >= len) return -1;
    const b = buf[p];
    if (b === 0) return p + 1;
    if (b >= 0xc0) return p + 2 <= len ? p + 2 : -1; // a pointer ends the name; not followed, so no loops
    if (b > MAX_LABEL) return -1;
    wire += b + 1;
    if (wire > MAX_NAME_WIRE) return -1;
    p += b + 1;
  }
}

// Outcome of walking the additional section, kept in module state to avoid an allocation per query.
let addEdns: Edns | null = null;
let addReason: MalformedKind | null = null;

/**
 * Walks `count` additional records from `p`. Sets addEdns (the OPT, with ECS) and addReason (null when
 * all is well). The OPT's EDNS is kept even when a later check fails, so an error reply can carry an OPT.
 */
function parseAdditional(buf: Uint8Array, p: number, len: number, count: number): void {
  addEdns = null;
  addReason = null;
  let badvers = false;
  for (let i = 0; i < count; i++) {
    const ownerStart = p;
    p = skipName(buf, p, len);
    if (p < 0 || p + 10 > len) { addReason = 'bad_additional'; return; }
    const type = (buf[p] << 8) | buf[p + 1];
    const klass = (buf[p + 2] << 8) | buf[p + 3];
    const ttlHi = (buf[p + 4] << 8) | buf[p + 5];
    const ttlLo = (buf[p + 6] << 8) | buf[p + 7];
    const rdlen = (buf[p + 8] << 8) | buf[p + 9];
    const rd = p + 10;
    const end = rd + rdlen;
    if (end > len) { addReason = type === RRType.OPT ? 'bad_edns' : 'bad_additional'; return; }
    p = end;
    if (type !== RRType.OPT) continue; // TSIG, SIG(0), …: not supported, skipped
    if (addEdns !== null) { addReason = 'two_opt'; return; } // RFC 6891 §6.1.1
    const version = ttlHi & 0xff;
    // RFC 6891 §6.1.2: values below 512 are treated as 512. TTL: ext-rcode(8) version(8) DO(1) CO(1) Z(14)
    // (CO: RFC 9824 §5.1).
    addEdns = { version, udpSize: klass < 512 ? 512 : klass, dnssecOk: (ttlLo & 0x8000) !== 0, compactOk: (ttlLo & 0x4000) !== 0, ecs: null, nsid: false, cookie: null };
    if (ownerStart + 1 !== rd - 10 || buf[ownerStart] !== 0) { addReason = 'bad_edns'; return; } // owner must be root
    if (version > 0) { badvers = true; continue; } // a later version's options may not parse as ours
    let ecs: ClientSubnet | null = null;
    for (let o = rd; o < end; ) {
      if (o + 4 > end) { addReason = 'bad_edns'; return; }
      const code = (buf[o] << 8) | buf[o + 1];
      const olen = (buf[o + 2] << 8) | buf[o + 3];
      const body = o + 4;
      o = body + olen;
      if (o > end) { addReason = 'bad_edns'; return; }
      if (code === EdnsOption.NSID) { addEdns.nsid = true; continue; } // RFC 5001 §2.1: a request is empty; content ignored
      if (code === EdnsOption.COOKIE) {
        // RFC 7873 §5.2.2: a malformed COOKIE is FORMERR; two of them cannot both be answered.
        if (addEdns.cookie !== null || !cookieLengthOk(olen)) { addEdns.cookie = null; addReason = 'bad_cookie'; return; }
        addEdns.cookie = buf.subarray(body, body + olen);
        continue;
      }
      if (code !== EdnsOption.ECS) continue; // unknown options are ignored (RFC 6891 §6.1.2)
      if (ecs !== null) { addReason = 'two_ecs'; return; }
      const r = decodeEcs(buf, body, olen);
      if (isEcsError(r)) { addReason = 'bad_ecs'; return; } // RFC 7871 §7.1.1
      ecs = r;
    }
    addEdns.ecs = ecs;
  }
  if (badvers) addReason = 'badvers';
}

function errorResult(
  reason: MalformedKind, rcode: number, id: number, flags: number, questionEnd: number, edns: Edns | null,
): DecodeResult {
  // Error replies never echo ECS: the option was invalid or the answer is not address-specific.
  const e = edns === null ? null : { version: edns.version, udpSize: edns.udpSize, dnssecOk: edns.dnssecOk, compactOk: edns.compactOk, ecs: null, nsid: edns.nsid, cookie: edns.cookie };
  return { kind: 'error', reason, rcode, id, flags, opcode: (flags >> 11) & 0xf, questionEnd, edns: e };
}

/** Decodes a query received by an authoritative server. `length` defaults to the whole buffer. */
export function decodeQuery(buf: Uint8Array, length?: number): DecodeResult {
  // Any length that is not a number within the buffer (NaN included) means the whole buffer.
  const len = length === undefined || !(length < buf.length) ? buf.length : length > 0 ? Math.floor(length) : 0;
  if (len < HEADER) return { kind: 'drop', reason: 'short_header' };
  const flags = (buf[2] << 8) | buf[3];
  if ((flags & QR) !== 0) return { kind: 'drop', reason: 'response_bit' };
  const id = (buf[0] << 8) | buf[1];
  const opcode = (flags >> 11) & 0xf;
  const qdcount = (buf[4] << 8) | buf[5];
  const ancount = (buf[6] << 8) | buf[7];
  const nscount = (buf[8] << 8) | buf[9];
  const arcount = (buf[10] << 8) | buf[11];
  const countsOk = ancount === 0 && nscount === 0 && arcount <= MAX_ADDITIONAL;

  if (opcode !== 0) {
    // RFC 1035 §4.1.1 NOTIMP; echo the question and OPT when they parse as they would in a QUERY.
    let qEnd = HEADER;
    let edns: Edns | null = null;
    if (qdcount === 1) {
      const q = parseQuestion(buf, len);
      if (q > 0) {
        qEnd = q;
        if (countsOk) {
          parseAdditional(buf, q, len, arcount);
          if (addReason === null || addReason === 'badvers') edns = addEdns;
        }
      }
    }
    return errorResult('bad_opcode', Rcode.NOTIMP, id, flags, qEnd, edns);
  }
  if (qdcount !== 1) {
    // RFC 9619: exactly one question. With none, an OPT can still be read (e.g. a cookie-only probe).
    let edns: Edns | null = null;
    if (qdcount === 0 && countsOk) {
      parseAdditional(buf, HEADER, len, arcount);
      if (addReason === null || addReason === 'badvers') edns = addEdns;
    }
    return errorResult('qdcount', Rcode.FORMERR, id, flags, HEADER, edns);
  }
  // Counts are checked before any record is walked: a 64 KB message can claim thousands of them.
  // The one question sits at a fixed place and is bounded, so it is still echoed when it parses.
  if (!countsOk) {
    const q = parseQuestion(buf, len);
    return errorResult('bad_counts', Rcode.FORMERR, id, flags, q > 0 ? q : HEADER, null);
  }
  const qEnd = parseQuestion(buf, len);
  if (qEnd === Q_TRUNCATED) return { kind: 'drop', reason: 'truncated_question' };
  if (qEnd === Q_BAD) return errorResult('bad_question', Rcode.FORMERR, id, flags, HEADER, null);

  let edns: Edns | null = null;
  if (arcount !== 0) {
    parseAdditional(buf, qEnd, len, arcount);
    edns = addEdns;
    addEdns = null;
    if (addReason !== null) {
      return errorResult(addReason, addReason === 'badvers' ? Rcode.BADVERS : Rcode.FORMERR, id, flags, qEnd, edns);
    }
  }
  const nameEnd = qEnd - 4;
  return {
    kind: 'query',
    query: {
      id,
      flags,
      opcode,
      qname: questionName(buf, nameEnd),
      qtype: (buf[nameEnd] << 8) | buf[nameEnd + 1],
      qclass: (buf[nameEnd + 2] << 8) | buf[nameEnd + 3],
      questionEnd: qEnd,
      edns,
    },
  };
}
