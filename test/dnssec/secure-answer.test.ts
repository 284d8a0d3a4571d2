// The DNSSEC form of answers, over real lookups of a small signed zone: RFC 9824's CO flag and
// questions for type RRSIG. Signatures themselves are checked by delv and BIND's tools end to end.
import { describe, expect, it } from 'vitest';
import { Rcode, RRType } from '../../src/dns/constants.js';
import type { Answer, WireRR } from '../../src/dns/types.js';
import { generateKey } from '../../src/dnssec/keys.js';
import { NSEC, NXNAME, RRSIG, typeBitmap } from '../../src/dnssec/nsec.js';
import { secureAnswer } from '../../src/dnssec/secure-answer.js';
import { ZoneSigner } from '../../src/dnssec/signer.js';
import { parseMasterFile } from '../../src/zone/masterfile.js';
import { lookupInZone } from '../../src/zone/lookup.js';
import { buildZone } from '../../src/zone/tree.js';

const ZONE = `
$ORIGIN example.test.
$TTL 300
@      SOA  ns1 hostmaster 1 7200 900 1209600 60
@      NS   ns1
ns1    A    192.0.2.53
www    A    192.0.2.1
       AAAA 2001:db8::1
*.wild A    192.0.2.99
gone   CNAME nowhere
sub    NS   ns.sub
ns.sub A    192.0.2.200
`;
const zone = buildZone('example.test.', 'z', parseMasterFile(ZONE, { file: 'z', origin: 'example.test.' }).records);
const signer = new ZoneSigner('example.test.', [generateKey('example.test.', 13, 257)]);
const NOW = Date.UTC(2026, 0, 1);

function signed(qname: string, qtype: number, compactOk = false): Answer {
  return secureAnswer(lookupInZone(zone, qname, qtype, null), qname, qtype, zone, signer, new Map(), NOW, compactOk);
}
const types = (rrs: readonly WireRR[]) => rrs.map((r) => r.type);
/** The type an RRSIG covers (RFC 4034 §3.1). */
const covered = (rr: WireRR) => (rr.rdata[0] << 8) | rr.rdata[1];
const labels = (rr: WireRR) => rr.rdata[3];
const nsecAt = (rrs: readonly WireRR[], owner: string) => rrs.find((r) => r.type === NSEC && r.owner === owner);
/** The bitmap of an NSEC whose next name is `\000.<owner>`. */
const bitmapOf = (rr: WireRR, owner: string) => Array.from(rr.rdata.subarray(2 + owner.length + 1));

describe('compact denial and the CO flag (RFC 9824 §3.1, §5.1)', () => {
  it.each([
    // qname, qtype, rcode without CO, rcode with CO
    ['nope.example.test.', RRType.A, Rcode.NOERROR, Rcode.NXDOMAIN],
    ['www.example.test.', RRType.MX, Rcode.NOERROR, Rcode.NOERROR],
    ['x.wild.example.test.', RRType.TXT, Rcode.NOERROR, Rcode.NOERROR],
    // RFC 6604: the rcode is the last name's; the CNAME stays in the answer.
    ['gone.example.test.', RRType.A, Rcode.NOERROR, Rcode.NXDOMAIN],
    // The NSEC answers a question for NSEC: data at the name, so never NXDOMAIN.
    ['nope.example.test.', NSEC, Rcode.NOERROR, Rcode.NOERROR],
  ])('%s type %i: %i, with CO %i', (qname, qtype, plain, co) => {
    const a = signed(qname, qtype);
    const b = signed(qname, qtype, true);
    expect([a.rcode, b.rcode]).toEqual([plain, co]);
    // CO changes the rcode only: the same records, the same proof.
    expect(b.answer).toEqual(a.answer);
    expect(b.authority).toEqual(a.authority);
  });

  it('the denial of a name that does not exist is one NSEC at the name, with NXNAME in its bitmap', () => {
    const a = signed('nope.example.test.', RRType.A, true);
    const nsec = nsecAt(a.authority, 'nope.example.test.')!;
    expect(bitmapOf(nsec, 'nope.example.test.')).toEqual(Array.from(typeBitmap([RRSIG, NSEC, NXNAME])));
    expect(types(a.authority)).toEqual([RRType.SOA, RRSIG, NSEC, RRSIG]);
  });
});

describe('questions for type RRSIG', () => {
  it('an existing name: the signature of each RRset there, no NSEC, no SOA', () => {
    const a = signed('www.example.test.', RRSIG);
    expect(a.rcode).toBe(Rcode.NOERROR);
    expect(types(a.answer)).toEqual([RRSIG, RRSIG]);
    expect(a.answer.map(covered).sort()).toEqual([RRType.A, RRType.AAAA]);
    expect(a.authority).toEqual([]);
    // The very signatures an A answer carries.
    const forA = signed('www.example.test.', RRType.A).answer.filter((r) => r.type === RRSIG);
    expect(a.answer.filter((r) => covered(r) === RRType.A)).toEqual(forA);
  });

  it('the apex: SOA and NS, the CNAME owner: its CNAME (not followed)', () => {
    expect(signed('example.test.', RRSIG).answer.map(covered).sort()).toEqual([RRType.NS, RRType.SOA].sort());
    expect(signed('gone.example.test.', RRSIG).answer.map(covered)).toEqual([RRType.CNAME]);
  });

  it('a wildcard: its signatures under the name asked, Labels those of the wildcard without `*`', () => {
    const a = signed('x.wild.example.test.', RRSIG);
    expect(a.answer.map(covered)).toEqual([RRType.A]);
    expect(a.answer[0].owner).toBe('x.wild.example.test.');
    expect(labels(a.answer[0])).toBe(3);
  });

  it('a name that does not exist: the signature of its compact-denial NSEC, even with CO', () => {
    const a = signed('nope.example.test.', RRSIG, true);
    expect(a.rcode).toBe(Rcode.NOERROR);
    expect(a.answer.map(covered)).toEqual([NSEC]);
    const denial = signed('nope.example.test.', RRType.A).authority.filter((r) => r.type === RRSIG && covered(r) === NSEC);
    expect(a.answer).toEqual(denial);
  });

  it('at or below a delegation: the referral, with the NSEC that proves no DS', () => {
    const a = signed('host.sub.example.test.', RRSIG);
    expect(a.aa).toBe(false);
    expect(a.answer).toEqual([]);
    expect(types(a.authority)).toEqual([RRType.NS, NSEC, RRSIG]);
  });
});
