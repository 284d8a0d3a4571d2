import { describe, expect, it } from 'vitest';
import { nameToWire } from '../../src/dns/name.js';
import type { WireRR } from '../../src/dns/types.js';
import { generateKey } from '../../src/dnssec/keys.js';
import { ZoneSigner, type SignRequest } from '../../src/dnssec/signer.js';

const owner = 'www.example.test.';
const ownerWire = nameToWire(owner);
const A = (...b: number[]): WireRR => ({ owner, ownerWire, type: 1, klass: 1, ttl: 30, rdata: Uint8Array.from(b) });
const req = (records: WireRR[], o = owner): SignRequest => ({
  owner: o, ownerWire: nameToWire(o), signedOwner: owner, signedOwnerWire: ownerWire, labels: 3, type: 1, ttl: 30, records,
});
/** Inception and expiration (seconds) of an RRSIG's rdata (RFC 4034 §3.1). */
const times = (rr: WireRR) => {
  const b = Buffer.from(rr.rdata);
  return { expiration: b.readUInt32BE(8), inception: b.readUInt32BE(12), labels: b[3] };
};

describe('ZoneSigner', () => {
  const csk = generateKey('example.test.', 13, 257);
  const T0 = Date.UTC(2026, 0, 1);

  it('signs an RRset once whatever the order of its records; another owner reuses the signature', () => {
    const s = new ZoneSigner('example.test.', [csk], { random: () => 0.5 });
    const a = s.sign(req([A(192, 0, 2, 1), A(192, 0, 2, 2)]), T0);
    const b = s.sign(req([A(192, 0, 2, 2), A(192, 0, 2, 1)]), T0 + 1000);
    expect(b).toBe(a);
    expect(s.size).toBe(1);
    const other = s.sign(req([A(192, 0, 2, 1), A(192, 0, 2, 2)], 'x.example.test.'), T0);
    expect(other[0].rdata).toBe(a[0].rdata);
    expect(other[0].owner).toBe('x.example.test.');
  });

  it('inception an hour back, expiration 14 days plus jitter ahead, remade after 3/4 of that', () => {
    const s = new ZoneSigner('example.test.', [csk], { random: () => 0.5 });
    const [sig] = s.sign(req([A(192, 0, 2, 1)]), T0);
    const t = times(sig);
    expect(t.inception).toBe(T0 / 1000 - 3600);
    expect(t.expiration).toBe(T0 / 1000 + 14 * 86400 + 43200);
    const span = t.expiration - t.inception;
    const stillCached = s.sign(req([A(192, 0, 2, 1)]), (t.inception + span * 0.74) * 1000);
    expect(stillCached[0]).toBe(sig);
    const later = (t.inception + span * 0.76) * 1000;
    const [fresh] = s.sign(req([A(192, 0, 2, 1)]), later);
    expect(fresh).not.toBe(sig);
    expect(times(fresh).inception).toBe(Math.floor(later / 1000) - 3600);
  });

  it('holds at most maxEntries RRsets', () => {
    const s = new ZoneSigner('example.test.', [csk], { maxEntries: 5 });
    for (let i = 0; i < 20; i++) s.sign(req([A(10, 0, 0, i)]), T0);
    expect(s.size).toBe(5);
  });

  it('a KSK signs DNSKEY, the ZSK everything else', () => {
    const ksk = generateKey('example.test.', 13, 257);
    const zsk = generateKey('example.test.', 13, 256);
    const s = new ZoneSigner('example.test.', [ksk, zsk]);
    const tag = (rr: WireRR) => Buffer.from(rr.rdata).readUInt16BE(16);
    expect(s.sign(req([A(192, 0, 2, 1)]), T0).map(tag)).toEqual([zsk.tag]);
    const dnskey = { ...req([{ ...A(1), type: 48, rdata: ksk.dnskey }]), type: 48 };
    expect(s.sign(dnskey, T0).map(tag)).toEqual([ksk.tag]);
  });
});
