// Which account a response is charged to, over real lookups of a small zone.
import { describe, expect, it } from 'vitest';
import { RRType } from '../../src/dns/constants.js';
import type { Query } from '../../src/dns/types.js';
import { classify, ResponseKind, type Account } from '../../src/rrl/classify.js';
import { parseMasterFile } from '../../src/zone/masterfile.js';
import { lookup, refused } from '../../src/zone/lookup.js';
import { buildZone, buildZoneSet } from '../../src/zone/tree.js';

const ZONE = `
$ORIGIN example.test.
$TTL 3600
@    SOA  ns1 hostmaster 1 7200 900 1209600 300
@    NS   ns1
ns1  A    192.0.2.53
www  A    192.0.2.1
*.wild A  192.0.2.99
alias CNAME x.wild
sub  NS   ns.sub
ns.sub A  192.0.2.200
`;
const parsed = parseMasterFile(ZONE, { file: 'z', origin: 'example.test.' });
const zones = buildZoneSet([buildZone('example.test.', 'z', parsed.records)]);
const q = (qname: string, qtype: number): Query => ({ id: 1, flags: 0, opcode: 0, qname, qtype, qclass: 1, questionEnd: 0, edns: null });
const account = (qname: string, qtype: number): Account => classify(q(qname, qtype), lookup(zones, qname, qtype, null), { kind: 0, name: '', qtype: 0 });

describe('classify', () => {
  it.each([
    ['www.example.test.', RRType.A, { kind: ResponseKind.ANSWER, name: 'www.example.test.', qtype: RRType.A }],
    ['www.example.test.', RRType.AAAA, { kind: ResponseKind.NODATA, name: 'example.test.', qtype: 0 }],
    ['random-1.example.test.', RRType.A, { kind: ResponseKind.NXDOMAIN, name: 'example.test.', qtype: 0 }],
    ['random-2.example.test.', RRType.TXT, { kind: ResponseKind.NXDOMAIN, name: 'example.test.', qtype: 0 }],
    ['host.sub.example.test.', RRType.A, { kind: ResponseKind.REFERRAL, name: 'sub.example.test.', qtype: 0 }],
    // Synthesised from a wildcard: charged to the wildcard, whatever the random label.
    ['r1.wild.example.test.', RRType.A, { kind: ResponseKind.ANSWER, name: '*.wild.example.test.', qtype: RRType.A }],
    ['a.b.wild.example.test.', RRType.A, { kind: ResponseKind.ANSWER, name: '*.wild.example.test.', qtype: RRType.A }],
    // The name asked exists (a CNAME into the wildcard): charged to it.
    ['alias.example.test.', RRType.A, { kind: ResponseKind.ANSWER, name: 'alias.example.test.', qtype: RRType.A }],
    ['r2.wild.example.test.', RRType.MX, { kind: ResponseKind.NODATA, name: 'example.test.', qtype: 0 }],
  ])('%s type %i', (qname, qtype, want) => {
    expect(account(qname, qtype)).toEqual(want);
  });

  it('errors are charged to the client alone', () => {
    expect(classify(q('whatever.invalid.', RRType.A), refused(), { kind: 0, name: 'x', qtype: 1 })).toEqual({ kind: ResponseKind.ERROR, name: '', qtype: 0 });
  });
});
