import { describe, it, expect } from 'vitest';
import dns2 from 'dns2';
import { decodeQuery, MALFORMED_KINDS, type DecodeResult } from '../../src/dns/decode-query.js';
import { ecsToString } from '../../src/dns/ecs.js';
import { labelToText } from '../../src/dns/name.js';
import type { Query } from '../../src/dns/types.js';

const { Packet } = dns2;

// ── hand-built wire pieces, for what dns2 cannot or will not build ──────────────────────────────

function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

function header(o: { id?: number; flags?: number; qd?: number; an?: number; ns?: number; ar?: number } = {}): number[] {
  return [...u16(o.id ?? 0xbeef), ...u16(o.flags ?? 0x0100), ...u16(o.qd ?? 1), ...u16(o.an ?? 0), ...u16(o.ns ?? 0), ...u16(o.ar ?? 0)];
}

/** Wire name with the given case kept; labels are split on dots (no escapes). */
function wireName(name: string): number[] {
  const out: number[] = [];
  for (const l of name.split('.').filter(Boolean)) out.push(l.length, ...Buffer.from(l, 'latin1'));
  out.push(0);
  return out;
}

function question(name: string, type = 1, klass = 1): number[] {
  return [...wireName(name), ...u16(type), ...u16(klass)];
}

function option(code: number, data: number[]): number[] {
  return [...u16(code), ...u16(data.length), ...data];
}

function ecsOption(family: number, source: number, scope: number, addr: number[]): number[] {
  return option(8, [...u16(family), source, scope, ...addr]);
}

function opt(o: { udp?: number; ext?: number; version?: number; dnssecOk?: boolean; compactOk?: boolean; options?: number[][]; owner?: number[]; rdlen?: number } = {}): number[] {
  const rdata = (o.options ?? []).flat();
  return [
    ...(o.owner ?? [0]), ...u16(41), ...u16(o.udp ?? 1232),
    o.ext ?? 0, o.version ?? 0, (o.dnssecOk ? 0x80 : 0) | (o.compactOk ? 0x40 : 0), 0,
    ...u16(o.rdlen ?? rdata.length), ...rdata,
  ];
}

/** A TSIG-shaped record: we do not verify it, only step over it. */
function tsig(rdata: number[] = [1, 2, 3, 4, 5, 6, 7, 8]): number[] {
  return [...wireName('key.example'), ...u16(250), ...u16(255), 0, 0, 0, 0, ...u16(rdata.length), ...rdata];
}

function msg(...parts: number[][]): Uint8Array {
  return Uint8Array.from(parts.flat());
}

function asQuery(r: DecodeResult): Query {
  if (r.kind !== 'query') throw new Error(`expected a query, got ${JSON.stringify(r)}`);
  return r.query;
}

// ── valid queries ────────────────────────────────────────────────────────────────────────────────

interface Dns2Case {
  name: string;
  build: () => InstanceType<typeof Packet>;
  expect: Partial<Query> & { ecs?: string | null; udpSize?: number; dnssecOk?: boolean; hasEdns: boolean };
}

function dns2Query(name: string, type: number, klass = 1, mutate?: (p: InstanceType<typeof Packet>) => void) {
  return (): InstanceType<typeof Packet> => {
    const p = new Packet();
    p.header.id = 0x1234;
    p.header.rd = 1;
    p.questions.push({ name, type, class: klass });
    mutate?.(p);
    return p;
  };
}

describe('decodeQuery: valid queries built with dns2', () => {
  const cases: Dns2Case[] = [
    { name: 'plain A, mixed case', build: dns2Query('wWw.ExAmple.COM', 1), expect: { qname: 'www.example.com.', qtype: 1, qclass: 1, hasEdns: false } },
    { name: 'AAAA', build: dns2Query('api.example.org', 28), expect: { qname: 'api.example.org.', qtype: 28, hasEdns: false } },
    { name: 'class CH is kept for the answer logic', build: dns2Query('version.bind', 16, 3), expect: { qname: 'version.bind.', qtype: 16, qclass: 3, hasEdns: false } },
    { name: 'root name', build: dns2Query('.', 2), expect: { qname: '.', qtype: 2, hasEdns: false } },
    {
      name: 'EDNS, 4096', build: dns2Query('example.com', 1, 1, (p) => p.additionals.push(Packet.Resource.EDNS([], { udpPayloadSize: 4096 }))),
      expect: { qname: 'example.com.', hasEdns: true, udpSize: 4096, dnssecOk: false, ecs: null },
    },
    {
      name: 'EDNS with DO', build: dns2Query('example.com', 1, 1, (p) => p.additionals.push(Packet.Resource.EDNS([], { doFlag: true, udpPayloadSize: 1232 }))),
      expect: { hasEdns: true, udpSize: 1232, dnssecOk: true, ecs: null },
    },
    {
      name: 'EDNS payload below 512 counts as 512 (RFC 6891 §6.2.5)',
      build: dns2Query('example.com', 1, 1, (p) => p.additionals.push(Packet.Resource.EDNS([], { udpPayloadSize: 100 }))),
      expect: { hasEdns: true, udpSize: 512 },
    },
    {
      name: 'EDNS + ECS /24', build: dns2Query('www.example.com', 1, 1, (p) => p.additionals.push(Packet.Resource.EDNS([Packet.Resource.EDNS.ECS('192.0.2.0/24')]))),
      expect: { hasEdns: true, ecs: '192.0.2.0/24' },
    },
    {
      name: 'EDNS + ECS IPv6 /48', build: dns2Query('www.example.com', 28, 1, (p) => p.additionals.push(Packet.Resource.EDNS([
        { ednsCode: 8, family: 2, sourcePrefixLength: 48, scopePrefixLength: 0, ip: '2001:db8:abcd::' } as never,
      ]))),
      expect: { hasEdns: true, ecs: '2001:db8:abcd::/48' },
    },
    {
      name: 'CD and RD flags kept', build: dns2Query('example.com', 1, 1, (p) => { p.header.cd = 1; }),
      expect: { flags: 0x0110, hasEdns: false },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const buf = c.build().toBuffer();
      const q = asQuery(decodeQuery(buf));
      const ref = Packet.parse(buf);
      expect(q.id).toBe(0x1234);
      expect(q.opcode).toBe(0);
      expect(q.qtype).toBe(ref.questions[0].type);
      expect(q.qclass).toBe(ref.questions[0].class);
      const refName = ref.questions[0].name.toLowerCase();
      expect(q.qname).toBe(refName === '' ? '.' : `${refName}.`);
      expect(q.questionEnd).toBe(12 + wireName(ref.questions[0].name).length + 4);
      const { ecs, udpSize, dnssecOk, hasEdns, ...rest } = c.expect;
      expect(q).toMatchObject(rest);
      expect(q.edns !== null).toBe(hasEdns);
      if (udpSize !== undefined) expect(q.edns?.udpSize).toBe(udpSize);
      if (dnssecOk !== undefined) expect(q.edns?.dnssecOk).toBe(dnssecOk);
      if (ecs !== undefined) expect(q.edns?.ecs ? ecsToString(q.edns.ecs) : null).toBe(ecs);
    });
  }
});

describe('decodeQuery: valid queries dns2 cannot build', () => {
  it('names seen before (any case) and names that share a cache slot decode to their own text', () => {
    const name = (i: number) => `n${i.toString(36)}.Ex${i % 7}.test`;
    const qname = (n: string) => asQuery(decodeQuery(msg(header(), question(n)))).qname;
    // More names than the cache holds, twice over, then each again in another case and in a longer slot.
    for (let round = 0; round < 2; round++) for (let i = 0; i < 5000; i++) expect(qname(name(i))).toBe(name(i).toLowerCase() + '.');
    for (let i = 0; i < 5000; i += 97) expect(qname(name(i).toUpperCase())).toBe(name(i).toLowerCase() + '.');
    const slot = new Uint8Array(512).fill(0x61);
    const one = msg(header(), question('short.test'));
    slot.set(one);
    expect(asQuery(decodeQuery(slot, one.length)).qname).toBe('short.test.');
  });

  it('ECS IPv6 /56 (7 address octets) followed by another option', () => {
    const buf = msg(header({ ar: 1 }), question('www.example.com', 28), opt({
      options: [ecsOption(2, 56, 0, [0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56]), option(10, [1, 2, 3, 4, 5, 6, 7, 8])],
    }));
    const q = asQuery(decodeQuery(buf));
    expect(q.edns?.ecs && ecsToString(q.edns.ecs)).toBe('2001:db8:1234:5600::/56');
    expect(q.edns?.version).toBe(0);
  });

  it('unknown options (padding, private use) are ignored; a client cookie is kept', () => {
    const buf = msg(header({ ar: 1 }), question('a.example'), opt({ options: [option(10, [1, 2, 3, 4, 5, 6, 7, 8]), option(12, [0, 0, 0]), option(65001, [])] }));
    const edns = asQuery(decodeQuery(buf)).edns!;
    expect({ ...edns, cookie: Array.from(edns.cookie ?? []) }).toEqual({ version: 0, udpSize: 1232, dnssecOk: false, compactOk: false, ecs: null, nsid: false, cookie: [1, 2, 3, 4, 5, 6, 7, 8] });
  });

  it('the CO flag (RFC 9824 §5.1: second bit of the EDNS flags) is read apart from DO', () => {
    const flags = (o: { dnssecOk?: boolean; compactOk?: boolean }) => {
      const e = asQuery(decodeQuery(msg(header({ ar: 1 }), question('a.example'), opt(o)))).edns!;
      return [e.dnssecOk, e.compactOk];
    };
    expect(flags({})).toEqual([false, false]);
    expect(flags({ dnssecOk: true })).toEqual([true, false]);
    expect(flags({ dnssecOk: true, compactOk: true })).toEqual([true, true]);
    expect(flags({ compactOk: true })).toEqual([false, true]);
  });

  it('an NSID request (option 3, RFC 5001) is noted', () => {
    const buf = msg(header({ ar: 1 }), question('a.example'), opt({ options: [option(3, [])] }));
    expect(asQuery(decodeQuery(buf)).edns?.nsid).toBe(true);
  });

  it('OPT then a TSIG-shaped record, and TSIG then OPT: the unknown record is skipped', () => {
    for (const additional of [[opt(), tsig()], [tsig(), opt()]]) {
      const q = asQuery(decodeQuery(msg(header({ ar: 2 }), question('a.example'), ...additional)));
      expect(q.edns?.udpSize).toBe(1232);
    }
  });

  it('a non-OPT additional with a compressed owner is skipped', () => {
    const rr = [0xc0, 0x0c, ...u16(250), ...u16(255), 0, 0, 0, 0, ...u16(2), 9, 9];
    const q = asQuery(decodeQuery(msg(header({ ar: 2 }), question('a.example'), rr, opt())));
    expect(q.edns).not.toBeNull();
  });

  it('trailing bytes after the last record are tolerated', () => {
    const q = asQuery(decodeQuery(msg(header({ ar: 1 }), question('a.example'), opt(), [1, 2, 3, 4, 5])));
    expect(q.edns).not.toBeNull();
    expect(asQuery(decodeQuery(msg(header(), question('a.example'), [0xde, 0xad]))).qname).toBe('a.example.');
  });

  it('honours the length argument over the buffer length', () => {
    const full = msg(header({ ar: 1 }), question('a.example'), opt({ options: [option(10, [1, 2, 3, 4, 5, 6, 7, 8])] }));
    const padded = new Uint8Array(full.length + 100).fill(0xff);
    padded.set(full);
    expect(asQuery(decodeQuery(padded, full.length)).edns).not.toBeNull();
    expect(decodeQuery(padded, full.length - 1)).toMatchObject({ kind: 'error', reason: 'bad_edns' });
    expect(decodeQuery(full, full.length + 50).kind).toBe('query');
    expect(decodeQuery(full, Number.NaN).kind).toBe('query');
    expect(decodeQuery(full, -1)).toEqual({ kind: 'drop', reason: 'short_header' });
  });

  it('labels needing escapes give the same text as labelToText', () => {
    const label1 = [0x41, 0x2e, 0x62]; // "A.b"
    const label2 = [0x20, 0x5c, 0xff, 0x00]; // " \\ \255 \0"
    const buf = msg(header(), [3, ...label1, 4, ...label2, 3, 0x43, 0x4f, 0x4d, 0], u16(1), u16(1));
    const q = asQuery(decodeQuery(buf));
    expect(q.qname).toBe(`${labelToText(Uint8Array.from(label1))}.${labelToText(Uint8Array.from(label2))}.com.`);
    expect(q.qname).toBe('a\\.b.\\032\\\\\\255\\000.com.');
  });

  it('a 63-octet label and a 255-octet name are accepted', () => {
    const l63 = 'a'.repeat(63);
    expect(asQuery(decodeQuery(msg(header(), question(`${l63}.example`)))).qname).toBe(`${l63}.example.`);
    const name255 = [l63, l63, l63, 'a'.repeat(61)].join('.'); // 4 × 64 − 2 + 1 = 255 octets on the wire
    expect(wireName(name255).length).toBe(255);
    expect(asQuery(decodeQuery(msg(header(), question(name255)))).qname).toBe(`${name255}.`);
  });
});

// ── malformed queries ────────────────────────────────────────────────────────────────────────────

interface BadCase {
  name: string;
  wire: Uint8Array;
  kind: 'drop' | 'error';
  reason: (typeof MALFORMED_KINDS)[number];
  rcode?: number;
  questionEnd?: number;
  edns?: boolean;
}

const Q = question('www.example.com'); // 21 octets: questionEnd 33
const QEND = 12 + Q.length;

const badCases: BadCase[] = [
  { name: 'empty datagram', wire: msg([]), kind: 'drop', reason: 'short_header' },
  { name: '11 octets', wire: msg(header().slice(0, 11)), kind: 'drop', reason: 'short_header' },
  { name: 'QR=1 (a response)', wire: msg(header({ flags: 0x8100 }), Q), kind: 'drop', reason: 'response_bit' },
  { name: 'QR=1 even with a bad opcode', wire: msg(header({ flags: 0x8000 | (5 << 11) }), Q), kind: 'drop', reason: 'response_bit' },
  { name: 'opcode STATUS with a question', wire: msg(header({ flags: 2 << 11 }), Q), kind: 'error', reason: 'bad_opcode', rcode: 4, questionEnd: QEND, edns: false },
  { name: 'opcode NOTIFY with EDNS', wire: msg(header({ flags: 4 << 11, ar: 1 }), Q, opt()), kind: 'error', reason: 'bad_opcode', rcode: 4, questionEnd: QEND, edns: true },
  { name: 'opcode UPDATE with records', wire: msg(header({ flags: 5 << 11, an: 1, ns: 3 }), Q), kind: 'error', reason: 'bad_opcode', rcode: 4, questionEnd: QEND, edns: false },
  { name: 'opcode 15 without question', wire: msg(header({ flags: 15 << 11, qd: 0 })), kind: 'error', reason: 'bad_opcode', rcode: 4, questionEnd: 12 },
  { name: 'opcode IQUERY with a broken question', wire: msg(header({ flags: 1 << 11 }), [0xc0, 0x0c, 0, 1, 0, 1]), kind: 'error', reason: 'bad_opcode', rcode: 4, questionEnd: 12 },
  { name: 'QDCOUNT 0', wire: msg(header({ qd: 0 })), kind: 'error', reason: 'qdcount', rcode: 1, questionEnd: 12, edns: false },
  { name: 'QDCOUNT 0 with an OPT (cookie probe)', wire: msg(header({ qd: 0, ar: 1 }), opt({ options: [option(10, [1, 2, 3, 4, 5, 6, 7, 8])] })), kind: 'error', reason: 'qdcount', rcode: 1, questionEnd: 12, edns: true },
  { name: 'QDCOUNT 2', wire: msg(header({ qd: 2 }), Q, Q), kind: 'error', reason: 'qdcount', rcode: 1, questionEnd: 12, edns: false },
  { name: 'QDCOUNT 65535', wire: msg(header({ qd: 0xffff }), Q), kind: 'error', reason: 'qdcount', rcode: 1, questionEnd: 12 },
  { name: 'ANCOUNT 1', wire: msg(header({ an: 1 }), Q), kind: 'error', reason: 'bad_counts', rcode: 1, questionEnd: QEND, edns: false },
  { name: 'NSCOUNT 1', wire: msg(header({ ns: 1 }), Q), kind: 'error', reason: 'bad_counts', rcode: 1, questionEnd: QEND },
  { name: 'ARCOUNT 3', wire: msg(header({ ar: 3 }), Q, opt(), tsig(), tsig()), kind: 'error', reason: 'bad_counts', rcode: 1, questionEnd: QEND, edns: false },
  { name: 'ARCOUNT 65535, question cut short', wire: msg(header({ ar: 0xffff }), Q.slice(0, 5)), kind: 'error', reason: 'bad_counts', rcode: 1, questionEnd: 12 },
  { name: 'compression pointer in the question', wire: msg(header(), [3, 0x77, 0x77, 0x77, 0xc0, 0x0c, 0, 1, 0, 1]), kind: 'error', reason: 'bad_question', rcode: 1, questionEnd: 12 },
  { name: 'question is only a pointer', wire: msg(header(), [0xc0, 0x00, 0, 1, 0, 1]), kind: 'error', reason: 'bad_question', rcode: 1, questionEnd: 12 },
  { name: 'label type 0x40 (extended label)', wire: msg(header(), [0x41, 0, 1, 0, 1]), kind: 'error', reason: 'bad_question', rcode: 1, questionEnd: 12 },
  { name: 'label type 0x80', wire: msg(header(), [0x81, 0x61, 0, 0, 1, 0, 1]), kind: 'error', reason: 'bad_question', rcode: 1, questionEnd: 12 },
  { name: 'name of 256 octets', wire: msg(header(), question(['a'.repeat(63), 'a'.repeat(63), 'a'.repeat(63), 'a'.repeat(62)].join('.'))), kind: 'error', reason: 'bad_question', rcode: 1, questionEnd: 12 },
  { name: 'question name cut short', wire: msg(header(), Q.slice(0, 8)), kind: 'drop', reason: 'truncated_question' },
  { name: 'question without the root octet', wire: msg(header(), Q.slice(0, 16)), kind: 'drop', reason: 'truncated_question' },
  { name: 'question without QCLASS', wire: msg(header(), Q.slice(0, Q.length - 2)), kind: 'drop', reason: 'truncated_question' },
  { name: 'question missing entirely', wire: msg(header()), kind: 'drop', reason: 'truncated_question' },
  { name: 'OPT owned by a non-root name', wire: msg(header({ ar: 1 }), Q, opt({ owner: wireName('example') })), kind: 'error', reason: 'bad_edns', rcode: 1, questionEnd: QEND, edns: true },
  { name: 'OPT owned by a pointer to the question', wire: msg(header({ ar: 1 }), Q, opt({ owner: [0xc0, 0x0c] })), kind: 'error', reason: 'bad_edns', rcode: 1, questionEnd: QEND, edns: true },
  { name: 'OPT RDLENGTH past the end', wire: msg(header({ ar: 1 }), Q, opt({ rdlen: 20 })), kind: 'error', reason: 'bad_edns', rcode: 1, questionEnd: QEND, edns: false },
  { name: 'option header cut in RDATA', wire: msg(header({ ar: 1 }), Q, opt({ options: [[0, 8, 0]] })), kind: 'error', reason: 'bad_edns', rcode: 1, questionEnd: QEND, edns: true },
  { name: 'option length overruns RDATA', wire: msg(header({ ar: 1 }), Q, opt({ options: [[0, 10, 0, 9, 1, 2, 3]] })), kind: 'error', reason: 'bad_edns', rcode: 1, questionEnd: QEND, edns: true },
  { name: 'two OPT records (RFC 6891 §6.1.1)', wire: msg(header({ ar: 2 }), Q, opt(), opt()), kind: 'error', reason: 'two_opt', rcode: 1, questionEnd: QEND, edns: true },
  { name: 'ECS prefix /33', wire: msg(header({ ar: 1 }), Q, opt({ options: [ecsOption(1, 33, 0, [1, 2, 3, 4, 0])] })), kind: 'error', reason: 'bad_ecs', rcode: 1, questionEnd: QEND, edns: true },
  { name: 'ECS host bits set', wire: msg(header({ ar: 1 }), Q, opt({ options: [ecsOption(1, 24, 0, [193, 0, 0, 1])] })), kind: 'error', reason: 'bad_ecs', rcode: 1, questionEnd: QEND, edns: true },
  { name: 'ECS non-zero scope in a query', wire: msg(header({ ar: 1 }), Q, opt({ options: [ecsOption(1, 24, 16, [193, 0, 0])] })), kind: 'error', reason: 'bad_ecs', rcode: 1, questionEnd: QEND, edns: true },
  { name: 'ECS family 3', wire: msg(header({ ar: 1 }), Q, opt({ options: [ecsOption(3, 0, 0, [])] })), kind: 'error', reason: 'bad_ecs', rcode: 1, questionEnd: QEND, edns: true },
  { name: 'two ECS options', wire: msg(header({ ar: 1 }), Q, opt({ options: [ecsOption(1, 24, 0, [193, 0, 0]), ecsOption(1, 24, 0, [193, 0, 0])] })), kind: 'error', reason: 'two_ecs', rcode: 1, questionEnd: QEND, edns: true },
  { name: 'COOKIE option of 9 octets (RFC 7873 §5.2.2)', wire: msg(header({ ar: 1 }), Q, opt({ options: [option(10, [1, 2, 3, 4, 5, 6, 7, 8, 9])] })), kind: 'error', reason: 'bad_cookie', rcode: 1, questionEnd: QEND, edns: true },
  { name: 'EDNS version 1 → BADVERS', wire: msg(header({ ar: 1 }), Q, opt({ version: 1, udp: 4096 })), kind: 'error', reason: 'badvers', rcode: 16, questionEnd: QEND, edns: true },
  { name: 'EDNS version 255 with options we cannot read → BADVERS', wire: msg(header({ ar: 1 }), Q, opt({ version: 255, options: [[1]] })), kind: 'error', reason: 'badvers', rcode: 16, questionEnd: QEND, edns: true },
  { name: 'ARCOUNT 1 with nothing after the question', wire: msg(header({ ar: 1 }), Q), kind: 'error', reason: 'bad_additional', rcode: 1, questionEnd: QEND, edns: false },
  { name: 'TSIG cut short after a good OPT', wire: msg(header({ ar: 2 }), Q, opt(), tsig().slice(0, 20)), kind: 'error', reason: 'bad_additional', rcode: 1, questionEnd: QEND, edns: true },
  { name: 'additional owner with a bad label type', wire: msg(header({ ar: 1 }), Q, [0x40, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]), kind: 'error', reason: 'bad_additional', rcode: 1, questionEnd: QEND },
];

describe('decodeQuery: malformed input', () => {
  for (const c of badCases) {
    it(`${c.name} → ${c.kind} ${c.reason}`, () => {
      const r = decodeQuery(c.wire);
      expect(r.kind).toBe(c.kind);
      if (r.kind === 'query') return;
      expect(r.reason).toBe(c.reason);
      if (r.kind !== 'error') return;
      expect(r.id).toBe(0xbeef);
      expect(r.opcode).toBe((r.flags >> 11) & 0xf);
      if (c.rcode !== undefined) expect(r.rcode).toBe(c.rcode);
      if (c.questionEnd !== undefined) expect(r.questionEnd).toBe(c.questionEnd);
      if (c.edns !== undefined) expect(r.edns !== null).toBe(c.edns);
      if (r.edns) expect(r.edns.ecs).toBeNull(); // an error reply never echoes ECS
    });
  }

  it('every kind is exercised by the table (so each metric label has a test)', () => {
    const seen = new Set(badCases.map((c) => c.reason));
    expect([...MALFORMED_KINDS].filter((k) => !seen.has(k))).toEqual([]);
  });

  it('BADVERS keeps the request EDNS fields so the reply carries an OPT', () => {
    const r = decodeQuery(msg(header({ ar: 1 }), Q, opt({ version: 1, udp: 4096, dnssecOk: true })));
    expect(r).toMatchObject({ kind: 'error', reason: 'badvers', rcode: 16, edns: { version: 1, udpSize: 4096, dnssecOk: true, ecs: null } });
  });

  it('a two-OPT message is refused even when the second OPT is a later version', () => {
    expect(decodeQuery(msg(header({ ar: 2 }), Q, opt({ version: 1 }), opt()))).toMatchObject({ reason: 'two_opt' });
  });
});
