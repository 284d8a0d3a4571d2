import { describe, expect, it } from 'vitest';
import { NO_PREFIX, parseLatencyTable } from '../../src/geo/latency-table.js';
import { bitAt, bytesToIp, formatNetwork, ipToBytes, maskAddress } from '../../src/dns/address.js';
import { mulberry32 } from '../../src/steering/rng.js';

const ip = (text: string): Uint8Array => ipToBytes(text) as Uint8Array;
/** ::ffff:a.b.c.d kept as 16 bytes (ipToBytes would unmap it). */
const mapped = (v4: string): Uint8Array => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ip(v4)]);

const TEXT = `# measured from RUM, p50
key,region,ms
DE,eu-central,9
DE,ap-south,120
193.0.0.0/16,eu-central,14
193.0.1.0/24,eu-central,4   # RIPE's office
193.0.0.0/8,eu-central,30
2001:67c::/32,eu-central,11
IN,ap-south,21.5
`;

describe('parseLatencyTable', () => {
  const { table, errors } = parseLatencyTable(TEXT, 'geo/latency.csv');

  it('parses without errors', () => {
    expect(errors).toEqual([]);
    expect(table.size).toBe(7);
  });

  it('prefers the longest matching prefix', () => {
    expect(table.lookup(ip('193.0.1.9'), 'NL', 'eu-central')).toEqual({ ms: 4, source: 'geo/latency.csv:6 193.0.1.0/24' });
    expect(table.lookup(ip('193.0.2.9'), 'NL', 'eu-central')).toEqual({ ms: 14, source: 'geo/latency.csv:5 193.0.0.0/16' });
    expect(table.lookup(ip('193.9.2.9'), 'NL', 'eu-central')).toEqual({ ms: 30, source: 'geo/latency.csv:7 193.0.0.0/8' });
  });

  it('prefers a prefix over the country', () => {
    expect(table.lookup(ip('193.0.1.9'), 'DE', 'eu-central')?.ms).toBe(4);
  });

  it('falls back to the country', () => {
    expect(table.lookup(ip('5.5.5.5'), 'DE', 'eu-central')).toEqual({ ms: 9, source: 'geo/latency.csv:3 DE' });
    expect(table.lookup(ip('5.5.5.5'), 'DE', 'ap-south')?.ms).toBe(120);
    expect(table.lookup(ip('2405:200::1'), 'IN', 'ap-south')?.ms).toBe(21.5);
  });

  it('matches only rows for the asked region', () => {
    // 193.0.1.0/24 has a row for eu-central only: ap-south falls through to the country.
    expect(table.lookup(ip('193.0.1.9'), 'DE', 'ap-south')?.ms).toBe(120);
    expect(table.lookup(ip('193.0.1.9'), 'NL', 'ap-south')).toBeNull();
    expect(table.lookup(ip('193.0.1.9'), 'DE', 'us-east')).toBeNull();
  });

  it('matches IPv6 rows and IPv4-mapped addresses', () => {
    expect(table.lookup(ip('2001:67c:2e8::1'), null, 'eu-central')?.ms).toBe(11);
    expect(table.lookup(mapped('193.0.1.9'), null, 'eu-central')?.ms).toBe(4);
    expect(table.lookup(ip('2001:67d::1'), null, 'eu-central')).toBeNull();
  });

  it('is empty for an empty file', () => {
    const r = parseLatencyTable('# nothing yet\n', 'x.csv');
    expect(r.errors).toEqual([]);
    expect(r.table.size).toBe(0);
    expect(r.table.lookup(ip('1.2.3.4'), 'DE', 'eu-central')).toBeNull();
  });

  it('matches prefixes that end inside a byte', () => {
    const { table: t } = parseLatencyTable('10.0.0.0/9,r,1\n10.128.0.0/9,r,2\n', 'x.csv');
    expect(t.lookup(ip('10.127.255.255'), null, 'r')?.ms).toBe(1);
    expect(t.lookup(ip('10.128.0.0'), null, 'r')?.ms).toBe(2);
  });
});

describe('parseLatencyTable errors', () => {
  it.each([
    ['DE,eu-central', 'REGIONDNS_ERR_LATENCY_FIELDS', 'expected 3 fields "key,region,ms", got 2'],
    ['Germany,eu-central,9', 'REGIONDNS_ERR_LATENCY_KEY', 'key "Germany" must be a two-letter country code (DE) or a network (193.0.0.0/16)'],
    ['193.0.0.1/16,eu-central,9', 'REGIONDNS_ERR_LATENCY_KEY', '193.0.0.1/16 has host bits set; did you mean 193.0.0.0/16?'],
    ['DE,eu central,9', 'REGIONDNS_ERR_LATENCY_REGION', 'region "eu central" must be letters, digits, ".", "_" or "-"'],
    ['DE,eu-central,-3', 'REGIONDNS_ERR_LATENCY_MS', 'latency "-3" must be a non-negative number of milliseconds'],
    ['DE,eu-central,fast', 'REGIONDNS_ERR_LATENCY_MS', 'latency "fast" must be a non-negative number of milliseconds'],
  ])('%s', (line, code, message) => {
    const { errors, table } = parseLatencyTable(`key,region,ms\n# c\n${line}\n`, 'lat.csv');
    expect(errors).toEqual([{ code, file: 'lat.csv', line: 3, message }]);
    expect(table.size).toBe(0);
  });

  it('reports a duplicate with the first line, in any notation', () => {
    const { errors, table } = parseLatencyTable('de,eu,1\n2001:67c:0::/32,eu,2\nDE,eu,3\n2001:67c::/32,eu,4\n', 'lat.csv');
    expect(errors).toEqual([
      { code: 'REGIONDNS_ERR_LATENCY_DUPLICATE', file: 'lat.csv', line: 3, message: 'DE → eu is already given at line 1' },
      { code: 'REGIONDNS_ERR_LATENCY_DUPLICATE', file: 'lat.csv', line: 4, message: '2001:67c::/32 → eu is already given at line 2' },
    ]);
    expect(table.size).toBe(2);
  });

  it('keeps the good rows when some are bad', () => {
    const { errors, table } = parseLatencyTable('DE,eu,1\nbad\nFR,eu,2\n', 'lat.csv');
    expect(errors.map((e) => e.line)).toEqual([2]);
    expect(table.lookup(ip('1.1.1.1'), 'FR', 'eu')?.ms).toBe(2);
  });
});

describe('geo/latency.csv', () => {
  it('parses cleanly', async () => {
    const { readFileSync } = await import('node:fs');
    const file = new URL('../../geo/latency.csv', import.meta.url);
    expect(parseLatencyTable(readFileSync(file, 'utf8'), 'geo/latency.csv').errors).toEqual([]);
  });
});

describe('the prefix trie', () => {
  // The reference is the definition: for each region, the row of the longest prefix containing the address.
  const rng = mulberry32(0x17);
  const int = (n: number) => Math.floor(rng() * n);
  const REGIONS = ['a', 'b', 'c'];
  const rows: { bytes: Uint8Array; prefix: number; region: string; ms: number }[] = [];
  const lines: string[] = [];
  const seen = new Set<string>();
  while (rows.length < 400) {
    const v6 = rng() < 0.3;
    const bits = v6 ? 128 : 32;
    // Clustered networks (few first octets) so that prefixes nest and lie beside each other.
    const bytes = Uint8Array.from({ length: bits / 8 }, (_, i) => (i === 0 ? (v6 ? 0x20 : 10 + int(3)) : int(256)));
    const prefix = v6 ? 8 + int(57) : int(33);
    maskAddress(bytes, prefix);
    const region = REGIONS[int(3)];
    const key = `${formatNetwork({ bytes, prefix })},${region}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const ms = 1 + int(300);
    rows.push({ bytes, prefix, region, ms });
    lines.push(`${key},${ms}`);
  }
  const { table, errors } = parseLatencyTable(lines.join('\n'), 't.csv');
  const inside = (a: Uint8Array, r: { bytes: Uint8Array; prefix: number }) => {
    if (a.length !== r.bytes.length) return false;
    for (let bit = 0; bit < r.prefix; bit++) if (bitAt(a, bit) !== bitAt(r.bytes, bit)) return false;
    return true;
  };
  const reference = (a: Uint8Array, region: string) => {
    let best: (typeof rows)[number] | null = null;
    for (const r of rows) if (r.region === region && inside(a, r) && (best === null || r.prefix > best.prefix)) best = r;
    return best === null ? null : best.ms;
  };
  const randomAddress = (): Uint8Array => {
    const near = rows[int(rows.length)].bytes.slice(); // start inside a row's network, then flip low bits
    for (let k = 0; k < 3; k++) { const bit = int(near.length * 8); near[bit >> 3] ^= 0x80 >> (bit & 7); }
    return near;
  };

  it('parses', () => expect(errors).toEqual([]));

  it('agrees with a scan of every row, for 3,000 addresses near the networks', () => {
    for (let i = 0; i < 3000; i++) {
      const a = randomAddress();
      for (const region of REGIONS) expect(table.lookup(a, null, region)?.ms ?? null, `${bytesToIp(a)} ${region}`).toBe(reference(a, region));
    }
  });

  it('reports a scope every address sharing those bits agrees with, and interns the cell', () => {
    for (let i = 0; i < 500; i++) {
      const a = randomAddress();
      const m = table.match(a);
      expect(m.scope).toBeLessThanOrEqual(a.length * 8);
      for (let k = 0; k < 20; k++) {
        const b = a.slice();
        for (let bit = m.scope; bit < b.length * 8; bit++) if (rng() < 0.5) b[bit >> 3] ^= 0x80 >> (bit & 7);
        expect(table.match(b).cell, `${bytesToIp(a)}/${m.scope} vs ${bytesToIp(b)}`).toBe(m.cell);
      }
    }
  });

  it('names the matched network and its exact scope', () => {
    const { table: t } = parseLatencyTable('193.0.0.0/16,eu,14\n193.0.1.0/24,eu,4\n', 'x.csv');
    expect(t.match(ip('193.0.1.9'))).toMatchObject({ cell: { network: '193.0.1.0/24' }, scope: 24 });
    // In the /16 but beside the /24: 193.0.2.x shares 22 bits with 193.0.1.0, so bit 23 decides.
    expect(t.match(ip('193.0.2.9'))).toMatchObject({ cell: { network: '193.0.0.0/16' }, scope: 23 });
    expect(t.match(ip('193.0.128.1'))).toMatchObject({ cell: { network: '193.0.0.0/16' }, scope: 17 });
    expect(t.match(ip('10.0.0.1'))).toMatchObject({ cell: NO_PREFIX, scope: 1 });
    expect(t.match(mapped('193.0.1.9'))).toMatchObject({ cell: { network: '193.0.1.0/24' }, scope: 120 });
  });
});
