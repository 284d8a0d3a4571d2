// Hostile-input fuzz of the query decoder, with every answerable verdict pushed through the encoder and
// read back by dns2. Seeded, so a failure reproduces: the message names the seed and iteration.
import { describe, it, expect } from 'vitest';
import dns2 from 'dns2';
import { decodeQuery, MALFORMED_KINDS, type DecodeResult } from '../../src/dns/decode-query.js';
import { encodeErrorResponse, encodeResponse } from '../../src/dns/encode-response.js';
import { nameToWire } from '../../src/dns/name.js';
import { mulberry32, type Rng } from '../../src/steering/rng.js';
import type { Answer, Query, WireRR } from '../../src/dns/types.js';

const { Packet } = dns2;

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 0x5eed2026; // FUZZ_SEED explores others
const MIN_PACKETS = 100_000;
const TARGET_PACKETS = 200_000;
const TIME_BUDGET_MS = 20_000;

// ── seed corpus: valid queries, EDNS and ECS included ────────────────────────────────────────────

function wire(...parts: (number[] | Uint8Array)[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}
const hdr = (ar: number, flags = 0x0100): number[] => [0xab, 0xcd, flags >> 8, flags & 0xff, 0, 1, 0, 0, 0, 0, 0, ar];
const qn = (name: string, type = 1): number[] => [...name.split('.').filter(Boolean).flatMap((l) => [l.length, ...Buffer.from(l)]), 0, 0, type, 0, 1];
const optRR = (rdata: number[], version = 0): number[] => [0, 0, 41, 0x04, 0xd0, 0, version, 0x80, 0, rdata.length >> 8, rdata.length & 0xff, ...rdata];
const ecs4 = [0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2];
const ecs6 = [0, 8, 0, 11, 0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56];
const cookie = [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
const tsigRR = [3, 107, 101, 121, 0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4];

function seeds(): Uint8Array[] {
  const viaDns2 = (name: string, type: number, ecs?: string): Uint8Array => {
    const p = new Packet();
    p.header.id = 0x0102;
    p.header.rd = 1;
    p.questions.push({ name, type, class: 1 });
    if (ecs !== undefined) p.additionals.push(Packet.Resource.EDNS(ecs ? [Packet.Resource.EDNS.ECS(ecs)] : []));
    return new Uint8Array(p.toBuffer());
  };
  return [
    viaDns2('www.example.com', 1),
    viaDns2('WwW.ExAmPlE.CoM', 28, ''),
    viaDns2('steered.gslb.example.net', 1, '198.51.100.0/24'),
    viaDns2('.', 2),
    wire(hdr(1), qn('api.example.org', 28), optRR(ecs6)),
    wire(hdr(1), qn('a.b.c.d.e.f.example'), optRR([...cookie, ...ecs4])),
    wire(hdr(2), qn('signed.example'), optRR([]), tsigRR),
    wire(hdr(1), qn(`${'x'.repeat(63)}.${'y'.repeat(63)}.example`), optRR(ecs4)),
    wire(hdr(1, 0x0110), qn('cd.example', 255), optRR([], 1)),
  ];
}

// ── mutations ────────────────────────────────────────────────────────────────────────────────────

const int = (rng: Rng, n: number): number => Math.floor(rng() * n);

/** Offsets of the question's label-length octets (stops at anything that is not a plain label). */
function labelOffsets(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let p = 12; p < b.length && b[p] !== 0 && b[p] < 64; p += b[p] + 1) out.push(p);
  return out;
}

function mutate(rng: Rng, src: Uint8Array): Uint8Array {
  let b: Uint8Array = Uint8Array.from(src);
  const rounds = 1 + int(rng, 3);
  for (let r = 0; r < rounds; r++) {
    switch (int(rng, 10)) {
      case 0: { // bit flips
        const n = 1 + int(rng, 4);
        for (let i = 0; i < n && b.length; i++) b[int(rng, b.length)] ^= 1 << int(rng, 8);
        break;
      }
      case 1: // truncation
        b = b.subarray(0, int(rng, b.length + 1));
        break;
      case 2: { // a header count
        if (b.length < 12) break;
        const at = 4 + 2 * int(rng, 4);
        const v = rng() < 0.7 ? int(rng, 4) : int(rng, 0x10000);
        b[at] = v >> 8;
        b[at + 1] = v & 0xff;
        break;
      }
      case 3: { // a label length
        const offs = labelOffsets(b);
        if (offs.length) b[offs[int(rng, offs.length)]] = rng() < 0.5 ? int(rng, 64) : int(rng, 256);
        break;
      }
      case 4: { // a compression pointer spliced in
        const at = 12 + int(rng, Math.max(1, b.length - 11));
        const ptr = [0xc0 | int(rng, 4), int(rng, 256)];
        b = wire(b.subarray(0, at), ptr, b.subarray(rng() < 0.5 ? at : Math.min(b.length, at + 2)));
        break;
      }
      case 5: // random bytes appended
        b = wire(b, Array.from({ length: int(rng, 40) }, () => int(rng, 256)));
        break;
      case 6: { // an octet overwritten with an edge value
        const edge = [0, 1, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xff];
        if (b.length) b[int(rng, b.length)] = edge[int(rng, edge.length)];
        break;
      }
      case 8: { // any octet value inside a question label: escapes, upper case, non-ASCII
        const offs = labelOffsets(b);
        if (!offs.length) break;
        const at = offs[int(rng, offs.length)];
        const pos = at + 1 + int(rng, b[at]);
        if (b[at] > 0 && pos < b.length) b[pos] = int(rng, 256);
        break;
      }
      case 7: { // another OPT appended and counted: two OPTs, two ECS, ECS after garbage
        if (b.length < 12) break;
        const options = [[], ecs4, ecs6, cookie, [...ecs4, ...ecs4]][int(rng, 5)];
        b = wire(b, optRR(options));
        b[11] = (b[11] + 1) & 0xff;
        break;
      }
      default: // QR and opcode cleared, so more mutants reach the interesting checks
        if (b.length > 3) b[2] &= 0x07;
    }
  }
  return b;
}

function randomBytes(rng: Rng): Uint8Array {
  const b = new Uint8Array(int(rng, 601));
  for (let i = 0; i < b.length; i++) b[i] = int(rng, 256);
  if (rng() < 0.5 && b.length > 5) { b[2] &= 0x07; b[4] = 0; b[5] = 1; } // a plausible header now and then
  return b;
}

// ── checks on every verdict ──────────────────────────────────────────────────────────────────────

const KINDS = new Set<string>(MALFORMED_KINDS);
const SIZES = [12, 100, 512, 1232, 65535];

function answerFor(q: Query, rng: Rng): Answer {
  const own: WireRR = { owner: q.qname, ownerWire: nameToWire(q.qname), type: 1, klass: 1, ttl: 60, rdata: Uint8Array.of(192, 0, 2, 1) };
  const other: WireRR = { owner: 'ns1.example.net.', ownerWire: nameToWire('ns1.example.net.'), type: 28, klass: 1, ttl: 300, rdata: new Uint8Array(16) };
  const n = int(rng, 40);
  return {
    rcode: rng() < 0.9 ? 0 : int(rng, 24),
    aa: rng() < 0.5,
    answer: Array.from({ length: n }, () => own),
    authority: rng() < 0.3 ? [other] : [],
    additional: rng() < 0.3 ? [other, own] : [],
    ecsScope: int(rng, 140),
  };
}

/** dns2 reads an IPv6 ECS address in 16-bit steps, so an odd-length one at the end of a message trips it. */
function dns2MisreadsEcs(q: { edns: Query['edns'] }): boolean {
  const e = q.edns?.ecs;
  return !!e && e.family === 2 && ((e.sourcePrefix + 7) >> 3) % 2 === 1;
}

function checkReply(out: Uint8Array, id: number, hasQuestion: boolean, edns: Query['edns'], where: string): void {
  const p = Packet.parse(Buffer.from(out.buffer, out.byteOffset, out.length));
  if (p.header.id !== id) throw new Error(`${where}: reply id ${p.header.id} ≠ ${id}`);
  if (p.header.qr !== 1) throw new Error(`${where}: QR not set`);
  if (p.header.tc === 0 && p.header.qdcount !== (hasQuestion ? 1 : 0)) throw new Error(`${where}: qdcount ${p.header.qdcount}`);
  if (p.errors.length && !dns2MisreadsEcs({ edns })) throw new Error(`${where}: dns2 could not read the reply: ${p.errors[0].message}`);
}

function checkQuery(buf: Uint8Array, q: Query, where: string): void {
  // The canonical name maps back to the question bytes, lower-cased.
  const nameBytes = buf.subarray(12, q.questionEnd - 4);
  const lower = Uint8Array.from(nameBytes, (c) => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c));
  if (Buffer.compare(Buffer.from(nameToWire(q.qname)), Buffer.from(lower)) !== 0) throw new Error(`${where}: qname ${q.qname} does not round-trip`);
  // Where the name is plain text, dns2 reads the same question.
  if (!q.qname.includes('\\')) {
    const ref = Packet.parse(Buffer.from(buf)).questions[0];
    const refName = ref ? (ref.name === '' ? '.' : `${ref.name.toLowerCase()}.`) : undefined;
    if (refName !== q.qname || ref.type !== q.qtype || ref.class !== q.qclass) throw new Error(`${where}: dns2 reads ${refName}/${ref?.type}, we read ${q.qname}/${q.qtype}`);
  }
}

function check(buf: Uint8Array, r: DecodeResult, rng: Rng, where: string): void {
  if (r.kind === 'drop') {
    if (!KINDS.has(r.reason)) throw new Error(`${where}: unknown drop reason ${r.reason}`);
    return;
  }
  const maxSize = SIZES[int(rng, SIZES.length)];
  if (r.kind === 'query') {
    checkQuery(buf, r.query, where);
    const out = encodeResponse(buf, r.query, answerFor(r.query, rng), maxSize);
    if (out.length > maxSize && out.length > 12) throw new Error(`${where}: ${out.length} octets over the ${maxSize} limit`);
    checkReply(out, r.query.id, true, r.query.edns, where);
    return;
  }
  if (r.kind !== 'error' || !KINDS.has(r.reason)) throw new Error(`${where}: unexpected result ${JSON.stringify(r)}`);
  const out = encodeErrorResponse(buf, r.id, r.flags, r.opcode, r.questionEnd, r.rcode, r.edns, maxSize);
  checkReply(out, r.id, r.questionEnd > 12, r.edns, where);
}

describe('fuzz: decodeQuery on hostile input', () => {
  it(`survives ≥${MIN_PACKETS} random and mutated packets (seed ${SEED.toString(16)})`, () => {
    const rng = mulberry32(SEED);
    const corpus = seeds();
    // Every seed is a well-formed query; the last one deliberately asks for EDNS version 1.
    for (const s of corpus.slice(0, -1)) expect(decodeQuery(s).kind).toBe('query');
    expect(decodeQuery(corpus[corpus.length - 1])).toMatchObject({ kind: 'error', reason: 'badvers' });
    const counts = new Map<string, number>();
    const start = performance.now();
    let n = 0;
    for (; n < TARGET_PACKETS; n++) {
      if ((n & 1023) === 0 && performance.now() - start > TIME_BUDGET_MS) break;
      const buf = rng() < 0.2 ? randomBytes(rng) : mutate(rng, corpus[int(rng, corpus.length)]);
      const where = `seed ${SEED.toString(16)} packet ${n}`;
      let r: DecodeResult;
      try {
        r = decodeQuery(buf);
      } catch (e) {
        throw new Error(`${where}: decodeQuery threw on ${Buffer.from(buf).toString('hex')}: ${String(e)}`);
      }
      const key = r.kind === 'query' ? 'query' : `${r.kind}:${r.reason}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      try {
        check(buf, r, rng, where);
      } catch (e) {
        throw new Error(`${String(e)} (input ${Buffer.from(buf).toString('hex')})`);
      }
    }
    if (process.env.FUZZ_VERBOSE) console.log(n, 'packets in', Math.round(performance.now() - start), 'ms', Object.fromEntries(counts));
    expect(n).toBeGreaterThanOrEqual(MIN_PACKETS);
    // The mutator must reach every verdict, or the fuzz is weaker than it looks.
    expect(counts.get('query') ?? 0).toBeGreaterThan(1000);
    for (const k of MALFORMED_KINDS) {
      const hits = (counts.get(`drop:${k}`) ?? 0) + (counts.get(`error:${k}`) ?? 0);
      expect(hits, `verdict ${k} never reached`).toBeGreaterThan(0);
    }
  });
});
