import { describe, expect, it } from 'vitest';
import { nameToWire } from '../../src/dns/name.js';
import { afterSubtreeWire, predecessorWire, successorWire, typeBitmap, wireToName } from '../../src/dnssec/nsec.js';

/** RFC 4034 §6.1 canonical order of two wire names (lower case already). */
function compare(a: Uint8Array, b: Uint8Array): number {
  const labels = (w: Uint8Array) => {
    const out: Uint8Array[] = [];
    for (let p = 0; w[p] !== 0; p += w[p] + 1) out.push(w.subarray(p + 1, p + 1 + w[p]));
    return out.reverse();
  };
  const la = labels(a);
  const lb = labels(b);
  for (let i = 0; i < Math.min(la.length, lb.length); i++) {
    const c = Buffer.compare(Buffer.from(la[i]), Buffer.from(lb[i]));
    if (c !== 0) return c;
  }
  return la.length - lb.length;
}

describe('NSEC names and bitmaps', () => {
  it('type bitmap: RFC 4034 §4.3 example (A MX RRSIG NSEC TYPE1234)', () => {
    expect([...typeBitmap([1, 15, 46, 47, 1234])]).toEqual([
      0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x20,
    ]);
  });

  it('NXNAME (128) sits in window 0, octet 16 (RFC 9824)', () => {
    expect([...typeBitmap([46, 47, 128])]).toEqual([0, 17, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]);
  });

  it.each(['b.example.', 'www.example.', 'a0.example.', 'z.y.example.', 'b\\000.example.', 'aZb[.example.'])(
    'predecessor < %s < successor, and the subtree ends before afterSubtree', (text) => {
      const name = nameToWire(text.toLowerCase());
      const before = predecessorWire(name)!;
      expect(compare(before, name)).toBeLessThan(0);
      expect(compare(successorWire(name)!, name)).toBeGreaterThan(0);
      const after = afterSubtreeWire(name)!;
      expect(compare(nameToWire(`deep.child.${text.toLowerCase()}`), after)).toBeLessThan(0);
      expect(compare(name, after)).toBeLessThan(0);
    });

  it('wire names print canonically', () => {
    expect(wireToName(successorWire(nameToWire('nope.example.'))!)).toBe('\\000.nope.example.');
    expect(wireToName(nameToWire('.'))).toBe('.');
  });
});
