// Response encoder: Query + Answer → one wire message, sized first, then written at the start of the
// caller's buffer (the batched UDP engine's output slot: no allocation per reply) or, by the allocating
// forms, into a scratch buffer and copied out at its exact size.
// The question is copied from the request bytes, so the asker's case survives (RFC 1034 §3.1, RFC 4343).

import { QUESTION_NAME, type Answer, type ClientSubnet, type Edns, type Query, type WireRR } from './types.js';
import { EdnsOption, Rcode, RRType } from './constants.js';
import { ecsOptionLength, encodeEcs } from './ecs.js';

/** The UDP payload size we advertise in every OPT (DNS Flag Day 2020). */
export const SERVER_UDP_PAYLOAD = 1232;

const HEADER = 12;
const MAX_MESSAGE = 65535;
const OPT_FIXED = 11; // root owner(1) type(2) class(2) ttl(4) rdlength(2)
const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const CD = 0x0010;

/**
 * Offset in the request's question of a label-boundary suffix equal (case-insensitively) to `owner`,
 * or -1. Only one suffix can have the owner's length, so at most one byte comparison is made.
 */
function ownerPointer(req: Uint8Array, nameEnd: number, owner: Uint8Array): number {
  const L = owner.length;
  if (L <= 2) return -1; // the root: a pointer would not save anything
  let p = HEADER;
  while (nameEnd - p > L) p += req[p] + 1;
  if (nameEnd - p !== L) return -1;
  for (let j = 0; j < L; j++) {
    let a = req[p + j];
    let b = owner[j];
    if (a === b) continue;
    if (a >= 0x41 && a <= 0x5a) a |= 0x20;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (a !== b) return -1;
  }
  return p;
}

/**
 * Where an owner is written as a pointer: the question's name (same canonical string ⇒ same wire name
 * up to case), a suffix of it, or -1 (written out). Asked while sizing and again while writing (one
 * string compare, rarely a byte compare), so the encoder keeps no state between calls.
 */
function ownerPtr(rr: WireRR, req: Uint8Array, qname: string, nameEnd: number): number {
  return rr.owner === qname || (rr.owner === QUESTION_NAME && qname !== '') ? HEADER : ownerPointer(req, nameEnd, rr.ownerWire);
}

/** Sizes one section; returns its octets. */
function sizeSection(rrs: readonly WireRR[], req: Uint8Array, qname: string, nameEnd: number): number {
  let size = 0;
  for (let i = 0; i < rrs.length; i++) {
    const rr = rrs[i];
    const ptr = ownerPtr(rr, req, qname, nameEnd);
    size += (ptr >= 0 ? 2 : rr.ownerWire.length) + 10 + rr.rdata.length;
  }
  return size;
}

function writeSection(out: Uint8Array, o: number, rrs: readonly WireRR[], req: Uint8Array, qname: string, nameEnd: number): number {
  for (let i = 0; i < rrs.length; i++) {
    const rr = rrs[i];
    const ptr = ownerPtr(rr, req, qname, nameEnd);
    if (ptr >= 0) {
      out[o++] = 0xc0 | (ptr >> 8);
      out[o++] = ptr & 0xff;
    } else {
      o = copy(out, o, rr.ownerWire);
    }
    const t = rr.type;
    const c = rr.klass;
    const ttl = rr.ttl;
    const rd = rr.rdata;
    out[o++] = t >> 8;
    out[o++] = t & 0xff;
    out[o++] = c >> 8;
    out[o++] = c & 0xff;
    out[o++] = ttl >>> 24;
    out[o++] = (ttl >>> 16) & 0xff;
    out[o++] = (ttl >>> 8) & 0xff;
    out[o++] = ttl & 0xff;
    out[o++] = rd.length >> 8;
    out[o++] = rd.length & 0xff;
    o = copy(out, o, rd);
  }
  return o;
}

/** Copies small arrays by hand (a typed-array set() costs more than a loop below ~32 octets). */
function copy(out: Uint8Array, o: number, src: Uint8Array): number {
  const n = src.length;
  if (n > 32) {
    out.set(src, o);
    return o + n;
  }
  for (let i = 0; i < n; i++) out[o + i] = src[i];
  return o + n;
}

function copyRange(out: Uint8Array, o: number, src: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) out[o++] = src[i];
  return o;
}

function writeHeader(out: Uint8Array, id: number, flags: number, qd: number, an: number, ns: number, ar: number): void {
  out[0] = id >> 8;
  out[1] = id & 0xff;
  out[2] = flags >> 8;
  out[3] = flags & 0xff;
  out[4] = qd >> 8;
  out[5] = qd & 0xff;
  out[6] = an >> 8;
  out[7] = an & 0xff;
  out[8] = ns >> 8;
  out[9] = ns & 0xff;
  out[10] = ar >> 8;
  out[11] = ar & 0xff;
}

/**
 * This process's name server identifier (RFC 5001), sent only to queries that ask for it. Set once at
 * start-up (each worker its own), so operators can tell which instance and worker answered: process
 * configuration, never written by a query (the encoder's only module state).
 */
let nsidPayload: Uint8Array | null = null;

export function configureNsid(id: string | null): void {
  nsidPayload = id === null || id === '' ? null : Buffer.from(id, 'utf8').subarray(0, 512);
}

function nsidLength(edns: Edns): number {
  return edns.nsid && nsidPayload !== null ? 4 + nsidPayload.length : 0;
}

/** Bytes of a reply's OPT record for this query, with `cookie` (a COOKIE option's data) when given. */
function optSize(edns: Edns | null, cookie: Uint8Array | null): number {
  return edns === null ? 0 : OPT_FIXED + (edns.ecs === null ? 0 : ecsOptionLength(edns.ecs)) + nsidLength(edns) + cookieLength(edns, cookie);
}

/** RFC 7873 §5.2: a reply carries a COOKIE only in answer to one (and never without an OPT). */
function cookieLength(edns: Edns, cookie: Uint8Array | null): number {
  return cookie === null || edns.cookie === null ? 0 : 4 + cookie.length;
}

/** The OPT of a reply (RFC 6891 §6.1.2/§7): our payload size, extended rcode, version 0, DO echoed, ECS echo, NSID, cookie. */
function writeOpt(out: Uint8Array, o: number, rcode: number, edns: Edns, ecs: ClientSubnet | null, scope: number, cookie: Uint8Array | null): number {
  const nsid = nsidLength(edns);
  const cookieLen = cookieLength(edns, cookie);
  const rdlen = (ecs === null ? 0 : ecsOptionLength(ecs)) + nsid + cookieLen;
  out[o++] = 0;
  out[o++] = 0;
  out[o++] = RRType.OPT;
  out[o++] = SERVER_UDP_PAYLOAD >> 8;
  out[o++] = SERVER_UDP_PAYLOAD & 0xff;
  // TTL: extended rcode (high 8 of 12 bits), version 0, then DO copied from the query
  // (RFC 3225 §3: a reply to DO=1 has DO=1; RFC 6891 §6.1.4), CO set in reply to DO=1 with CO=1
  // (RFC 9824 §5.1: we give compact answers and restore NXDOMAIN for them), Z 0.
  out[o++] = (rcode >> 4) & 0xff;
  out[o++] = 0;
  out[o++] = edns.dnssecOk ? (edns.compactOk ? 0xc0 : 0x80) : 0;
  out[o++] = 0;
  out[o++] = rdlen >> 8;
  out[o++] = rdlen & 0xff;
  if (ecs !== null) o = encodeEcs(out, o, ecs, scope);
  if (nsid > 0) {
    const payload = nsidPayload as Uint8Array;
    out[o++] = 0;
    out[o++] = EdnsOption.NSID;
    out[o++] = payload.length >> 8;
    out[o++] = payload.length & 0xff;
    out.set(payload, o);
    o += payload.length;
  }
  if (cookieLen > 0) {
    const c = cookie as Uint8Array;
    out[o++] = 0;
    out[o++] = EdnsOption.COOKIE;
    out[o++] = 0;
    out[o++] = c.length;
    o = copy(out, o, c);
  }
  return o;
}

/** Header flags of a reply: QR, opcode, RD and CD copied (RFC 6840 §5.9), AD and RA 0. */
function replyFlags(reqFlags: number, opcode: number, aa: boolean, rcode: number): number {
  return QR | ((opcode & 0xf) << 11) | (aa ? AA : 0) | (reqFlags & (RD | CD)) | (rcode & 0xf);
}

/**
 * An rcode above 15 lives half in the OPT TTL (RFC 6891 §6.1.3); without an OPT it cannot be said,
 * so SERVFAIL stands in for it.
 */
function effectiveRcode(rcode: number, edns: Edns | null): number {
  return rcode > 15 && edns === null ? Rcode.SERVFAIL : rcode;
}

/** Room for any DNS message (TCP's limit); what every `…Into` form needs at the start of `out`. */
export const MAX_REPLY = MAX_MESSAGE;

function checkRoom(out: Uint8Array): void {
  if (out.length < MAX_MESSAGE) throw new RangeError(`encode: the output buffer holds ${out.length} octets, a reply may need ${MAX_MESSAGE}`);
}

/** The allocating forms encode here, then copy the reply out at its exact size. */
const scratch = new Uint8Array(MAX_MESSAGE);

/** The first `n` octets of `from`, copied into a Buffer of their own (what the allocating forms return). */
export function copyReply(from: Uint8Array, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  out.set(from.subarray(0, n));
  return out;
}

const copyOut = (n: number): Uint8Array => copyReply(scratch, n);

/**
 * Encodes the reply to `query`. `maxSize` is the size limit: min(client's EDNS size or 512, server cap)
 * for UDP, 65535 for TCP. Over the limit: TC=1 with header, question and OPT only (RFC 6891 §7, RFC 2181 §9).
 * `cookie`: the COOKIE option data to answer with (client + server cookie), when the query sent one.
 */
export function encodeResponse(req: Uint8Array, query: Query, answer: Answer, maxSize: number, cookie: Uint8Array | null = null): Uint8Array {
  return copyOut(encodeResponseInto(scratch, req, query, answer, maxSize, cookie));
}

/** encodeResponse written at the start of `out` (at least MAX_REPLY octets); returns the reply's length. */
export function encodeResponseInto(out: Uint8Array, req: Uint8Array, query: Query, answer: Answer, maxSize: number, cookie: Uint8Array | null = null): number {
  checkRoom(out);
  const edns = query.edns;
  const rcode = effectiveRcode(answer.rcode, edns);
  const qEnd = query.questionEnd > HEADER && query.questionEnd <= req.length ? query.questionEnd : HEADER;
  const nameEnd = qEnd > HEADER ? qEnd - 4 : HEADER;
  const limit = maxSize > MAX_MESSAGE ? MAX_MESSAGE : maxSize < HEADER ? HEADER : maxSize;
  const an = answer.answer;
  const ns = answer.authority;
  const ad = answer.additional;

  const ecs = edns === null ? null : edns.ecs;
  const base = qEnd + optSize(edns, cookie); // header + question + OPT: what a truncated reply keeps
  // Without a question nothing can be pointed at: '' matches no owner and nameEnd = 12 finds no suffix.
  const qname = qEnd > HEADER ? query.qname : '';
  const size = base
    + sizeSection(an, req, qname, nameEnd)
    + sizeSection(ns, req, qname, nameEnd)
    + sizeSection(ad, req, qname, nameEnd);

  let flags = replyFlags(query.flags, query.opcode, answer.aa, rcode);
  const qd = qEnd > HEADER ? 1 : 0;
  if (size <= limit) {
    writeHeader(out, query.id, flags, qd, an.length, ns.length, ad.length + (edns === null ? 0 : 1));
    let o = copyRange(out, HEADER, req, HEADER, qEnd);
    o = writeSection(out, o, an, req, qname, nameEnd);
    o = writeSection(out, o, ns, req, qname, nameEnd);
    o = writeSection(out, o, ad, req, qname, nameEnd);
    if (edns !== null) writeOpt(out, o, rcode, edns, ecs, answer.ecsScope, cookie);
    return size;
  }
  flags |= TC;
  return truncated(out, req, query.id, flags, qd, qEnd, base, limit, rcode, edns, answer.ecsScope, cookie);
}

/**
 * A reply with TC=1 and no records, whatever the answer's size: header, question and OPT (with the
 * cookie). What a rate limiter "slips" so a resolver retries over TCP.
 */
export function encodeTruncatedResponse(req: Uint8Array, query: Query, rcode: number, cookie: Uint8Array | null = null): Uint8Array {
  return copyOut(encodeTruncatedResponseInto(scratch, req, query, rcode, cookie));
}

/** encodeTruncatedResponse written at the start of `out` (at least MAX_REPLY octets); returns the reply's length. */
export function encodeTruncatedResponseInto(out: Uint8Array, req: Uint8Array, query: Query, rcode: number, cookie: Uint8Array | null = null): number {
  checkRoom(out);
  const edns = query.edns;
  const rc = effectiveRcode(rcode, edns);
  const qEnd = query.questionEnd > HEADER && query.questionEnd <= req.length ? query.questionEnd : HEADER;
  const flags = replyFlags(query.flags, query.opcode, false, rc) | TC;
  return truncated(out, req, query.id, flags, qEnd > HEADER ? 1 : 0, qEnd, qEnd + optSize(edns, cookie), MAX_MESSAGE, rc, edns, 0, cookie);
}

/** Header + question + OPT with TC set; just the header if even that does not fit. Returns the length. */
function truncated(
  out: Uint8Array, req: Uint8Array, id: number, flags: number, qd: number, qEnd: number, base: number, limit: number,
  rcode: number, edns: Edns | null, scope: number, cookie: Uint8Array | null,
): number {
  if (base > limit) {
    writeHeader(out, id, flags | TC, 0, 0, 0, 0);
    return HEADER;
  }
  writeHeader(out, id, flags, qd, 0, 0, edns === null ? 0 : 1);
  const o = copyRange(out, HEADER, req, HEADER, qEnd);
  if (edns !== null) writeOpt(out, o, rcode, edns, edns.ecs, scope, cookie);
  return base;
}

/**
 * Encodes an error reply from the decoder's verdict (FORMERR, NOTIMP, BADVERS, …): header, the question
 * when `questionEnd` > 12, and an OPT when `edns` is set (echoing its ECS, if any, with scope 0, and `cookie`).
 */
export function encodeErrorResponse(
  req: Uint8Array, id: number, flags: number, opcode: number, questionEnd: number, rcode: number,
  edns: Edns | null, maxSize = 512, cookie: Uint8Array | null = null,
): Uint8Array {
  return copyOut(encodeErrorResponseInto(scratch, req, id, flags, opcode, questionEnd, rcode, edns, maxSize, cookie));
}

/** encodeErrorResponse written at the start of `out` (at least MAX_REPLY octets); returns the reply's length. */
export function encodeErrorResponseInto(
  out: Uint8Array, req: Uint8Array, id: number, flags: number, opcode: number, questionEnd: number, rcode: number,
  edns: Edns | null, maxSize = 512, cookie: Uint8Array | null = null,
): number {
  checkRoom(out);
  const rc = effectiveRcode(rcode, edns);
  const qEnd = questionEnd > HEADER && questionEnd <= req.length ? questionEnd : HEADER;
  const limit = maxSize > MAX_MESSAGE ? MAX_MESSAGE : maxSize < HEADER ? HEADER : maxSize;
  const ecs = edns === null ? null : edns.ecs;
  const size = qEnd + optSize(edns, cookie);
  const outFlags = replyFlags(flags, opcode, false, rc);
  const qd = qEnd > HEADER ? 1 : 0;
  if (size > limit) return truncated(out, req, id, outFlags | TC, qd, qEnd, size, limit, rc, edns, 0, cookie);
  writeHeader(out, id, outFlags, qd, 0, 0, edns === null ? 0 : 1);
  const o = copyRange(out, HEADER, req, HEADER, qEnd);
  if (edns !== null) writeOpt(out, o, rc, edns, ecs, 0, cookie);
  return size;
}
