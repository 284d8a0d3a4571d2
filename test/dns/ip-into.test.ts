// The allocation-free address parse used per query (rate limiting, cookies) agrees with ipToBytes.
import { describe, expect, it } from 'vitest';
import { bytesToIp, ipIntoBytes, ipToBytes } from '../../src/dns/ip.js';
import { mulberry32 } from '../../src/steering/rng.js';

const out = new Uint8Array(16);
const parse = (text: string) => {
  const n = ipIntoBytes(text, out);
  return n === 0 ? null : Array.from(out.subarray(0, n));
};

describe('ipIntoBytes', () => {
  it('agrees with ipToBytes on random IPv4 and IPv6 addresses in every written form', () => {
    const rng = mulberry32(0x1b);
    for (let i = 0; i < 3000; i++) {
      const bytes = Uint8Array.from({ length: i % 2 ? 16 : 4 }, () => (rng() < 0.3 ? 0 : Math.floor(rng() * 256)));
      const forms = [bytesToIp(bytes)];
      if (bytes.length === 4) forms.push(`::ffff:${forms[0]}`);
      else forms.push(Array.from({ length: 8 }, (_, g) => ((bytes[2 * g] << 8) | bytes[2 * g + 1]).toString(16).toUpperCase()).join(':'));
      for (const text of forms) expect(parse(text), text).toEqual(Array.from(ipToBytes(text)!));
    }
  });

  it.each(['::', '::1', '1::', '2001:db8::', '::ffff:1.2.3.4', '64:ff9b::192.0.2.33', 'fe80::1%eth0'])('%s', (text) => {
    expect(parse(text)).toEqual(Array.from(ipToBytes(text.replace(/%.*/, ''))!));
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', 'a.b.c.d', ':::', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::1', '1:'])('rejects %j', (text) => {
    expect(ipIntoBytes(text, out)).toBe(0);
  });
});
