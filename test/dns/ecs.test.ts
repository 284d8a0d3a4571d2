import { describe, it, expect } from 'vitest';
import {
  decodeEcs, encodeEcs, ecsOptionLength, ecsToString, isEcsError, parseSubnet, type EcsErrorCode,
} from '../../src/dns/ecs.js';
import type { ClientSubnet } from '../../src/dns/types.js';

/** Option body (FAMILY onward) as the wire carries it. */
function body(family: number, source: number, scope: number, addr: number[]): Uint8Array {
  return Uint8Array.from([family >> 8, family & 0xff, source, scope, ...addr]);
}

function decodeOk(b: Uint8Array): ClientSubnet {
  const r = decodeEcs(b, 0, b.length);
  if (isEcsError(r)) throw new Error(`unexpected ECS error ${r.error}: ${r.detail}`);
  return r;
}

describe('decodeEcs: valid options', () => {
  const cases: { name: string; wire: Uint8Array; text: string; bytes: number[] }[] = [
    { name: 'IPv4 /24', wire: body(1, 24, 0, [193, 0, 0]), text: '193.0.0.0/24', bytes: [193, 0, 0, 0] },
    { name: 'IPv4 /32', wire: body(1, 32, 0, [192, 0, 2, 7]), text: '192.0.2.7/32', bytes: [192, 0, 2, 7] },
    { name: 'IPv4 /0', wire: body(1, 0, 0, []), text: '0.0.0.0/0', bytes: [0, 0, 0, 0] },
    { name: 'IPv4 /20 (odd prefix)', wire: body(1, 20, 0, [10, 1, 0xf0]), text: '10.1.240.0/20', bytes: [10, 1, 240, 0] },
    {
      name: 'IPv6 /56 (7 octets)', wire: body(2, 56, 0, [0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56]),
      text: '2001:db8:1234:5600::/56', bytes: [0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    },
    {
      name: 'IPv6 /64', wire: body(2, 64, 0, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1]),
      text: '2001:db8:0:1::/64', bytes: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    },
    {
      name: 'IPv6 /48', wire: body(2, 48, 0, [0x20, 0x01, 0x0d, 0xb8, 0xab, 0xcd]),
      text: '2001:db8:abcd::/48', bytes: [0x20, 0x01, 0x0d, 0xb8, 0xab, 0xcd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    },
    {
      name: 'IPv6 /128', wire: body(2, 128, 0, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
      text: '2001:db8::1/128', bytes: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    },
    { name: 'IPv6 /0', wire: body(2, 0, 0, []), text: '::/0', bytes: new Array<number>(16).fill(0) },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const ecs = decodeOk(c.wire);
      expect(ecs.address.length).toBe(ecs.family === 1 ? 4 : 16);
      expect([...ecs.address]).toEqual(c.bytes);
      expect(ecs.scopePrefix).toBe(0);
      expect(ecsToString(ecs)).toBe(c.text);
      // Round trip: encode (scope 0) gives the same option body back, and parseSubnet agrees.
      const out = new Uint8Array(ecsOptionLength(ecs));
      expect(encodeEcs(out, 0, ecs, 0)).toBe(out.length);
      expect([...out.subarray(0, 4)]).toEqual([0, 8, 0, c.wire.length]);
      expect([...out.subarray(4)]).toEqual([...c.wire]);
      expect(parseSubnet(c.text)).toEqual(ecs);
    });
  }

  it('decodes at an offset inside a larger buffer, ignoring bytes around it', () => {
    const b = Uint8Array.from([0xff, 0xff, 0, 1, 24, 0, 198, 51, 100, 0xff]);
    const r = decodeEcs(b, 2, 7);
    expect(isEcsError(r)).toBe(false);
    expect(ecsToString(r as ClientSubnet)).toBe('198.51.100.0/24');
  });

  it('accepts a non-zero scope only when decoding a response', () => {
    const b = body(2, 56, 48, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0]);
    expect(isEcsError(decodeEcs(b, 0, b.length))).toBe(true);
    const r = decodeEcs(b, 0, b.length, true) as ClientSubnet;
    expect(r.scopePrefix).toBe(48);
    const over = body(1, 24, 33, [1, 2, 3]);
    expect(decodeEcs(over, 0, over.length, true)).toMatchObject({ error: 'scope_prefix' });
  });
});

describe('decodeEcs: errors (each answered FORMERR, RFC 7871 §7.1.1)', () => {
  const cases: { name: string; wire: Uint8Array; error: EcsErrorCode; length?: number }[] = [
    { name: 'IPv4 prefix 33', wire: body(1, 33, 0, [1, 2, 3, 4, 0]), error: 'source_prefix' },
    { name: 'IPv6 prefix 129', wire: body(2, 129, 0, new Array<number>(17).fill(0)), error: 'source_prefix' },
    { name: '193.0.0.1/24 sent as 4 octets', wire: body(1, 24, 0, [193, 0, 0, 1]), error: 'address_length' },
    { name: '192.0.2.128/24 sent as 4 octets', wire: body(1, 24, 0, [192, 0, 2, 128]), error: 'address_length' },
    { name: 'host bits in the last octet (10.1.255.0/20)', wire: body(1, 20, 0, [10, 1, 0xff]), error: 'host_bits' },
    { name: 'IPv6 /52 with a bit set past the prefix', wire: body(2, 52, 0, [0x20, 1, 0xd, 0xb8, 0, 0, 0x01]), error: 'host_bits' },
    { name: 'address too short for /24', wire: body(1, 24, 0, [193, 0]), error: 'address_length' },
    { name: 'address present with /0', wire: body(1, 0, 0, [0]), error: 'address_length' },
    { name: 'IPv6 /56 sent as 8 octets', wire: body(2, 56, 0, [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0]), error: 'address_length' },
    { name: 'non-zero scope in a query', wire: body(1, 24, 24, [193, 0, 0]), error: 'scope_prefix' },
    { name: 'unknown family 3', wire: body(3, 24, 0, [193, 0, 0]), error: 'family' },
    { name: 'family 0', wire: body(0, 0, 0, []), error: 'family' },
    { name: 'shorter than the fixed part', wire: Uint8Array.from([0, 1, 24]), error: 'short' },
    { name: 'length runs past the buffer', wire: body(1, 24, 0, [193, 0, 0]), error: 'short', length: 9 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = decodeEcs(c.wire, 0, c.length ?? c.wire.length);
      expect(isEcsError(r)).toBe(true);
      expect(r).toMatchObject({ error: c.error });
      expect(typeof (r as { detail: string }).detail).toBe('string');
    });
  }
});

describe('encodeEcs', () => {
  it('writes code, length, family, source, scope and the truncated address', () => {
    const ecs = parseSubnet('2001:db8:1234:5678::/56');
    const out = new Uint8Array(32).fill(0xee);
    const end = encodeEcs(out, 3, ecs, 48);
    expect(end).toBe(3 + ecsOptionLength(ecs));
    expect(ecsOptionLength(ecs)).toBe(4 + 4 + 7);
    expect([...out.subarray(3, end)]).toEqual([0, 8, 0, 11, 0, 2, 56, 48, 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56]);
    expect(out[2]).toBe(0xee);
    expect(out[end]).toBe(0xee);
  });

  it('clamps the scope to the family maximum and to zero', () => {
    const v4 = parseSubnet('192.0.2.0/24');
    const out = new Uint8Array(16);
    encodeEcs(out, 0, v4, 200);
    expect(out[7]).toBe(32);
    encodeEcs(out, 0, v4, -5);
    expect(out[7]).toBe(0);
    const v6 = parseSubnet('2001:db8::/32');
    encodeEcs(out, 0, v6, 300);
    expect(out[7]).toBe(128);
  });

  it('masks host bits even when handed an unmasked address', () => {
    const ecs: ClientSubnet = { family: 1, sourcePrefix: 20, scopePrefix: 0, address: Uint8Array.from([10, 1, 0xff, 9]) };
    const out = new Uint8Array(ecsOptionLength(ecs));
    encodeEcs(out, 0, ecs, 0);
    expect([...out.subarray(8)]).toEqual([10, 1, 0xf0]);
    const back = decodeEcs(out, 4, out.length - 4);
    expect(ecsToString(back as ClientSubnet)).toBe('10.1.240.0/20');
  });

  it('round-trips every prefix length of both families with a non-zero scope', () => {
    for (const [family, text] of [[1, '255.255.255.255'], [2, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']] as const) {
      const max = family === 1 ? 32 : 128;
      for (let p = 0; p <= max; p++) {
        const ecs = parseSubnet(`${text}/${p}`);
        const out = new Uint8Array(ecsOptionLength(ecs));
        encodeEcs(out, 0, ecs, p);
        const back = decodeEcs(out, 4, out.length - 4, true) as ClientSubnet;
        expect(isEcsError(back)).toBe(false);
        expect(back).toEqual({ ...ecs, scopePrefix: p });
      }
    }
  });
});

describe('parseSubnet / ecsToString', () => {
  it('masks host bits and defaults to a host prefix', () => {
    expect(ecsToString(parseSubnet('1.2.3.4/24'))).toBe('1.2.3.0/24');
    expect(ecsToString(parseSubnet('1.2.3.4'))).toBe('1.2.3.4/32');
    expect(ecsToString(parseSubnet('2001:db8::1'))).toBe('2001:db8::1/128');
    expect(ecsToString(parseSubnet('2001:db8:1234:56ff::1/56'))).toBe('2001:db8:1234:5600::/56');
    expect(ecsToString(parseSubnet('::ffff:192.0.2.1/120'))).toBe('192.0.2.0/24'); // IPv4-mapped counts as IPv4; the prefix counts the bits written
    expect(ecsToString(parseSubnet('64:ff9b::192.0.2.1'))).toBe('64:ff9b::c000:201/128');
    expect(ecsToString(parseSubnet('1:0:0:1:0:0:0:1'))).toBe('1:0:0:1::1/128');
    expect(ecsToString(parseSubnet('1:0:1:0:1:0:1:0'))).toBe('1:0:1:0:1:0:1:0/128');
    expect(parseSubnet('10.0.0.0/8').family).toBe(1);
    expect(parseSubnet('::/0').family).toBe(2);
  });

  for (const bad of ['', '1.2.3', '1.2.3.256', '01.2.3.4', '1.2.3.4/33', '1.2.3.4/', '1.2.3.4/x', '::1/129',
    '1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', 'example.com']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      expect(() => parseSubnet(bad)).toThrow(/address|prefix/);
    });
  }
});
