import { describe, it, expect } from 'vitest';
import dns2 from 'dns2';
import { decodeQuery } from '../../src/dns/decode-query.js';
import { encodeErrorResponse, encodeResponse, SERVER_UDP_PAYLOAD } from '../../src/dns/encode-response.js';
import { decodeEcs, ecsToString, isEcsError } from '../../src/dns/ecs.js';
import { nameToWire } from '../../src/dns/name.js';
import type { Answer, Query, WireRR } from '../../src/dns/types.js';

const { Packet } = dns2;
type Parsed = ReturnType<typeof Packet.parse>;

// ── requests ─────────────────────────────────────────────────────────────────────────────────────

interface ReqOpts { id?: number; type?: number; edns?: boolean; ecs?: string; udp?: number; cd?: boolean; ad?: boolean; rd?: boolean; dnssecOk?: boolean }

function request(name: string, o: ReqOpts = {}): Buffer {
  const p = new Packet();
  p.header.id = o.id ?? 0x4242;
  p.header.rd = o.rd === false ? 0 : 1;
  p.header.cd = o.cd ? 1 : 0;
  p.header.ad = o.ad ? 1 : 0;
  p.questions.push({ name, type: o.type ?? 1, class: 1 });
  if (o.edns || o.ecs) {
    p.additionals.push(Packet.Resource.EDNS(o.ecs ? [Packet.Resource.EDNS.ECS(o.ecs)] : [], { udpPayloadSize: o.udp ?? 4096, doFlag: o.dnssecOk }));
  }
  return p.toBuffer();
}

function decoded(req: Uint8Array): Query {
  const r = decodeQuery(req);
  if (r.kind !== 'query') throw new Error(`request did not decode: ${JSON.stringify(r)}`);
  return r.query;
}

// ── answers ──────────────────────────────────────────────────────────────────────────────────────

function rr(owner: string, type: number, rdata: Uint8Array | number[], ttl = 300, ownerWire?: Uint8Array): WireRR {
  return { owner, ownerWire: ownerWire ?? nameToWire(owner), type, klass: 1, ttl, rdata: Uint8Array.from(rdata) };
}
const A = (owner: string, ip: string, ttl = 300): WireRR => rr(owner, 1, ip.split('.').map(Number), ttl);
const AAAA = (owner: string, last: number): WireRR => rr(owner, 28, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last]);
const CNAME = (owner: string, target: string): WireRR => rr(owner, 5, nameToWire(target));
function u32(n: number): number[] {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}
const SOA = (owner: string): WireRR => rr(owner, 6, [
  ...nameToWire('ns1.example.com.'), ...nameToWire('hostmaster.example.com.'), ...u32(2026010101), ...u32(3600), ...u32(600), ...u32(86400), ...u32(60),
], 60);

function answer(o: Partial<Answer> = {}): Answer {
  return { rcode: 0, aa: true, answer: [], authority: [], additional: [], ecsScope: 0, ...o };
}

function parse(out: Uint8Array): Parsed {
  expect(Buffer.isBuffer(out)).toBe(true);
  const p = Packet.parse(out as Buffer);
  expect(p.errors).toEqual([]);
  return p;
}

const stripDot = (n: string): string => n.replace(/\.$/, '').toLowerCase();
const optOf = (p: Parsed) => p.additionals.find((r) => r.type === 41);

// ── tests ────────────────────────────────────────────────────────────────────────────────────────

describe('encodeResponse: header and question', () => {
  it('copies id, opcode, RD and CD; sets QR and AA; keeps AD, RA and Z at 0', () => {
    const req = request('www.example.com', { cd: true, ad: true });
    const out = encodeResponse(req, decoded(req), answer({ answer: [A('www.example.com.', '192.0.2.1')] }), 512);
    const h = parse(out).header;
    expect(h).toMatchObject({ id: 0x4242, qr: 1, opcode: 0, aa: 1, tc: 0, rd: 1, ra: 0, z: 0, ad: 0, cd: 1, rcode: 0, qdcount: 1, ancount: 1, nscount: 0, arcount: 0 });
  });

  it('RD 0 stays 0 and AA follows the answer', () => {
    const req = request('www.example.com', { rd: false });
    const h = parse(encodeResponse(req, decoded(req), answer({ aa: false, rcode: 5 }), 512)).header;
    expect(h).toMatchObject({ rd: 0, aa: 0, rcode: 5, ancount: 0 });
  });

  it("preserves the asker's case in the question (0x20), byte for byte", () => {
    const req = request('wWw.ExAmPle.CoM', { edns: true });
    const q = decoded(req);
    const out = encodeResponse(req, q, answer({ answer: [A('www.example.com.', '192.0.2.1')] }), 1232);
    expect(Buffer.compare(Buffer.from(out.subarray(12, q.questionEnd)), req.subarray(12, q.questionEnd))).toBe(0);
    expect(parse(out).questions[0]).toMatchObject({ name: 'wWw.ExAmPle.CoM', type: 1, class: 1 });
  });
});

describe('encodeResponse: records', () => {
  it('A, AAAA, CNAME with a name in rdata, SOA in authority, glue in additional', () => {
    const req = request('www.example.com', { edns: true });
    const q = decoded(req);
    const ans = answer({
      answer: [CNAME('www.example.com.', 'edge.cdn.example.net.'), A('edge.cdn.example.net.', '198.51.100.7', 30), AAAA('edge.cdn.example.net.', 9)],
      authority: [SOA('example.com.')],
      additional: [A('ns1.example.com.', '192.0.2.53', 86400)],
    });
    const p = parse(encodeResponse(req, q, ans, 4096));
    expect(p.header).toMatchObject({ ancount: 3, nscount: 1, arcount: 2 });
    expect(p.answers[0]).toMatchObject({ type: 5, class: 1, ttl: 300, domain: 'edge.cdn.example.net' });
    expect(stripDot(p.answers[0].name)).toBe('www.example.com');
    expect(p.answers[1]).toMatchObject({ name: 'edge.cdn.example.net', type: 1, ttl: 30, address: '198.51.100.7' });
    expect(p.answers[2]).toMatchObject({ name: 'edge.cdn.example.net', type: 28, address: '2001:db8::9' });
    expect(p.authorities[0]).toMatchObject({
      name: 'example.com', type: 6, ttl: 60, primary: 'ns1.example.com', admin: 'hostmaster.example.com',
      serial: 2026010101, refresh: 3600, retry: 600, expiration: 86400, minimum: 60,
    });
    expect(p.additionals[0]).toMatchObject({ name: 'ns1.example.com', type: 1, ttl: 86400, address: '192.0.2.53' });
    expect(p.additionals[1].type).toBe(41); // the OPT comes last
  });

  it('rcode and empty sections (NXDOMAIN with SOA)', () => {
    const req = request('nope.example.com');
    const p = parse(encodeResponse(req, decoded(req), answer({ rcode: 3, authority: [SOA('example.com.')] }), 512));
    expect(p.header).toMatchObject({ rcode: 3, ancount: 0, nscount: 1, arcount: 0 });
  });
});

describe('encodeResponse: owner name compression', () => {
  const req = request('wWw.Example.COM');
  const q = decoded(req); // question name at 12: 3www 7example 3com 0 → labels at 12, 16, 24
  const firstOwner = (out: Uint8Array, n: number): number[] => [...out.subarray(q.questionEnd, q.questionEnd + n)];

  const cases: { name: string; rec: WireRR; wire: number[] | null }[] = [
    { name: 'owner = qname → 0xC00C', rec: A('www.example.com.', '192.0.2.1'), wire: [0xc0, 0x0c] },
    { name: 'owner = qname, other case in ownerWire', rec: rr('www.example.com.', 1, [1, 2, 3, 4], 1, nameToWire('WWW.EXAMPLE.COM.')), wire: [0xc0, 0x0c] },
    { name: 'owner = parent zone → pointer to label 2', rec: SOA('example.com.'), wire: [0xc0, 16] },
    { name: 'owner = TLD → pointer to the last label', rec: A('com.', '192.0.2.2'), wire: [0xc0, 24] },
    { name: 'owner unrelated → uncompressed', rec: A('mail.example.org.', '192.0.2.3'), wire: null },
    { name: 'owner a suffix off a label boundary → uncompressed', rec: A('ample.com.', '192.0.2.4'), wire: null },
    { name: 'owner of the same length, different name → uncompressed', rec: A('www.example.net.', '192.0.2.5'), wire: null },
    { name: 'owner longer than qname → uncompressed', rec: A('a.www.example.com.', '192.0.2.6'), wire: null },
    { name: 'root owner → uncompressed', rec: rr('.', 2, nameToWire('a.root-servers.net.')), wire: null },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const out = encodeResponse(req, q, answer({ answer: [c.rec, c.rec] }), 512);
      const p = parse(out);
      expect(p.answers.map((a) => stripDot(a.name))).toEqual([stripDot(c.rec.owner), stripDot(c.rec.owner)]);
      const expected = c.wire ?? [...c.rec.ownerWire];
      expect(firstOwner(out, expected.length)).toEqual(expected);
      const perRecord = (c.wire ? 2 : c.rec.ownerWire.length) + 10 + c.rec.rdata.length;
      expect(out.length).toBe(q.questionEnd + 2 * perRecord);
    });
  }
});

describe('encodeResponse: EDNS', () => {
  it('no OPT when the query had none', () => {
    const req = request('www.example.com');
    const p = parse(encodeResponse(req, decoded(req), answer({ answer: [A('www.example.com.', '192.0.2.1')] }), 512));
    expect(optOf(p)).toBeUndefined();
    expect(p.header.arcount).toBe(0);
  });

  it('exactly one OPT with our payload size, version 0, DO 0, no options, when the query had EDNS without DO', () => {
    const req = request('www.example.com', { edns: true, udp: 4096 });
    const p = parse(encodeResponse(req, decoded(req), answer({ answer: [A('www.example.com.', '192.0.2.1')] }), 1232));
    const opts = p.additionals.filter((r) => r.type === 41);
    expect(opts).toHaveLength(1);
    expect(opts[0]).toMatchObject({ name: '', class: SERVER_UDP_PAYLOAD, ttl: 0, version: 0, doFlag: false, extendedRcode: 0, rdata: [] });
  });

  it('echoes DO=1 (RFC 3225 §3) in answers, truncated replies and error replies', () => {
    const req = request('www.example.com', { edns: true, dnssecOk: true, udp: 4096 });
    const q = decoded(req);
    const full = encodeResponse(req, q, answer({ answer: [A('www.example.com.', '192.0.2.1')] }), 1232);
    const many = Array.from({ length: 60 }, (_, i) => A('www.example.com.', `192.0.2.${i}`));
    const tc = encodeResponse(req, q, answer({ answer: many }), 512);
    const err = encodeErrorResponse(req, q.id, q.flags, q.opcode, q.questionEnd, 1, q.edns, 1232);
    for (const out of [full, tc, err]) {
      // The OPT is the last record: its TTL's third octet holds DO.
      expect(out[out.length - 11 + 7]).toBe(0x80);
    }
    expect(tc[2] & 0x02).toBe(0x02);
  });

  it('sets CO (RFC 9824 §5.1) in replies to DO=1 with CO=1, never without DO', () => {
    const req = request('www.example.com', { edns: true, dnssecOk: true, udp: 4096 });
    const q = decoded(req);
    const thirdOctet = (edns: Query['edns']) => {
      const out = encodeResponse(req, { ...q, edns }, answer({ answer: [A('www.example.com.', '192.0.2.1')] }), 1232);
      return out[out.length - 11 + 7];
    };
    expect(thirdOctet({ ...q.edns!, compactOk: true })).toBe(0xc0);
    expect(thirdOctet({ ...q.edns!, compactOk: false })).toBe(0x80);
    // CO alone asks nothing of a server that sends no DNSSEC records: an unknown flag is not echoed (RFC 6891 §6.1.4).
    expect(thirdOctet({ ...q.edns!, dnssecOk: false, compactOk: true })).toBe(0);
  });

  it('echoes IPv4 ECS with the answer scope (RFC 7871 §7.2.1)', () => {
    const req = request('www.example.com', { ecs: '192.0.2.0/24' });
    const p = parse(encodeResponse(req, decoded(req), answer({ answer: [A('www.example.com.', '192.0.2.1')], ecsScope: 20 }), 1232));
    expect(optOf(p)?.rdata).toEqual([{ ednsCode: 8, family: 1, sourcePrefixLength: 24, scopePrefixLength: 20, ip: '192.0.2.0' }]);
  });

  it('echoes IPv6 /56 ECS (checked by bytes: dns2 mis-decodes /56) and clamps the scope to 128', () => {
    const q = decoded(request('www.example.com', { type: 28, edns: true }));
    // Swap in a hand-built request with a /56 ECS option.
    const ecsOpt = [0, 8, 0, 11, 0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56];
    const reqBytes = Buffer.concat([
      Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]),
      Buffer.from(request('www.example.com', { type: 28 }).subarray(12)),
      Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, ecsOpt.length, ...ecsOpt]),
    ]);
    const q56 = decoded(reqBytes);
    expect(q56.qname).toBe(q.qname);
    const out = encodeResponse(reqBytes, q56, answer({ answer: [AAAA('www.example.com.', 1)], ecsScope: 999 }), 1232);
    const optStart = out.length - (11 + ecsOpt.length);
    expect([...out.subarray(optStart, optStart + 11)]).toEqual([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 15]);
    const body = out.subarray(optStart + 11 + 4);
    const back = decodeEcs(body, 0, body.length, true);
    expect(isEcsError(back)).toBe(false);
    expect(back).toMatchObject({ family: 2, sourcePrefix: 56, scopePrefix: 128 });
    expect(ecsToString(back as never)).toBe('2001:db8:1234:5600::/56');
    expect(Packet.parse(out as Buffer).header).toMatchObject({ id: 0x1234, arcount: 1, ancount: 1 });
  });

  it('extended rcode: BADVERS (16) travels in the OPT TTL', () => {
    const req = Buffer.concat([request('www.example.com').subarray(0, 10), Buffer.from([0, 1]),
      request('www.example.com').subarray(12), Buffer.from([0, 0, 41, 0x10, 0, 0, 1, 0, 0, 0, 0])]);
    const r = decodeQuery(req);
    if (r.kind !== 'error') throw new Error('expected an error verdict');
    expect(r).toMatchObject({ reason: 'badvers', rcode: 16 });
    const out = encodeErrorResponse(req, r.id, r.flags, r.opcode, r.questionEnd, r.rcode, r.edns);
    const p = parse(out);
    expect(p.header).toMatchObject({ id: 0x4242, qr: 1, rcode: 16, qdcount: 1, arcount: 1 });
    expect(optOf(p)).toMatchObject({ ttl: 0x01000000, extendedRcode: 1, version: 0, class: SERVER_UDP_PAYLOAD });
  });

  it('an rcode above 15 without EDNS is sent as SERVFAIL', () => {
    const req = request('www.example.com');
    expect(parse(encodeResponse(req, decoded(req), answer({ rcode: 16 }), 512)).header.rcode).toBe(2);
    expect(parse(encodeErrorResponse(req, 7, 0x0100, 0, 12, 16, null)).header).toMatchObject({ id: 7, rcode: 2, qdcount: 0 });
  });
});

describe('encodeResponse: truncation', () => {
  const many = (n: number): WireRR[] => Array.from({ length: n }, (_, i) => A('www.example.com.', `10.0.${i >> 8}.${i & 0xff}`));

  it('over the limit: TC=1, question and OPT kept, no records (RFC 6891 §7)', () => {
    const req = request('www.example.com', { ecs: '192.0.2.0/24' });
    const q = decoded(req);
    const out = encodeResponse(req, q, answer({ answer: many(100), ecsScope: 24 }), 512);
    const p = parse(out);
    expect(p.header).toMatchObject({ tc: 1, qdcount: 1, ancount: 0, nscount: 0, arcount: 1, aa: 1 });
    expect(optOf(p)?.rdata).toEqual([{ ednsCode: 8, family: 1, sourcePrefixLength: 24, scopePrefixLength: 24, ip: '192.0.2.0' }]);
    expect(out.length).toBe(q.questionEnd + 11 + 4 + 4 + 3);
  });

  it('without EDNS a truncated reply is header + question', () => {
    const req = request('www.example.com');
    const q = decoded(req);
    const out = encodeResponse(req, q, answer({ answer: many(40) }), 512);
    expect(out.length).toBe(q.questionEnd);
    expect(parse(out).header).toMatchObject({ tc: 1, ancount: 0, arcount: 0 });
  });

  it('a message of exactly maxSize is sent whole; one octet less truncates it', () => {
    const req = request('www.example.com', { edns: true });
    const q = decoded(req);
    const ans = answer({ answer: many(30) });
    const full = encodeResponse(req, q, ans, 65535).length;
    expect(full).toBe(q.questionEnd + 30 * 16 + 11);
    const exact = parse(encodeResponse(req, q, ans, full));
    expect(exact.header).toMatchObject({ tc: 0, ancount: 30 });
    const over = parse(encodeResponse(req, q, ans, full - 1));
    expect(over.header).toMatchObject({ tc: 1, ancount: 0, arcount: 1 });
  });

  it('TCP: a message over 65535 octets is truncated too', () => {
    const req = request('big.example.com', { type: 16 });
    const q = decoded(req);
    const txt = rr('big.example.com.', 16, [255, ...new Array<number>(255).fill(0x61)]);
    const out = encodeResponse(req, q, answer({ answer: Array.from({ length: 260 }, () => txt) }), 65535);
    expect(parse(out).header).toMatchObject({ tc: 1, ancount: 0 });
    const fits = encodeResponse(req, q, answer({ answer: Array.from({ length: 200 }, () => txt) }), 100000);
    expect(parse(fits).header).toMatchObject({ tc: 0, ancount: 200 });
  });

  it('a limit below header + question + OPT leaves only the header', () => {
    const req = request('www.example.com', { edns: true });
    const out = encodeResponse(req, decoded(req), answer({ answer: many(2) }), 20);
    expect(out.length).toBe(12);
    expect(parse(out).header).toMatchObject({ tc: 1, qdcount: 0, arcount: 0 });
  });
});

describe('encodeErrorResponse', () => {
  it('FORMERR with no question', () => {
    const req = request('www.example.com');
    const p = parse(encodeErrorResponse(req, 0x4242, 0x0110, 0, 12, 1, null));
    expect(p.header).toMatchObject({ id: 0x4242, qr: 1, rcode: 1, qdcount: 0, rd: 1, cd: 1, aa: 0 });
    expect(p.questions).toEqual([]);
  });

  it('NOTIMP echoes the opcode and question, and an OPT when the request had one', () => {
    const base = request('Www.Example.com', { edns: true });
    const req = Buffer.from(base);
    req[2] = (req[2] & 0x87) | (4 << 3); // opcode NOTIFY
    const r = decodeQuery(req);
    if (r.kind !== 'error') throw new Error('expected an error verdict');
    const p = parse(encodeErrorResponse(req, r.id, r.flags, r.opcode, r.questionEnd, r.rcode, r.edns));
    expect(p.header).toMatchObject({ opcode: 4, rcode: 4, qdcount: 1, arcount: 1 });
    expect(p.questions[0].name).toBe('Www.Example.com');
  });

  it('echoes an ECS handed to it with scope 0', () => {
    const req = request('www.example.com', { ecs: '198.51.100.0/24' });
    const q = decoded(req);
    const p = parse(encodeErrorResponse(req, q.id, q.flags, 0, q.questionEnd, 5, q.edns));
    expect(optOf(p)?.rdata).toEqual([{ ednsCode: 8, family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: '198.51.100.0' }]);
  });

  it('honours maxSize: header only when even the question does not fit', () => {
    const req = request('www.example.com');
    const q = decoded(req);
    const out = encodeErrorResponse(req, 1, 0, 0, q.questionEnd, 2, null, 20);
    expect(out.length).toBe(12);
    expect(parse(out).header).toMatchObject({ tc: 1, rcode: 2 });
  });
});

describe('NSID (RFC 5001)', () => {
  /** A query with an empty NSID option (code 3) in its OPT, built by hand (dns2 has no NSID encoder). */
  function nsidRequest(): Buffer {
    const base = request('www.example.com', { edns: true });
    const withNsid = Buffer.concat([base, Buffer.from([0, 3, 0, 0])]);
    withNsid.writeUInt16BE(4, withNsid.length - 4 - 2); // OPT RDLENGTH: the last field before the options
    return withNsid;
  }
  /** The NSID payload of a reply's OPT, found by walking its options. */
  function nsidOf(out: Uint8Array): string | null {
    const b = Buffer.from(out);
    for (let o = 12; o + 4 <= b.length; o++) {
      if (b[o] === 0 && b[o + 1] === 3 && o + 4 + b.readUInt16BE(o + 2) === b.length) return b.subarray(o + 4).toString('utf8');
    }
    return null;
  }

  it('answers an NSID request with the configured identifier, and only then', async () => {
    const { configureNsid } = await import('../../src/dns/encode-response.js');
    const req = nsidRequest();
    const q = decoded(req);
    expect(q.edns?.nsid).toBe(true);
    configureNsid('dns-a/w1');
    try {
      const out = encodeResponse(req, q, answer({ answer: [A('www.example.com.', '192.0.2.1')] }), 1232);
      expect(nsidOf(out)).toBe('dns-a/w1');
      expect(parse(out).answers.length).toBe(1);
      const plain = encodeResponse(request('www.example.com', { edns: true }), decoded(request('www.example.com', { edns: true })), answer(), 1232);
      expect(nsidOf(plain)).toBeNull();
      configureNsid(null);
      expect(nsidOf(encodeResponse(req, q, answer(), 1232))).toBeNull();
    } finally {
      configureNsid(null);
    }
  });
});
