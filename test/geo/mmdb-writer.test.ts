import { describe, expect, it } from 'vitest';
import { Reader } from 'maxmind';
import {
  double,
  encodeMmdbValue,
  float,
  geoRecord,
  MmdbNumber,
  uint16,
  writeMmdb,
  type GeoLayout,
  type MmdbEntry,
} from '../../src/geo/mmdb-writer.js';

const OPTS = { databaseType: 'test-City', buildEpoch: 1_767_225_600, description: { en: 'unit test' } };

const amsterdam = { country: 'NL', city: 'Amsterdam', lat: 52.37, lon: 4.89 };
const mumbai = { country: 'IN', city: 'Mumbai', lat: 19.08, lon: 72.88 };
const mountainView = { country: 'US', city: 'Mountain View', lat: 37.39, lon: -122.08 };

function world(layout: GeoLayout): MmdbEntry[] {
  return [
    { network: '193.0.0.0/16', data: geoRecord(layout, amsterdam) },
    { network: '49.44.0.0/16', data: geoRecord(layout, mumbai) },
    { network: '8.8.8.0/24', data: geoRecord(layout, mountainView) },
    { network: '2001:67c::/32', data: geoRecord(layout, amsterdam) },
    { network: '2405:200::/32', data: geoRecord(layout, mumbai) },
  ];
}

// The reader's record type is a union of MaxMind response shapes; tests look at plain fields.
type Rec = Record<string, any>;
const get = (r: Reader<any>, ip: string): [Rec | null, number] => r.getWithPrefixLength(ip) as [Rec | null, number];


describe('encodeMmdbValue', () => {
  // Byte layouts from the spec's "Output Data Section" examples.
  it.each([
    ['short string', 'ab', '426162'],
    ['uint32 0', 0, 'c0'],
    ['uint32 one byte', 0x80, 'c180'],
    ['uint16', uint16(500), 'a201f4'],
    ['double', double(1), '68' + '3ff0000000000000'],
    ['float (extended type 15)', float(1), '0408' + '3f800000'],
    ['boolean (extended type 14)', true, '0107'],
    ['empty map', {}, 'e0'],
    ['array (extended type 11)', ['a'], '010441' + '61'],
    ['negative int32 (extended type 8)', -1, '0401ffffffff'],
    ['uint64', 1n, '010201'],
  ])('%s', (_name, value, hex) => {
    expect(encodeMmdbValue(value as never).toString('hex')).toBe(hex);
  });

  it.each([
    [28, 'size 29: one extra byte'],
    [29, 'size 29: one extra byte'],
    [300, 'size 30: two extra bytes'],
    [70_000, 'size 31: three extra bytes'],
  ])('strings of %i bytes (%s) read back', (n) => {
    const s = 'x'.repeat(n);
    const buf = writeMmdb([{ network: '10.0.0.0/8', data: { s } }], OPTS);
    expect((new Reader<any>(buf).get('10.1.2.3') as Rec).s).toBe(s);
  });

  it('refuses values that do not fit', () => {
    expect(() => encodeMmdbValue(new MmdbNumber('uint16', 70_000))).toThrow(/uint16 70000 does not fit/);
    expect(() => encodeMmdbValue({ x: Number.NaN })).toThrow(/\$\.x: NaN/);
  });
});

describe('writeMmdb read back with the maxmind Reader', () => {
  it.each(['geoip2', 'flat'] as const)('%s layout: IPv4, IPv6, unknown', (layout) => {
    const r = new Reader<any>(writeMmdb(world(layout), OPTS));
    const [nl, nlPrefix] = get(r, '193.0.0.1');
    const [inV6, inV6Prefix] = get(r, '2405:200:1::1');
    const [us] = get(r, '8.8.8.8');
    if (layout === 'geoip2') {
      expect(nl).toEqual({ city: { names: { en: 'Amsterdam' } }, country: { iso_code: 'NL' }, location: { latitude: 52.37, longitude: 4.89 } });
      expect(inV6?.country.iso_code).toBe('IN');
      expect(us?.location.longitude).toBe(-122.08);
    } else {
      // DB-IP stores coordinates as 32-bit floats.
      expect(nl).toMatchObject({ city: 'Amsterdam', country_code: 'NL' });
      expect(nl?.latitude).toBeCloseTo(52.37, 5);
      expect(inV6?.country_code).toBe('IN');
      expect(us?.longitude).toBeCloseTo(-122.08, 4);
    }
    expect(nlPrefix).toBe(16);
    expect(inV6Prefix).toBe(32);
    expect(get(r, '127.0.0.1')[0]).toBeNull();
    expect(get(r, '2a00::1')[0]).toBeNull();
  });

  it('writes the metadata the spec requires', () => {
    const r = new Reader<any>(writeMmdb(world('geoip2'), OPTS));
    expect(r.metadata).toMatchObject({
      binaryFormatMajorVersion: 2,
      binaryFormatMinorVersion: 0,
      databaseType: 'test-City',
      description: { en: 'unit test' },
      ipVersion: 6,
      languages: ['en'],
      recordSize: 24,
    });
    expect(r.metadata.buildEpoch.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('places IPv4 at ::/96 and aliases ::ffff:0:0/96 and 2002::/16 to it', () => {
    const r = new Reader<any>(writeMmdb(world('flat'), OPTS));
    expect(get(r, '::193.0.0.1')).toEqual([expect.objectContaining({ country_code: 'NL' }), 112]);
    expect(get(r, '::ffff:193.0.0.1')).toEqual([expect.objectContaining({ country_code: 'NL' }), 112]);
    expect(get(r, '2002:c100:1::')).toEqual([expect.objectContaining({ country_code: 'NL' }), 32]);
  });

  it('refuses an IPv6 network inside an alias range unless aliasing is off', () => {
    const entries = [...world('flat'), { network: '2002:1::/32', data: { x: 1 } }];
    expect(() => writeMmdb(entries, OPTS)).toThrow(/2002:1::\/32 lies in 2002::\/16/);
    const r = new Reader<any>(writeMmdb(entries, { ...OPTS, aliasIpv4: false }));
    expect(get(r, '2002:1::1')[0]).toEqual({ x: 1 });
    expect(get(r, '::ffff:193.0.0.1')[0]).toBeNull();
  });

  it('lets a narrower network win inside a wider one, and reports the tree network', () => {
    const r = new Reader<any>(
      writeMmdb(
        [
          { network: '193.0.0.0/16', data: { c: 'wide' } },
          { network: '193.0.1.0/24', data: { c: 'narrow' } },
          { network: '::/0', data: { c: 'v6 default' } },
        ],
        OPTS,
      ),
    );
    expect(get(r, '193.0.1.9')).toEqual([{ c: 'narrow' }, 24]);
    // The /16 is split around the /24: 193.0.0.0/24 is its own leaf, 193.0.128.0/17 another.
    expect(get(r, '193.0.0.9')).toEqual([{ c: 'wide' }, 24]);
    expect(get(r, '193.0.200.1')).toEqual([{ c: 'wide' }, 17]);
    // ::/0 is split around ::/96 (IPv4), ::ffff:0:0/96 and 2002::/16 (aliases): 2a00:: parts from 2002:: at bit 5.
    expect(get(r, '2a00::1')).toEqual([{ c: 'v6 default' }, 5]);
  });

  it.each([24, 28, 32] as const)('record size %i', (recordSize) => {
    const r = new Reader<any>(writeMmdb(world('geoip2'), { ...OPTS, recordSize }));
    expect(r.metadata.recordSize).toBe(recordSize);
    expect(get(r, '49.44.9.9')).toEqual([expect.objectContaining({ city: { names: { en: 'Mumbai' } } }), 16]);
    expect(get(r, '2001:67c:1::')[0]?.country.iso_code).toBe('NL');
  });

  it('28-bit records split the middle byte correctly past 2^24', () => {
    // Enough distinct data to push data pointers beyond 24 bits.
    const blob = 'y'.repeat(70_000);
    const entries = Array.from({ length: 260 }, (_, i) => ({ network: `10.${i >> 8}.${i & 255}.0/24`, data: { i, blob } }));
    const buf = writeMmdb(entries, OPTS);
    const r = new Reader<any>(buf);
    expect(r.metadata.recordSize).toBe(28);
    expect((get(r, '10.1.3.7')[0] as Rec).i).toBe(259);
  });

  it('writes an ip_version 4 tree', () => {
    const r = new Reader<any>(writeMmdb([{ network: '193.0.0.0/16', data: { c: 'NL' } }], { ...OPTS, ipVersion: 4 }));
    expect(r.metadata.ipVersion).toBe(4);
    expect(get(r, '193.0.3.4')).toEqual([{ c: 'NL' }, 16]);
    expect(() => writeMmdb([{ network: '2001:db8::/32', data: {} }], { ...OPTS, ipVersion: 4 })).toThrow(/ip_version 4/);
  });

  it('stores identical records once', () => {
    const one = writeMmdb([{ network: '10.0.0.0/8', data: geoRecord('geoip2', amsterdam) }], OPTS);
    const two = writeMmdb(
      [
        { network: '10.0.0.0/8', data: geoRecord('geoip2', amsterdam) },
        { network: '2001:67c::/32', data: geoRecord('geoip2', amsterdam) },
      ],
      OPTS,
    );
    const dataSize = (b: Buffer): number => {
      const r = new Reader<any>(b);
      return b.indexOf(Buffer.from('\xAB\xCD\xEFMaxMind.com', 'latin1')) - r.metadata.searchTreeSize - 16;
    };
    expect(dataSize(two)).toBe(dataSize(one));
  });

  it('refuses duplicates, also across notations', () => {
    expect(() => writeMmdb([{ network: '10.0.0.0/8', data: {} }, { network: '10.0.0.0/8', data: {} }], OPTS)).toThrow(
      'duplicate network 10.0.0.0/8',
    );
    expect(() => writeMmdb([{ network: '10.0.0.0/8', data: {} }, { network: '::a00:0/104', data: {} }], OPTS)).toThrow(
      '::a00:0/104 is the same network as 10.0.0.0/8',
    );
    expect(() => writeMmdb([{ network: '10.0.0.1/8', data: {} }], OPTS)).toThrow(/host bits set/);
  });

  it('is deterministic', () => {
    expect(writeMmdb(world('flat'), OPTS).equals(writeMmdb(world('flat'), OPTS))).toBe(true);
  });
});
