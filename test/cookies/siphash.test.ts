// SipHash-2-4 against the reference vectors of the SipHash paper (Appendix A, and vectors.h of the
// reference implementation): key 00 01 … 0f, message 00 01 … (n-1).
import { describe, expect, it } from 'vitest';
import { siphash } from '../../src/cookies/siphash.js';

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i);
const msg = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// Output octets as the reference prints them (vectors.h, little-endian).
const VECTORS: [number, string][] = [
  [0, '310e0edd47db6f72'],
  [1, 'fd67dc93c539f874'],
  [2, '5a4fa9d909806c0d'],
  [3, '2d7efbd796666785'],
  [4, 'b7877127e09427cf'],
  [5, '8da699cd64557618'],
  [6, 'cee3fe586e46c9cb'],
  [7, '37d1018bf50002ab'],
  [8, '6224939a79f5f593'],
  [15, 'e545be4961ca29a1'],
  [63, '724506eb4c328a95'],
];

describe('SipHash-2-4', () => {
  it.each(VECTORS)('message of %i octets', (n, want) => {
    expect(hex(siphash(KEY, msg(n), new Uint8Array(8)))).toBe(want);
  });

  it('the paper\'s worked example: 15 octets gives 0xa129ca6149be45e5', () => {
    const out = siphash(KEY, msg(15), new Uint8Array(8));
    expect(Buffer.from(out).readBigUInt64LE(0)).toBe(0xa129ca6149be45e5n);
  });

  it('refuses a key that is not 16 octets', () => {
    expect(() => siphash(new Uint8Array(15), msg(1), new Uint8Array(8))).toThrow(/16 octets/);
  });
});
