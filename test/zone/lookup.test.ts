// Table tests of the authoritative lookup semantics over one test zone (pure: no sockets).
import { describe, expect, it } from 'vitest';
import { RRType, Rcode } from '../../src/dns/constants.js';
import { decodeQuery } from '../../src/dns/decode-query.js';
import { bytesToIp } from '../../src/dns/address.js';
import { QUESTION_NAME, type Answer, type WireRR } from '../../src/dns/types.js';
import { parseMasterFile } from '../../src/zone/masterfile.js';
import { readWireName } from '../../src/zone/rdata.js';
import { lookup, type DynamicNames } from '../../src/zone/lookup.js';
import { buildZone, buildZoneSet } from '../../src/zone/tree.js';

const ZONE = `
$ORIGIN example.test.
$TTL 3600
@        SOA  ns1 hostmaster 1 7200 900 1209600 300
@        NS   ns1
@        NS   ns2.elsewhere.test.
ns1      A    192.0.2.53
www      A    192.0.2.1
www      A    192.0.2.2
www      AAAA 2001:db8::1
alias    CNAME www
alias2   CNAME alias
far      CNAME www.elsewhere.test.
dangling CNAME nowhere
loop1    CNAME loop2
loop2    CNAME loop1
*.wild   A    192.0.2.99
*.wild   TXT  "wild"
*.wc     CNAME www
a.b.deep A    192.0.2.7
sub      NS   ns.sub
sub      NS   ns.outside.test.
ns.sub   A    192.0.2.200
@        MX   10 mail
mail     A    192.0.2.25
`;

const SUB = `
$ORIGIN child.example.test.
$TTL 60
@ SOA ns1.child.example.test. h.child.example.test. 1 2 3 4 30
@ NS ns1
ns1 A 192.0.2.60
x A 192.0.2.61
`;

function zoneSet() {
  const parsed = parseMasterFile(ZONE, { file: 'example.test.zone', origin: 'example.test.' });
  expect(parsed.errors).toEqual([]);
  const child = parseMasterFile(SUB, { file: 'child.zone', origin: 'child.example.test.' });
  expect(child.errors).toEqual([]);
  return buildZoneSet([
    buildZone('example.test.', 'example.test.zone', parsed.records, ['api.example.test.']),
    buildZone('child.example.test.', 'child.zone', child.records),
  ]);
}

const zones = zoneSet();

/** "owner TYPE data" lines, for readable expectations; an owner written as the question reads as `qname`. */
function lines(rrs: readonly WireRR[], qname = '<question>'): string[] {
  return rrs.map((r) => {
    let data: string;
    if (r.type === RRType.A || r.type === RRType.AAAA) data = bytesToIp(r.rdata);
    else if (r.type === RRType.CNAME || r.type === RRType.NS) data = readWireName(r.rdata, 0, r.rdata.length).name;
    else if (r.type === RRType.SOA) data = `${readWireName(r.rdata, 0, r.rdata.length).name} ttl=${r.ttl}`;
    else data = `type${r.type}`;
    return `${r.owner === QUESTION_NAME ? qname : r.owner} ${r.type === RRType.SOA ? 'SOA' : Object.entries(RRType).find(([, v]) => v === r.type)?.[0]} ${data}`;
  });
}

interface Case {
  name: string;
  qname: string;
  qtype: number;
  rcode: number;
  aa: boolean;
  answer?: string[];
  authority?: string[];
  additional?: string[];
}

const SOA_NEG = 'example.test. SOA ns1.example.test. ttl=300'; // min(3600, 300): RFC 2308 §5

const cases: Case[] = [
  { name: 'exact A', qname: 'www.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, aa: true, answer: ['www.example.test. A 192.0.2.1', 'www.example.test. A 192.0.2.2'] },
  { name: 'exact AAAA', qname: 'www.example.test.', qtype: RRType.AAAA, rcode: Rcode.NOERROR, aa: true, answer: ['www.example.test. AAAA 2001:db8::1'] },
  { name: 'NODATA carries the SOA with the negative TTL', qname: 'www.example.test.', qtype: RRType.MX, rcode: Rcode.NOERROR, aa: true, answer: [], authority: [SOA_NEG] },
  { name: 'NXDOMAIN carries the SOA', qname: 'nope.example.test.', qtype: RRType.A, rcode: Rcode.NXDOMAIN, aa: true, answer: [], authority: [SOA_NEG] },
  { name: 'outside every zone is REFUSED without AA', qname: 'www.other.test.', qtype: RRType.A, rcode: Rcode.REFUSED, aa: false, answer: [] },
  { name: 'CNAME chased within the zone', qname: 'alias.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, aa: true, answer: ['alias.example.test. CNAME www.example.test.', 'www.example.test. A 192.0.2.1', 'www.example.test. A 192.0.2.2'] },
  { name: 'CNAME chain of two', qname: 'alias2.example.test.', qtype: RRType.AAAA, rcode: Rcode.NOERROR, aa: true, answer: ['alias2.example.test. CNAME alias.example.test.', 'alias.example.test. CNAME www.example.test.', 'www.example.test. AAAA 2001:db8::1'] },
  { name: 'CNAME query returns the CNAME itself', qname: 'alias.example.test.', qtype: RRType.CNAME, rcode: Rcode.NOERROR, aa: true, answer: ['alias.example.test. CNAME www.example.test.'] },
  { name: 'CNAME out of zone is not chased', qname: 'far.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, aa: true, answer: ['far.example.test. CNAME www.elsewhere.test.'] },
  { name: 'CNAME to a missing name: NXDOMAIN with the chain (RFC 6604)', qname: 'dangling.example.test.', qtype: RRType.A, rcode: Rcode.NXDOMAIN, aa: true, answer: ['dangling.example.test. CNAME nowhere.example.test.'], authority: [SOA_NEG] },
  { name: 'CNAME to NODATA keeps the chain', qname: 'alias.example.test.', qtype: RRType.TXT, rcode: Rcode.NOERROR, aa: true, answer: ['alias.example.test. CNAME www.example.test.'], authority: [SOA_NEG] },
  { name: 'wildcard synthesizes the query name', qname: 'x.wild.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, aa: true, answer: ['x.wild.example.test. A 192.0.2.99'] },
  { name: 'wildcard matches several labels', qname: 'a.b.wild.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, aa: true, answer: ['a.b.wild.example.test. A 192.0.2.99'] },
  { name: 'wildcard NODATA', qname: 'x.wild.example.test.', qtype: RRType.AAAA, rcode: Rcode.NOERROR, aa: true, answer: [], authority: [SOA_NEG] },
  { name: 'the wildcard owner itself', qname: '*.wild.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, aa: true, answer: ['*.wild.example.test. A 192.0.2.99'] },
  { name: 'wildcard does not cover the parent', qname: 'wild.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, aa: true, answer: [], authority: [SOA_NEG] },
  { name: 'wildcard CNAME is chased', qname: 'q.wc.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, aa: true, answer: ['q.wc.example.test. CNAME www.example.test.', 'www.example.test. A 192.0.2.1', 'www.example.test. A 192.0.2.2'] },
  { name: 'empty non-terminal is NODATA, not NXDOMAIN (RFC 4592 §2.2.2)', qname: 'b.deep.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, aa: true, answer: [], authority: [SOA_NEG] },
  { name: 'below an ENT with no wildcard: NXDOMAIN', qname: 'z.b.deep.example.test.', qtype: RRType.A, rcode: Rcode.NXDOMAIN, aa: true, answer: [], authority: [SOA_NEG] },
  { name: 'referral at the cut: AA clear, NS in authority, glue', qname: 'sub.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, aa: false, answer: [], authority: ['sub.example.test. NS ns.sub.example.test.', 'sub.example.test. NS ns.outside.test.'], additional: ['ns.sub.example.test. A 192.0.2.200'] },
  { name: 'referral below the cut', qname: 'deep.host.sub.example.test.', qtype: RRType.AAAA, rcode: Rcode.NOERROR, aa: false, answer: [], authority: ['sub.example.test. NS ns.sub.example.test.', 'sub.example.test. NS ns.outside.test.'], additional: ['ns.sub.example.test. A 192.0.2.200'] },
  { name: 'glue name is occluded: referral', qname: 'ns.sub.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, aa: false, authority: ['sub.example.test. NS ns.sub.example.test.', 'sub.example.test. NS ns.outside.test.'] },
  { name: 'DS at the cut is answered by the parent (NODATA)', qname: 'sub.example.test.', qtype: 43, rcode: Rcode.NOERROR, aa: true, answer: [], authority: [SOA_NEG] },
  { name: 'longest zone wins: the child zone answers', qname: 'x.child.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, aa: true, answer: ['x.child.example.test. A 192.0.2.61'] },
  { name: 'child zone NXDOMAIN carries the child SOA', qname: 'y.child.example.test.', qtype: RRType.A, rcode: Rcode.NXDOMAIN, aa: true, authority: ['child.example.test. SOA ns1.child.example.test. ttl=30'] },
  { name: 'apex NS', qname: 'example.test.', qtype: RRType.NS, rcode: Rcode.NOERROR, aa: true, answer: ['example.test. NS ns1.example.test.', 'example.test. NS ns2.elsewhere.test.'] },
  { name: 'ANY gets one RRset (RFC 8482)', qname: 'www.example.test.', qtype: RRType.ANY, rcode: Rcode.NOERROR, aa: true, answer: ['www.example.test. A 192.0.2.1', 'www.example.test. A 192.0.2.2'] },
  { name: 'ANY at a CNAME returns the CNAME only', qname: 'alias.example.test.', qtype: RRType.ANY, rcode: Rcode.NOERROR, aa: true, answer: ['alias.example.test. CNAME www.example.test.'] },
  { name: 'ANY at the apex prefers a non-SOA RRset', qname: 'example.test.', qtype: RRType.ANY, rcode: Rcode.NOERROR, aa: true },
  { name: 'a steered name exists: other types are NODATA', qname: 'api.example.test.', qtype: RRType.TXT, rcode: Rcode.NOERROR, aa: true, answer: [], authority: [SOA_NEG] },
];

describe('lookup', () => {
  it.each(cases)('$name', (c) => {
    const ans: Answer = lookup(zones, c.qname, c.qtype, null);
    expect(ans.rcode).toBe(c.rcode);
    expect(ans.aa).toBe(c.aa);
    if (c.answer) expect(lines(ans.answer, c.qname)).toEqual(c.answer);
    if (c.authority) expect(lines(ans.authority, c.qname)).toEqual(c.authority);
    if (c.additional) expect(lines(ans.additional, c.qname)).toEqual(c.additional);
    expect(ans.ecsScope).toBe(0);
  });

  it('answers names a wildcard covers with records made once, owned by the question', () => {
    const x = lookup(zones, 'x.wild.example.test.', RRType.A, null).answer;
    const y = lookup(zones, 'a.b.wild.example.test.', RRType.A, null).answer;
    expect(x[0].owner).toBe(QUESTION_NAME);
    expect(y[0]).toBe(x[0]); // no owner encoded per query
  });

  it('ANY at the apex answers one RRset that is not the SOA', () => {
    const ans = lookup(zones, 'example.test.', RRType.ANY, null);
    expect(new Set(ans.answer.map((r) => r.type)).size).toBe(1);
    expect(ans.answer[0].type).not.toBe(RRType.SOA);
  });

  it('a CNAME loop stops after a bounded chain', () => {
    const ans = lookup(zones, 'loop1.example.test.', RRType.A, null);
    expect(ans.rcode).toBe(Rcode.NOERROR);
    expect(ans.answer.length).toBeGreaterThan(1);
    expect(ans.answer.length).toBeLessThanOrEqual(10);
    expect(ans.answer.every((r) => r.type === RRType.CNAME)).toBe(true);
  });

  it('dynamic names answer A/AAAA; their scope is kept; servfail is passed on', () => {
    const rr: WireRR = { owner: 'api.example.test.', ownerWire: new Uint8Array(), type: RRType.A, klass: 1, ttl: 30, rdata: new Uint8Array([198, 51, 100, 1]) };
    const dyn = (servfail: boolean): DynamicNames => ({
      answer: (name, qtype) => (name === 'api.example.test.' ? { records: qtype === RRType.A ? [rr] : [], servfail, ecsScope: 24 } : null),
    });
    const a = lookup(zones, 'api.example.test.', RRType.A, dyn(false));
    expect(lines(a.answer)).toEqual(['api.example.test. A 198.51.100.1']);
    expect(a.ecsScope).toBe(24);
    const aaaa = lookup(zones, 'api.example.test.', RRType.AAAA, dyn(false));
    expect(aaaa.answer).toEqual([]);
    expect(lines(aaaa.authority)).toEqual([SOA_NEG]);
    expect(aaaa.ecsScope).toBe(24);
    const fail = lookup(zones, 'api.example.test.', RRType.A, dyn(true));
    expect(fail.rcode).toBe(Rcode.SERVFAIL);
    const any = lookup(zones, 'api.example.test.', RRType.ANY, dyn(false));
    expect(lines(any.answer)).toEqual(['api.example.test. A 198.51.100.1']);
  });

  it('names match case-insensitively: mixed case in the zone file and in the question on the wire', () => {
    // Both sides reach lookup() canonical: the parser lower-cases owners, the decoder the question
    // (RFC 4343); the encoder copies the asker's case back (tested there). Nothing is lower-cased here.
    const parsed = parseMasterFile('$ORIGIN Example.TEST.\n$TTL 60\n@ SOA NS1 HostMaster 1 2 3 4 5\n@ NS NS1\nMiXeD.Case A 192.0.2.8\n', { file: 'mixed.zone', origin: 'example.test.' });
    expect(parsed.errors).toEqual([]);
    const set = buildZoneSet([buildZone('example.test.', 'mixed.zone', parsed.records)]);
    const wire = Uint8Array.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
      5, ...Buffer.from('mIxEd'), 4, ...Buffer.from('CASE'), 7, ...Buffer.from('eXaMpLe'), 4, ...Buffer.from('TeSt'), 0, 0, 1, 0, 1]);
    const d = decodeQuery(wire);
    if (d.kind !== 'query') throw new Error(d.kind);
    expect(lines(lookup(set, d.query.qname, RRType.A, null).answer)).toEqual(['mixed.case.example.test. A 192.0.2.8']);
    // And the existing zone, asked in upper case through the decoder.
    const www = decodeQuery(Uint8Array.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, ...Buffer.from('WWW'), 7, ...Buffer.from('EXAMPLE'), 4, ...Buffer.from('TEST'), 0, 0, 1, 0, 1]));
    if (www.kind !== 'query') throw new Error(www.kind);
    expect(lookup(zones, www.query.qname, RRType.A, null).answer.length).toBe(2);
  });
});
