// The one address codec: text ↔ bytes for addresses and networks, and its one host-bit rule.
import { describe, expect, it } from 'vitest';
import {
  bytesToIp, formatNetwork, ipIntoBytes, ipToBytes, parseDataNetwork, parseIp, parseIPv4, parseIPv6, parseNetwork,
} from '../../src/dns/address.js';
import { parseSubnet } from '../../src/dns/ecs.js';
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

describe('strict text (zone files, config)', () => {
  it.each(['192.0.2.1', '0.0.0.0', '255.255.255.255'])('parseIPv4 %s', (t) => expect(bytesToIp(parseIPv4(t)!)).toBe(t));
  it.each(['01.2.3.4', '1.2.3.04', '1.2.3.4 ', '::1', '1.2.3'])('parseIPv4 rejects %j', (t) => expect(parseIPv4(t)).toBeUndefined());
  it('keeps an IPv4-mapped AAAA as 16 bytes', () => {
    expect(Array.from(parseIPv6('::ffff:192.0.2.1')!)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 192, 0, 2, 1]);
  });
  it.each(['fe80::1%eth0', '1.2.3.4', '::ffff:01.2.3.4', '1::2::3'])('parseIPv6 rejects %j', (t) => expect(parseIPv6(t)).toBeUndefined());
  it('parseIp refuses a zone index that socket text may carry', () => {
    expect(parseIp('fe80::1%eth0')).toBeNull();
    expect(bytesToIp(ipToBytes('fe80::1%eth0')!)).toBe('fe80::1');
  });
  it('reads an IPv4-mapped address written with its dotted quad as IPv4; in hex it stays IPv6', () => {
    expect(Array.from(parseIp('::ffff:192.0.2.1')!)).toEqual([192, 0, 2, 1]);
    expect(Array.from(parseIp('::FFFF:192.0.2.1')!)).toEqual([192, 0, 2, 1]);
    expect(parseIp('::ffff:c000:201')!.length).toBe(16);
  });
});

describe('one host-bit rule: parseNetwork masks and says so', () => {
  it('masks and reports host bits', () => {
    const r = parseNetwork('193.0.0.1/16');
    expect(r).toEqual({ ok: true, network: { bytes: Uint8Array.from([193, 0, 0, 0]), prefix: 16 }, hostBits: true });
    expect(parseNetwork('193.0.0.0/16')).toMatchObject({ ok: true, hostBits: false });
    expect(parseNetwork('2001:db8::100/120')).toMatchObject({ ok: true, hostBits: false });
    expect(parseNetwork('2001:db8::1ff/120')).toMatchObject({ ok: true, hostBits: true });
  });
  it('a query client is truncated like an ECS address (RFC 7871 §6)', () => {
    expect(parseSubnet('203.0.113.7/24')).toEqual({ family: 1, sourcePrefix: 24, scopePrefix: 0, address: Uint8Array.from([203, 0, 113, 0]) });
    expect(() => parseSubnet('banana')).toThrow(/"banana" is not an IPv4 or IPv6 address or subnet/);
    expect(() => parseSubnet('1.2.3.4/33')).toThrow(/prefix length "\/33" must be 0..32/);
  });
});

describe('parseDataNetwork (GeoIP and latency data)', () => {
  it('parses networks and bare addresses', () => {
    const r = parseDataNetwork('193.0.0.0/16');
    expect(r.ok && r.network.prefix).toBe(16);
    const host = parseDataNetwork('2001:db8::1');
    expect(host.ok && host.network.prefix).toBe(128);
    const all = parseDataNetwork('0.0.0.0/0');
    expect(all.ok && all.network.prefix).toBe(0);
  });

  it('reads an IPv4-mapped network as IPv4', () => {
    expect(parseDataNetwork('::ffff:193.0.0.0/112')).toEqual({ ok: true, network: { bytes: Uint8Array.from([193, 0, 0, 0]), prefix: 16 } });
    expect(parseDataNetwork('::ffff:193.0.0.0/64')).toMatchObject({ ok: false, error: expect.stringContaining('96..128') });
  });

  it.each(['256.0.0.1/8', '1.2.3/8', 'example.com', '1::2::3/64', 'fe80::1%eth0/64', '010.0.0.0/8', ''])('rejects %j', (text) => {
    expect(parseDataNetwork(text).ok).toBe(false);
  });

  it('explains bad networks', () => {
    expect(parseDataNetwork('193.0.0.1/16')).toEqual({ ok: false, error: '193.0.0.1/16 has host bits set; did you mean 193.0.0.0/16?' });
    expect(parseDataNetwork('193.0.0.0/33')).toMatchObject({ ok: false, error: expect.stringContaining('0..32') });
    expect(parseDataNetwork('2001:db8::/129')).toMatchObject({ ok: false, error: expect.stringContaining('0..128') });
    expect(parseDataNetwork('nope/8')).toMatchObject({ ok: false, error: expect.stringContaining('"nope"') });
  });

  it.each([
    ['2001:67c::/32', '2001:67c::/32'],
    ['2001:db8:0:0:1:0:0:0/80', '2001:db8:0:0:1::/80'],
    ['2001:0:0:1::/64', '2001:0:0:1::/64'],
    ['1:0:0:2:0:0:0:0/127', '1:0:0:2::/127'],
    ['::/0', '::/0'],
    ['10.0.0.0/8', '10.0.0.0/8'],
  ])('formats %s as %s', (input, output) => {
    const r = parseDataNetwork(input);
    if (!r.ok) throw new Error(r.error);
    expect(formatNetwork(r.network)).toBe(output);
  });
});
