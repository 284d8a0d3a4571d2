// The hand-written encoder against dns2's: the same answer encoded by both must decode to the same
// message, field by field (our encoder compresses differently, so bytes may differ).
import dns2 from 'dns2';
import { describe, expect, it } from 'vitest';
import { decodeQuery } from '../../src/dns/decode-query.js';
import { encodeResponse } from '../../src/dns/encode-response.js';
import type { Answer, Query, WireRR } from '../../src/dns/types.js';
import { parseMasterFile } from '../../src/zone/masterfile.js';
import { buildZone } from '../../src/zone/tree.js';

const { Packet } = dns2 as unknown as { Packet: any };

const ZONE = `$ORIGIN example.test.
$TTL 300
@    SOA ns1 hostmaster 7 3600 600 86400 60
@    NS  ns1
ns1  A   192.0.2.53
www  A   192.0.2.1
www  A   192.0.2.2
www  AAAA 2001:db8::1
mx   MX  10 mail.example.test.
txt  TXT "hello" "world"
al   CNAME www
srv  SRV 1 2 443 www
`;
const parsed = parseMasterFile(ZONE, { file: 't.zone', origin: 'example.test.' });
const zone = buildZone('example.test.', 't.zone', parsed.records);
const rrs = (name: string, type: number): WireRR[] => zone.nodes.get(name)!.rrsets.get(type)!.records;

/** A dns2 resource mirroring one of ours (dns2 encodes from objects). */
function toDns2(rr: WireRR): Record<string, unknown> {
  const base = { name: rr.owner.replace(/\.$/, ''), type: rr.type, class: 1, ttl: rr.ttl };
  const p = Packet.parse(wrap(rr)).answers[0];
  return { ...p, ...base };
}

/** Our record alone in a message, so dns2 can decode its rdata into the object dns2 would encode. */
function wrap(rr: WireRR): Buffer {
  const head = Buffer.from([0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(rr.type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(rr.ttl, 4);
  fixed.writeUInt16BE(rr.rdata.length, 8);
  return Buffer.concat([head, Buffer.from(rr.ownerWire), fixed, Buffer.from(rr.rdata)]);
}

function request(name: string, type: number, ecs: string | null): Buffer {
  const p = new Packet();
  p.header.id = 0x1234;
  p.header.rd = 1;
  p.questions.push({ name, type, class: 1 });
  if (ecs !== null) p.additionals.push(Packet.Resource.EDNS([Packet.Resource.EDNS.ECS(ecs)], { udpPayloadSize: 1232 }));
  return p.toBuffer();
}

/** dns2's encoding of the reply we intend: same header bits, question, sections and OPT/ECS. */
function dns2Reply(req: Buffer, ans: Answer, ecs: string | null, tc = false): Buffer {
  const q = Packet.parse(req);
  const p = new Packet();
  p.header.id = q.header.id;
  p.header.qr = 1;
  p.header.aa = ans.aa ? 1 : 0;
  p.header.rd = q.header.rd;
  p.header.tc = tc ? 1 : 0;
  p.header.rcode = ans.rcode;
  p.questions = q.questions;
  if (!tc) {
    p.answers = ans.answer.map(toDns2);
    p.authorities = ans.authority.map(toDns2);
    p.additionals = ans.additional.map(toDns2);
  }
  if (ecs !== null) {
    const e = Packet.Resource.EDNS.ECS(ecs);
    e.scopePrefixLength = ans.ecsScope;
    p.additionals.push(Packet.Resource.EDNS([e], { udpPayloadSize: 1232 }));
  }
  return p.toBuffer();
}

function decoded(req: Buffer): Query {
  const r = decodeQuery(req);
  if (r.kind !== 'query') throw new Error('bad request');
  return r.query;
}

/** The fields that make up a message, names lower-cased (compression and case of owners aside). */
function fields(buf: Uint8Array) {
  const p = Packet.parse(Buffer.from(buf));
  expect(p.errors).toEqual([]);
  expect(p.answers.length + p.authorities.length + p.additionals.length + p.questions.length).toBeGreaterThan(0);
  const norm = (rs: any[]) => rs.map((r) => {
    const { name, ...rest } = r;
    return { name: String(name).toLowerCase(), ...rest };
  });
  return { header: p.header, questions: norm(p.questions), answers: norm(p.answers), authorities: norm(p.authorities), additionals: norm(p.additionals) };
}

const none: WireRR[] = [];
const cases: { name: string; q: [string, number]; ecs: string | null; ans: Answer }[] = [
  { name: 'steered-style A answer with ECS', q: ['www.example.test', 1], ecs: '193.0.0.0/24', ans: { rcode: 0, aa: true, answer: rrs('www.example.test.', 1), authority: none, additional: none, ecsScope: 21 } },
  { name: 'AAAA without EDNS', q: ['www.example.test', 28], ecs: null, ans: { rcode: 0, aa: true, answer: rrs('www.example.test.', 28), authority: none, additional: none, ecsScope: 0 } },
  { name: 'CNAME chain', q: ['al.example.test', 1], ecs: null, ans: { rcode: 0, aa: true, answer: [...rrs('al.example.test.', 5), ...rrs('www.example.test.', 1)], authority: none, additional: none, ecsScope: 0 } },
  { name: 'NXDOMAIN with SOA', q: ['nope.example.test', 1], ecs: '10.1.2.0/24', ans: { rcode: 3, aa: true, answer: none, authority: [zone.negativeSoa], additional: none, ecsScope: 0 } },
  { name: 'MX, TXT, SRV', q: ['mx.example.test', 15], ecs: null, ans: { rcode: 0, aa: true, answer: [...rrs('mx.example.test.', 15), ...rrs('txt.example.test.', 16), ...rrs('srv.example.test.', 33)], authority: none, additional: none, ecsScope: 0 } },
  { name: 'referral-shaped: NS in authority, glue in additional', q: ['x.example.test', 1], ecs: null, ans: { rcode: 0, aa: false, answer: none, authority: rrs('example.test.', 2), additional: rrs('ns1.example.test.', 1), ecsScope: 0 } },
];

describe('encodeResponse decodes the same as dns2 encoding the same reply', () => {
  it.each(cases)('$name', (c) => {
    const req = request(c.q[0], c.q[1], c.ecs);
    const ours = encodeResponse(req, decoded(req), c.ans, 1232);
    expect(fields(ours)).toEqual(fields(dns2Reply(req, c.ans, c.ecs)));
  });

  it('truncation keeps the question and the OPT with ECS, drops the records, sets TC', () => {
    const c = cases[0];
    const big: Answer = { ...c.ans, answer: Array.from({ length: 200 }, () => c.ans.answer[0]) };
    const req = request(c.q[0], c.q[1], c.ecs);
    const ours = encodeResponse(req, decoded(req), big, 512);
    expect(ours.length).toBeLessThanOrEqual(512);
    expect(fields(ours)).toEqual(fields(dns2Reply(req, big, c.ecs, true)));
  });
});
