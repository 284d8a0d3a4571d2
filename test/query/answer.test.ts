// answer() as a CoreDNS-style table: a query in, rcode and the three sections out, over a snapshot
// of test/query/zones/ with the GeoIP test fixture. Pure: no sockets. Queries are decoded from wire
// bytes, so each case goes through the same decoder the server uses.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/load-config.js';
import { bytesToIp, ipToBytes } from '../../src/dns/address.js';
import { Rcode, RRClass, RRType } from '../../src/dns/constants.js';
import { decodeQuery } from '../../src/dns/decode-query.js';
import { QUESTION_NAME, type Answer, type Query, type WireRR } from '../../src/dns/types.js';
import { openGeoDatabases } from '../../src/geo/locator.js';
import { answer } from '../../src/query/answer.js';
import { buildSnapshot, type Snapshot } from '../../src/state/snapshot.js';
import { mulberry32 } from '../../src/steering/rng.js';
import { readWireName } from '../../src/zone/rdata.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const cfg = loadConfig(path.join(ROOT, 'test/query/zones'));
const geo = openGeoDatabases([path.join(ROOT, 'geo/fixtures/world-flat.mmdb')]);

function snapshot(): Snapshot {
  expect(cfg.errors).toEqual([]);
  return buildSnapshot({ version: 1, zones: cfg.zones, steering: cfg.steering, endpointCheckIds: cfg.health.pools, geo, latencyTable: null });
}

/** A query as a resolver sends it: `name` in whatever case, optional ECS (IPv4 /24). */
function query(name: string, qtype: number, qclass: number = RRClass.IN, ecs24?: [number, number, number]): Query {
  const labels = name.split('.').filter((l) => l !== '');
  const bytes = [0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, ecs24 ? 1 : 0];
  for (const l of labels) bytes.push(l.length, ...Buffer.from(l, 'ascii'));
  bytes.push(0, qtype >> 8, qtype & 0xff, qclass >> 8, qclass & 0xff);
  // OPT with ECS: family 1, source /24, scope 0, three address octets (RFC 7871 §6).
  if (ecs24) bytes.push(0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, ...ecs24);
  const d = decodeQuery(Uint8Array.from(bytes));
  if (d.kind !== 'query') throw new Error(`test query did not decode: ${d.kind} ${d.reason}`);
  return d.query;
}

/** The seam: one query, one snapshot, a seeded RNG, the resolver at `source`. */
function ask(snap: Snapshot, q: Query, source = '127.0.0.1'): Answer {
  return answer(q, snap, mulberry32(1), ipToBytes(source)!).answer;
}

const DS = 43;
const TYPE_NAMES = new Map<number, string>([...Object.entries(RRType).map(([k, v]): [number, string] => [v, k]), [DS, 'DS']]);

/** "owner TTL TYPE data", for readable expectations. */
function lines(rrs: readonly WireRR[], qname: string): string[] {
  return rrs.map((r) => {
    const t = r.rdata;
    let data: string;
    if (r.type === RRType.A || r.type === RRType.AAAA) data = bytesToIp(t);
    else if (r.type === RRType.CNAME || r.type === RRType.NS) data = readWireName(t, 0, t.length).name;
    else if (r.type === RRType.SOA) data = readWireName(t, 0, t.length).name;
    else if (r.type === RRType.MX) data = `${(t[0] << 8) | t[1]} ${readWireName(t, 2, t.length).name}`;
    else if (r.type === DS) data = `${(t[0] << 8) | t[1]} ${t[2]} ${t[3]}`;
    else data = `(${t.length} octets)`;
    const owner = r.owner === QUESTION_NAME ? qname : r.owner;
    return `${owner} ${r.ttl} ${TYPE_NAMES.get(r.type) ?? `TYPE${r.type}`} ${data}`;
  });
}

interface Case {
  name: string;
  qname: string;
  qtype: number;
  qclass?: number;
  /** ECS client /24; otherwise the resolver (127.0.0.1, which the GeoIP fixture does not locate). */
  ecs?: [number, number, number];
  rcode: number;
  /** Authoritative answer; true unless REFUSED or a referral. */
  aa?: boolean;
  answer?: string[];
  authority?: string[];
  additional?: string[];
  ecsScope?: number;
}

const NEG_SOA = 'example.test. 300 SOA ns1.example.test.'; // TTL min(SOA TTL, MINIMUM): RFC 2308 §5
const APEX_NS = ['example.test. 3600 NS ns1.example.test.', 'example.test. 3600 NS ns2.elsewhere.test.'];

const cases: Case[] = [
  { name: 'A with two records', qname: 'www.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR,
    answer: ['www.example.test. 3600 A 192.0.2.1', 'www.example.test. 3600 A 192.0.2.2'] },
  { name: 'the question in mixed case', qname: 'WwW.ExAmPlE.tEsT.', qtype: RRType.AAAA, rcode: Rcode.NOERROR,
    answer: ['www.example.test. 3600 AAAA 2001:db8::1'] },
  { name: 'NXDOMAIN with the SOA', qname: 'nope.example.test.', qtype: RRType.A, rcode: Rcode.NXDOMAIN, authority: [NEG_SOA] },
  { name: 'NODATA with the SOA', qname: 'mail.example.test.', qtype: RRType.AAAA, rcode: Rcode.NOERROR, authority: [NEG_SOA] },
  { name: 'empty non-terminal is NODATA, not NXDOMAIN (RFC 8020)', qname: 'wild.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, authority: [NEG_SOA] },
  { name: 'a CNAME chain followed inside the zone', qname: 'alias.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR,
    answer: ['alias.example.test. 3600 CNAME alias2.example.test.', 'alias2.example.test. 3600 CNAME www.example.test.',
      'www.example.test. 3600 A 192.0.2.1', 'www.example.test. 3600 A 192.0.2.2'] },
  { name: 'CNAME asked for itself is not followed', qname: 'alias.example.test.', qtype: RRType.CNAME, rcode: Rcode.NOERROR,
    answer: ['alias.example.test. 3600 CNAME alias2.example.test.'] },
  { name: 'a wildcard answers with the query name as owner (RFC 4592)', qname: 'anything.wild.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR,
    answer: ['anything.wild.example.test. 3600 A 192.0.2.99'] },
  { name: 'a wildcard type it lacks is NODATA', qname: 'anything.wild.example.test.', qtype: RRType.AAAA, rcode: Rcode.NOERROR, authority: [NEG_SOA] },
  { name: 'below a delegation: a referral with glue, not authoritative', qname: 'host.sub.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR, aa: false,
    authority: ['sub.example.test. 3600 NS ns.sub.example.test.', 'sub.example.test. 3600 NS ns.outside.test.'],
    additional: ['ns.sub.example.test. 3600 A 192.0.2.200'] },
  { name: 'DS at the cut is answered by the parent (RFC 4035 §3.1.4.1)', qname: 'sub.example.test.', qtype: DS, rcode: Rcode.NOERROR,
    answer: ['sub.example.test. 3600 DS 12345 13 2'] },
  { name: 'ANY answers one RRset (RFC 8482 §4.1)', qname: 'www.example.test.', qtype: RRType.ANY, rcode: Rcode.NOERROR,
    answer: ['www.example.test. 3600 A 192.0.2.1', 'www.example.test. 3600 A 192.0.2.2'] },
  { name: 'apex NS', qname: 'example.test.', qtype: RRType.NS, rcode: Rcode.NOERROR, answer: APEX_NS },
  { name: 'out of zone: REFUSED', qname: 'www.example.org.', qtype: RRType.A, rcode: Rcode.REFUSED },
  { name: 'AXFR: REFUSED (no zone transfers)', qname: 'example.test.', qtype: RRType.AXFR, rcode: Rcode.REFUSED },
  { name: 'IXFR: REFUSED (no zone transfers)', qname: 'example.test.', qtype: RRType.IXFR, rcode: Rcode.REFUSED },
  { name: 'class CH: REFUSED (only IN is served)', qname: 'www.example.test.', qtype: RRType.A, qclass: RRClass.CH, rcode: Rcode.REFUSED },
  { name: 'class HS: REFUSED', qname: 'www.example.test.', qtype: RRType.A, qclass: 4, rcode: Rcode.REFUSED },
  { name: 'class ANY (255) reads as IN', qname: 'www.example.test.', qtype: RRType.AAAA, qclass: RRClass.ANY, rcode: Rcode.NOERROR,
    answer: ['www.example.test. 3600 AAAA 2001:db8::1'] },
  { name: 'steered, resolver not located: the first region configured', qname: 'gslb.example.test.', qtype: RRType.A, rcode: Rcode.NOERROR,
    answer: ['gslb.example.test. 30 A 192.0.2.10'] },
  { name: 'steered, ECS client in Amsterdam: eu-central, scope the GeoIP network (/16 in the fixture)', qname: 'gslb.example.test.', qtype: RRType.A, ecs: [193, 0, 0],
    rcode: Rcode.NOERROR, answer: ['gslb.example.test. 30 A 198.51.100.10'], ecsScope: 16 },
  { name: 'steered name, AAAA with no IPv6 pools: NODATA', qname: 'gslb.example.test.', qtype: RRType.AAAA, rcode: Rcode.NOERROR, authority: [NEG_SOA] },
];

describe('answer()', () => {
  const snap = snapshot();
  it.each(cases)('$name', (c) => {
    const got = ask(snap, query(c.qname, c.qtype, c.qclass, c.ecs));
    const qname = c.qname.toLowerCase();
    expect({
      rcode: got.rcode,
      answer: lines(got.answer, qname),
      authority: lines(got.authority, qname),
      additional: lines(got.additional, qname),
    }).toEqual({ rcode: c.rcode, answer: c.answer ?? [], authority: c.authority ?? [], additional: c.additional ?? [] });
    expect(got.aa).toBe(c.aa ?? c.rcode !== Rcode.REFUSED);
    if (c.ecsScope !== undefined) expect(got.ecsScope).toBe(c.ecsScope);
  });

  it('serves a steered name from the memo the second time, with the same answer', () => {
    const s = snapshot();
    const q = query('gslb.example.test.', RRType.A, RRClass.IN, [193, 0, 0]);
    const location = geo.locate(Uint8Array.from([193, 0, 0, 0]));
    expect(location).not.toBeNull();
    expect(s.memo.steering(4).orders(location!)).toBe(0);
    const first = ask(s, q);
    expect(s.memo.steering(4).orders(location!)).toBe(1); // the order is memoised for this client network
    const second = ask(s, q);
    expect(lines(second.answer, 'gslb.example.test.')).toEqual(['gslb.example.test. 30 A 198.51.100.10']);
    expect(second).toEqual(first);
  });
});
