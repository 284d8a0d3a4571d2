import { describe, it, expect } from 'vitest';
import dns2 from 'dns2';
import { RRType } from '../../src/dns/constants.js';
import { nameToLabels, nameToWire } from '../../src/dns/name.js';
import {
  absoluteName,
  parseRdata,
  parseTtl,
  parseUint,
  readWireName,
  RdataError,
  textToBytes,
  type Fields,
} from '../../src/zone/rdata.js';
import { parseIPv4, parseIPv6 } from '../../src/dns/address.js';

const { Packet } = dns2;

/** Fields as the tokenizer would produce them; a token wrapped in "" is a quoted string. */
function fields(...toks: string[]): Fields {
  return {
    text: toks.map((t) => (t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t)),
    quoted: toks.map((t) => t.length >= 2 && t.startsWith('"') && t.endsWith('"')),
  };
}

function rd(type: number, ...toks: string[]) {
  const f = fields(...toks);
  return parseRdata(type, f, 0, f.text.length, 'example.com.');
}

function rdError(type: number, ...toks: string[]): string {
  try {
    rd(type, ...toks);
  } catch (e) {
    expect(e).toBeInstanceOf(RdataError);
    return (e as Error).message;
  }
  throw new Error('expected an RdataError');
}

/**
 * Decodes rdata with an independent implementation: a one-answer DNS message (header with
 * ANCOUNT=1, root owner, type, class IN, TTL, RDLENGTH, rdata) parsed by dns2.
 */
function decodeWithDns2(type: number, rdata: Uint8Array): Record<string, unknown> {
  const buf = Buffer.alloc(12 + 1 + 10 + rdata.length);
  buf.writeUInt16BE(0x1234, 0); // id
  buf.writeUInt16BE(0x8400, 2); // QR, AA
  buf.writeUInt16BE(1, 6); // ANCOUNT
  let o = 12;
  buf[o++] = 0; // owner: root
  buf.writeUInt16BE(type, o); o += 2;
  buf.writeUInt16BE(1, o); o += 2;
  buf.writeUInt32BE(300, o); o += 4;
  buf.writeUInt16BE(rdata.length, o); o += 2;
  Buffer.from(rdata).copy(buf, o);
  const p = Packet.parse(buf);
  expect(p.errors).toEqual([]);
  expect(p.answers).toHaveLength(1);
  const a = p.answers[0] as unknown as Record<string, unknown>;
  expect(a.type).toBe(type);
  expect(a.class).toBe(1);
  expect(a.ttl).toBe(300);
  return a;
}

describe('rdata wire bytes, checked by decoding with dns2', () => {
  it('A', () => {
    const a = decodeWithDns2(RRType.A, rd(RRType.A, '192.0.2.1').rdata);
    expect(a.address).toBe('192.0.2.1');
  });

  it('AAAA', () => {
    const a = decodeWithDns2(RRType.AAAA, rd(RRType.AAAA, '2001:DB8::1').rdata);
    expect(a.address).toBe('2001:db8::1');
  });

  it('MX (relative exchange made absolute, lower-cased)', () => {
    const r = rd(RRType.MX, '10', 'Mail');
    expect(r.target).toBe('mail.example.com.');
    const a = decodeWithDns2(RRType.MX, r.rdata);
    expect(a.priority).toBe(10);
    expect(a.exchange).toBe('mail.example.com');
  });

  it('TXT with several strings, quoted and unquoted', () => {
    const a = decodeWithDns2(RRType.TXT, rd(RRType.TXT, '"v=spf1 -all"', 'word', '""').rdata);
    expect(a.data).toEqual(['v=spf1 -all', 'word', '']);
  });

  it('SOA', () => {
    const r = rd(RRType.SOA, 'ns1', 'hostmaster.example.com.', '2024010101', '1h', '15m', '1w', '300');
    expect(r.target).toBe('ns1.example.com.');
    expect(r.soaMinimum).toBe(300);
    const a = decodeWithDns2(RRType.SOA, r.rdata);
    expect(a).toMatchObject({
      primary: 'ns1.example.com',
      admin: 'hostmaster.example.com',
      serial: 2024010101,
      refresh: 3600,
      retry: 900,
      expiration: 604800,
      minimum: 300,
    });
  });

  it('SRV', () => {
    const r = rd(RRType.SRV, '1', '20', '443', 'www');
    expect(r.target).toBe('www.example.com.');
    const a = decodeWithDns2(RRType.SRV, r.rdata);
    expect(a).toMatchObject({ priority: 1, weight: 20, port: 443, target: 'www.example.com' });
  });

  it('CAA', () => {
    const a = decodeWithDns2(RRType.CAA, rd(RRType.CAA, '128', 'issue', '"letsencrypt.org; validationmethods=dns-01"').rdata);
    expect(a).toMatchObject({ flags: 128, tag: 'issue', value: 'letsencrypt.org; validationmethods=dns-01' });
  });

  it('NS', () => {
    const r = rd(RRType.NS, 'NS1.Example.NET.');
    expect(r.target).toBe('ns1.example.net.');
    const a = decodeWithDns2(RRType.NS, r.rdata);
    expect(a.ns).toBe('ns1.example.net');
  });

  it('CNAME and PTR set target', () => {
    expect(rd(RRType.CNAME, 'www').target).toBe('www.example.com.');
    const p = rd(RRType.PTR, 'host.example.org.');
    expect(p.target).toBe('host.example.org.');
    expect(decodeWithDns2(RRType.PTR, p.rdata).domain).toBe('host.example.org');
  });
});

describe('addresses', () => {
  it('accepts strict dotted quads only', () => {
    expect(parseIPv4('0.0.0.0')).toEqual(new Uint8Array([0, 0, 0, 0]));
    expect(parseIPv4('255.255.255.255')).toEqual(new Uint8Array([255, 255, 255, 255]));
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.4.', '.1.2.3', '1..2.3', '1.2.3.a', '1.2.3.1234', '', ' 1.2.3.4', '0x1.2.3.4']) {
      expect(parseIPv4(bad), bad).toBeUndefined();
    }
  });

  it('encodes IPv6 with ::, embedded IPv4 and full forms', () => {
    const hex = (s: string) => Buffer.from(parseIPv6(s)!).toString('hex');
    expect(hex('::')).toBe('0'.repeat(32));
    expect(hex('::1')).toBe('0'.repeat(31) + '1');
    expect(hex('1::')).toBe('0001' + '0'.repeat(28));
    expect(hex('2001:db8::8:800:200c:417a')).toBe('20010db8000000000008080020' + '0c417a');
    expect(hex('::ffff:1.2.3.4')).toBe('00000000000000000000ffff01020304');
    expect(hex('64:ff9b::192.0.2.33')).toBe('0064ff9b0000000000000000c0000221');
    expect(hex('1:2:3:4:5:6:7:8')).toBe('00010002000300040005000600070008');
    expect(hex('1:2:3:4:5:6:1.2.3.4')).toBe('00010002000300040005000601020304');
    expect(hex('FE80::ABCD')).toBe('fe80' + '0'.repeat(24) + 'abcd');
  });

  it('rejects bad IPv6, including zone indexes and brackets', () => {
    for (const bad of ['fe80::1%eth0', '[::1]', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', '::1.2.3', 'gg::1', '1.2.3.4']) {
      expect(parseIPv6(bad), bad).toBeUndefined();
    }
  });
});

describe('numbers and TTLs', () => {
  it('parseUint', () => {
    expect(parseUint('0', 10)).toBe(0);
    expect(parseUint('65535', 0xffff)).toBe(65535);
    expect(parseUint('65536', 0xffff)).toBeUndefined();
    expect(parseUint('-1', 10)).toBeUndefined();
    expect(parseUint('1e3', 10000)).toBeUndefined();
    expect(parseUint('', 10)).toBeUndefined();
  });

  it('parseTtl takes seconds and BIND units', () => {
    expect(parseTtl('3600')).toBe(3600);
    expect(parseTtl('1h')).toBe(3600);
    expect(parseTtl('2d')).toBe(172800);
    expect(parseTtl('1w30m')).toBe(604800 + 1800);
    expect(parseTtl('1H30M10S')).toBe(5410);
    expect(parseTtl('1h30')).toBe(3630);
    expect(parseTtl('2147483647')).toBe(2147483647);
    for (const bad of ['2147483648', '1x', 'h', '1hh', '', '-5', '1.5h']) expect(parseTtl(bad), bad).toBeUndefined();
    expect(parseTtl('4294967295', 0xffffffff)).toBe(4294967295);
  });
});

describe('names', () => {
  it('absoluteName handles @, relative, absolute, case and escapes', () => {
    expect(absoluteName('@', 'example.com.')).toBe('example.com.');
    expect(absoluteName('WWW', 'example.com.')).toBe('www.example.com.');
    expect(absoluteName('www.Other.ORG.', 'example.com.')).toBe('www.other.org.');
    expect(absoluteName('a\\.', 'example.com.')).toBe('a\\..example.com.'); // escaped dot: still relative
    expect(absoluteName('a\\\\.', 'example.com.')).toBe('a\\\\.'); // escaped backslash, then a real dot
    expect(absoluteName('host', '.')).toBe('host.');
    expect(absoluteName('.', 'example.com.')).toBe('.');
    expect(absoluteName('\\065b', 'example.com.')).toBe('ab.example.com.');
    expect(() => absoluteName('a..b.', '.')).toThrow(/empty label/);
    expect(() => absoluteName('x'.repeat(64), '.')).toThrow(/label longer/);
  });

  it('nameToWire: the one-pass path and the label path give the same bytes', () => {
    // The label path is the reference: nameToLabels joined with length octets.
    const viaLabels = (n: string) => Uint8Array.from([...nameToLabels(n).flatMap((l) => [l.length, ...l]), 0]);
    for (const n of ['.', 'a.', 'www.example.com.', 'WWW.Example.COM.', 'a\\.b.example.', 'x\\032y.example.', 'a b.example.',
      'no-dot.example', `${'x'.repeat(63)}.example.`, `${'a.'.repeat(127)}`]) {
      expect(nameToWire(n), n).toEqual(viaLabels(n));
    }
    for (const bad of ['a..b.', `${'x'.repeat(64)}.example.`, `${'a.'.repeat(128)}`, '.a.', 'caf\u00e9.example.']) {
      expect(() => nameToWire(bad), bad).toThrow();
    }
  });

  it('readWireName reads uncompressed names and rejects pointers and overruns', () => {
    const w = nameToWire('www.example.com.');
    expect(readWireName(w, 0, w.length)).toEqual({ name: 'www.example.com.', end: w.length });
    expect(readWireName(new Uint8Array([0]), 0, 1)).toEqual({ name: '.', end: 1 });
    expect(() => readWireName(new Uint8Array([0xc0, 0x0c]), 0, 2)).toThrow(/compression pointers/);
    expect(() => readWireName(new Uint8Array([3, 0x61]), 0, 2)).toThrow(/past the end/);
  });
});

describe('character strings', () => {
  it('decodes \\X and \\DDD escapes and UTF-8', () => {
    expect(Array.from(textToBytes('a\\"b'))).toEqual([0x61, 0x22, 0x62]);
    expect(Array.from(textToBytes('\\\\'))).toEqual([0x5c]);
    expect(Array.from(textToBytes('\\000\\255'))).toEqual([0, 255]);
    expect(Array.from(textToBytes('é'))).toEqual([0xc3, 0xa9]);
    expect(() => textToBytes('\\256')).toThrow(/000 to 255/);
    expect(() => textToBytes('\\12')).toThrow(/three decimal digits/);
    expect(() => textToBytes('a\\')).toThrow(/dangling backslash/);
  });
});

describe('RFC 3597 generic form', () => {
  it('keeps unknown types verbatim', () => {
    expect(Buffer.from(rd(65280, '\\#', '4', '0a00', '0001').rdata).toString('hex')).toBe('0a000001');
    expect(rd(65280, '\\#', '0').rdata).toHaveLength(0);
  });

  it('gives known types the same bytes and fields as their native syntax', () => {
    const cases: [number, string[], string[]][] = [
      [RRType.A, ['192.0.2.1'], ['\\#', '4', 'c0000201']],
      [RRType.NS, ['ns1.example.com.'], ['\\#', '17', Buffer.from(nameToWire('NS1.EXAMPLE.COM.')).toString('hex')]],
      [RRType.MX, ['10', 'mx.example.com.'], ['\\#', '18', '000a' + Buffer.from(nameToWire('mx.example.com.')).toString('hex')]],
      [RRType.TXT, ['"hi"'], ['\\#', '3', '026869']],
      [RRType.CAA, ['0', 'issue', '"ca.example"'], ['\\#', '17', '0005' + Buffer.from('issueca.example').toString('hex')]],
    ];
    for (const [type, native, generic] of cases) {
      expect(rd(type, ...generic), String(type)).toEqual(rd(type, ...native));
    }
    const soa = rd(RRType.SOA, 'ns1.example.com.', 'h.example.com.', '1', '2', '3', '4', '5');
    const g = rd(RRType.SOA, '\\#', String(soa.rdata.length), Buffer.from(soa.rdata).toString('hex'));
    expect(g).toEqual(soa);
    expect(g.soaMinimum).toBe(5);
  });

  it('reports length mismatches, bad hex and malformed known rdata', () => {
    expect(rdError(65280, '\\#', '4', '0a0000')).toMatch(/declares 4 octets but the hex holds 3: make \\# 3 match/);
    expect(rdError(65280, '\\#', '2', 'zz00')).toMatch(/bad generic rdata hex "zz00".*even number of hex digits/);
    expect(rdError(65280, '\\#', '1', 'abc')).toMatch(/even number of hex digits/);
    expect(rdError(65280, '\\#')).toMatch(/needs a length: write \\# <length> <hex>/);
    expect(rdError(65280, '\\#', 'x')).toMatch(/bad generic rdata length "x"/);
    expect(rdError(RRType.A, '\\#', '3', '010203')).toMatch(/A rdata in generic form must be 4 octets, got 3/);
    expect(rdError(RRType.NS, '\\#', '2', 'c00c')).toMatch(/NS target in generic form: .*compression pointers/);
    expect(rdError(RRType.TXT, '\\#', '2', '0561')).toMatch(/runs past the end/);
    expect(rdError(RRType.CAA, '\\#', '2', '0000')).toMatch(/CAA rdata in generic form needs/);
  });

  it('types without native syntax must use generic form', () => {
    expect(rdError(65280, 'hello')).toMatch(/TYPE65280 has no native syntax.*\\# <length> <hex>/);
  });
});

describe('rdata errors name the offending text and say what to do', () => {
  it.each([
    [RRType.A, ['1.2.3.256'], /bad IPv4 address "1\.2\.3\.256": write a dotted quad like 192\.0\.2\.1/],
    [RRType.A, [], /A needs 1 field \(an IPv4 address\), got 0: add the missing field/],
    [RRType.A, ['1.2.3.4', '5.6.7.8'], /A takes 1 field \(an IPv4 address\), got 2: remove "5\.6\.7\.8"/],
    [RRType.AAAA, ['2001:db8::g'], /bad IPv6 address "2001:db8::g": write it like 2001:db8::1/],
    [RRType.MX, ['10'], /MX needs 2 fields \(preference exchange\), got 1/],
    [RRType.MX, ['x', 'mx'], /bad MX preference "x": expected a whole number from 0 to 65535/],
    [RRType.MX, ['70000', 'mx'], /bad MX preference "70000"/],
    [RRType.SRV, ['1', '2', '99999', 'www'], /bad SRV port "99999"/],
    [RRType.SRV, ['1', '2', '3'], /SRV needs 4 fields \(priority weight port target\), got 3/],
    [RRType.SOA, ['ns', 'h', 'x', '1', '1', '1', '1'], /bad SOA serial "x"/],
    [RRType.SOA, ['ns', 'h', '1', '1q', '1', '1', '1'], /bad SOA refresh "1q": expected seconds .* or units like 1h/],
    [RRType.SOA, ['ns', 'h', '1', '1', '1', '1'], /SOA needs 7 fields \(mname rname serial refresh retry expire minimum\), got 6/],
    [RRType.SOA, ['ns', 'h', '1', '1', '1', '1', '1', '1'], /SOA takes 7 fields .* remove "1"/],
    [RRType.TXT, [], /TXT needs at least one string/],
    [RRType.TXT, ['"' + 'x'.repeat(256) + '"'], /TXT string of 256 bytes is too long \(max 255\): split it into several quoted strings/],
    [RRType.CAA, ['0', 'iss ue', 'x'], /bad CAA tag "iss ue": use 1-15 letters or digits/],
    [RRType.CAA, ['256', 'issue', 'x'], /bad CAA flags "256"/],
    [RRType.NS, ['a..b.'], /bad NS host "a\.\.b\.": empty label/],
    [RRType.CNAME, ['x'.repeat(64)], /bad CNAME target ".*": label longer than 63/],
  ])('type %i %j', (type, toks, re) => {
    expect(rdError(type, ...toks)).toMatch(re);
  });

  it('accepts a TXT string of exactly 255 bytes', () => {
    expect(rd(RRType.TXT, '"' + 'x'.repeat(255) + '"').rdata).toHaveLength(256);
  });

  it('accepts SRV target "." (no service)', () => {
    expect(Array.from(rd(RRType.SRV, '0', '0', '0', '.').rdata)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });
});
