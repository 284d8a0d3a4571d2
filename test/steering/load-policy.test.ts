import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../../src/health/load-plan.js';
import { loadSteering } from '../../src/steering/load-policy.js';
import { configDirs } from '../helpers/config-dirs.js';

const dirWith = configDirs('regiondns-steer-');

const ORIGIN = 'gslb.example.com.';
const STEER = 'gslb.example.com.steer.yaml';

const REGIONS = `regions:
  us-east:    { location: { lat: 39.04, lon: -77.49 } }
  eu-central: { location: { lat: 50.11, lon: 8.68 } }
  ap-south:   { location: { lat: 19.08, lon: 72.88 } }
`;

/** Writes `files` into a fresh folder and loads it. */
function load(files: Record<string, string>, origins: string[] = [ORIGIN], statics: string[] = []) {
  const dir = dirWith(files);
  const r = loadPolicy(dir, origins, (fqdn) => statics.includes(fqdn));
  const errors = r.errors.map((e) => ({ ...e, file: e.file.slice(dir.length + 1) }));
  return { config: r.steering, health: r.health, errors, dir };
}

/** A steer file with one hostname "api" whose body lines are given (indented under it). */
function api(...body: string[]): string {
  return ['hostnames:', '  api:', ...body.map((l) => `    ${l}`), ''].join('\n');
}

const POOLS = ['pools:', '  us-east: [192.0.2.10, "2001:db8::10"]', '  eu-central: [198.51.100.10]', '  ap-south: [203.0.113.10]'];

describe('loadSteering: the example shape', () => {
  it('loads regions and a full hostname policy', () => {
    const { config, health, errors } = load({
      'regions.yaml': REGIONS,
      [STEER]: api(
        'ttl: 20',
        'answers: 2',
        ...POOLS,
        'split:',
        '  - { name: stable, weight: 99.9, regions: [us-east, eu-central] }',
        '  - { name: canary, weight: 0.1,  regions: [us-east, eu-central, ap-south] }',
        'sticky: subnet',
        'when-all-down: "region:eu-central"',
      ),
    });
    expect(errors).toEqual([]);
    expect([...config.regions.keys()]).toEqual(['us-east', 'eu-central', 'ap-south']);
    expect(config.regions.get('eu-central')).toMatchObject({ location: { lat: 50.11, lon: 8.68 }, line: 3 });
    expect(health.regions.get('eu-central')).toEqual([]);
    const p = config.hostnames.get('api.gslb.example.com.')!;
    expect(p).toMatchObject({
      fqdn: 'api.gslb.example.com.', zone: ORIGIN, ttl: 20, answers: 2, sticky: 'subnet', line: 2,
      whenAllDown: { kind: 'region', region: 'eu-central' },
      sets: [
        { name: 'stable', weight: 99.9, regions: ['us-east', 'eu-central'] },
        { name: 'canary', weight: 0.1, regions: ['us-east', 'eu-central', 'ap-south'] },
      ],
      weights: [99.9, 0.1],
    });
    expect([...p.pools.keys()]).toEqual(['us-east', 'eu-central', 'ap-south']);
    const us = p.pools.get('us-east')!;
    expect(us.v4Text).toEqual(['192.0.2.10']);
    expect(us.v6Text).toEqual(['2001:db8::10']);
    expect([...us.v4[0]]).toEqual([192, 0, 2, 10]);
    expect(us.v6[0].length).toBe(16);
    expect(us.v6[0][15]).toBe(0x10);
  });

  it('applies the defaults: ttl 30, answers 1, sticky none, fail-open, one set "all" in pool order', () => {
    const { config, errors } = load({
      'regions.yaml': REGIONS,
      [STEER]: ['hostnames:', '  "@":', '    pools:', '      ap-south: [203.0.113.10]', '      us-east: [192.0.2.10]', ''].join('\n'),
    });
    expect(errors).toEqual([]);
    expect(config.hostnames.get(ORIGIN)).toMatchObject({
      ttl: 30, answers: 1, sticky: 'none', whenAllDown: { kind: 'fail-open' },
      sets: [{ name: 'all', weight: 100, regions: ['ap-south', 'us-east'] }], weights: [100],
    });
  });

  it('a TTL takes seconds or a duration with its unit, as $TTL and check intervals do', () => {
    const ttlOf = (ttl: string) => load({
      'regions.yaml': REGIONS,
      [STEER]: ['hostnames:', '  "@":', `    ttl: ${ttl}`, '    pools:', '      us-east: [192.0.2.10]', ''].join('\n'),
    }).config.hostnames.get(ORIGIN)?.ttl;
    expect([ttlOf('45'), ttlOf('30s'), ttlOf('5m'), ttlOf('1h30m')]).toEqual([45, 30, 300, 5400]);
  });

  it('the repository example files load cleanly', () => {
    const r = loadSteering(join(import.meta.dirname, '../../zones'), [ORIGIN], () => false);
    expect(r.errors).toEqual([]);
    expect(r.config.hostnames.get('api.gslb.example.com.')?.sets.map((s) => s.name)).toEqual(['stable', 'canary']);
  });

  it('validates region checks at load time, naming file:line', () => {
    const checks = 'checks:\n      - { http: "https://x/health", every: 5s }\n      - { type: tcp, address: "127.0.0.1:443" }';
    const { health, errors } = load({ 'regions.yaml': `regions:\n  us-east:\n    location: { lat: 1, lon: 2 }\n    ${checks}\n` });
    expect(errors.map((e) => [e.code, e.line])).toEqual([['REGIONDNS_ERR_CHECK_MISSING_KEY', 5]]);
    expect(health.regions.get('us-east')?.map((c) => [c.id, c.type, c.line])).toEqual([['us-east/tcp#1', 'tcp', 6]]);
  });

  it('absolute hostnames, upper case and zone-relative names land on canonical fqdns', () => {
    const { config, errors } = load({
      'regions.yaml': REGIONS,
      [STEER]: ['hostnames:', '  API.GSLB.example.com.:', '    pools: { us-east: [192.0.2.1] }', '  Login.EU:', '    pools: { us-east: [192.0.2.2] }', ''].join('\n'),
    });
    expect(errors).toEqual([]);
    expect([...config.hostnames.keys()]).toEqual(['api.gslb.example.com.', 'login.eu.gslb.example.com.']);
  });

  it('YAML anchors and aliases share pools between hostnames, in the order written', () => {
    const { config, errors } = load({
      'regions.yaml': REGIONS,
      [STEER]: ['hostnames:', '  api:', '    pools: &pools', '      ap-south: [203.0.113.10]', '      us-east: [192.0.2.10]',
        '  login:', '    pools: *pools', '    answers: 2', ''].join('\n'),
    });
    expect(errors).toEqual([]);
    expect(config.hostnames.get('login.gslb.example.com.')?.sets[0].regions).toEqual(['ap-south', 'us-east']);
  });

  it('no folder: nothing to load, no error', () => {
    expect(loadSteering(join(dirWith({}), 'missing'), [ORIGIN], () => false)).toEqual({ config: { regions: new Map(), hostnames: new Map() }, errors: [] });
  });

  it('no steering files: no regions needed', () => {
    expect(load({ 'other.txt': 'x' }).errors).toEqual([]);
  });
});

describe('loadSteering: every error names file:line and a stable code', () => {
  type Case = { name: string; files: Record<string, string>; code: string; file: string; line: number; message?: RegExp; origins?: string[]; statics?: string[] };
  const steer = (text: string): Record<string, string> => ({ 'regions.yaml': REGIONS, [STEER]: text });
  const regions = (text: string): Record<string, string> => ({ 'regions.yaml': text });
  const cases: Case[] = [
    // YAML
    { name: 'YAML syntax', files: steer(api('pools: [192.0.2.1')), code: 'YAML', file: STEER, line: 4 },
    { name: 'duplicate key', files: steer(api('ttl: 5', 'ttl: 6', ...POOLS)), code: 'YAML', file: STEER, line: 4, message: /unique/ },
    { name: 'YAML syntax in regions.yaml', files: regions('regions:\n  us-east: { location: { lat: 1, lon: 2 }\n'), code: 'YAML', file: 'regions.yaml', line: 3 },
    // regions.yaml
    { name: 'unknown top-level key in regions.yaml', files: regions(`${REGIONS}zones: 1\n`), code: 'UNKNOWN_KEY', file: 'regions.yaml', line: 5, message: /unknown key "zones".*allowed keys: regions/ },
    { name: 'unknown region key', files: regions('regions:\n  us-east:\n    location: { lat: 1, lon: 2 }\n    weight: 3\n'), code: 'UNKNOWN_KEY', file: 'regions.yaml', line: 4, message: /"weight" in "regions.us-east"; allowed keys: location, checks/ },
    { name: 'unknown location key', files: regions('regions:\n  us-east:\n    location:\n      lat: 1\n      lng: 2\n      lon: 2\n'), code: 'UNKNOWN_KEY', file: 'regions.yaml', line: 5 },
    { name: 'missing location', files: regions('regions:\n  us-east: { checks: [] }\n'), code: 'MISSING_KEY', file: 'regions.yaml', line: 2, message: /"regions.us-east" needs a "location" key/ },
    { name: 'missing lon', files: regions('regions:\n  us-east:\n    location:\n      lat: 1\n'), code: 'MISSING_KEY', file: 'regions.yaml', line: 3 },
    { name: 'lat not a number', files: regions('regions:\n  us-east:\n    location:\n      lat: north\n      lon: 1\n'), code: 'TYPE', file: 'regions.yaml', line: 4, message: /"regions.us-east.location.lat" must be a number, not the text "north"/ },
    { name: 'lat out of range', files: regions('regions:\n  us-east:\n    location:\n      lat: 91\n      lon: 1\n'), code: 'LOCATION_RANGE', file: 'regions.yaml', line: 4, message: /between -90 and 90/ },
    { name: 'lon out of range', files: regions('regions:\n  a: { location: { lat: 1, lon: 1 } }\n  b: { location: { lat: 1, lon: -180.5 } }\n'), code: 'LOCATION_RANGE', file: 'regions.yaml', line: 3, message: /between -180 and 180/ },
    { name: 'checks not a list', files: regions('regions:\n  us-east:\n    location: { lat: 1, lon: 1 }\n    checks: { http: x }\n'), code: 'TYPE', file: 'regions.yaml', line: 4, message: /must be a list/ },
    { name: 'bad region id', files: regions('regions:\n  "us east": { location: { lat: 1, lon: 1 } }\n'), code: 'BAD_ID', file: 'regions.yaml', line: 2 },
    { name: 'regions is a list', files: regions('regions:\n  - us-east\n'), code: 'TYPE', file: 'regions.yaml', line: 1, message: /"regions" must be a mapping/ },
    // steer files: shape
    { name: 'empty steer file', files: steer(''), code: 'TYPE', file: STEER, line: 0, message: /the file must be a mapping/ },
    { name: 'unknown top-level key', files: steer(`${api(...POOLS)}hostname: {}\n`), code: 'UNKNOWN_KEY', file: STEER, line: 7, message: /allowed keys: hostnames/ },
    { name: 'unknown hostname key', files: steer(api(...POOLS, 'ttls: 30')), code: 'UNKNOWN_KEY', file: STEER, line: 7, message: /unknown key "ttls" in "hostnames.api"; allowed keys: ttl, answers, pools, split, sticky, when-all-down/ },
    { name: 'unknown set key', files: steer(api(...POOLS, 'split:', '  - name: a', '    weight: 1', '    region: [us-east]', '    regions: [us-east]')), code: 'UNKNOWN_KEY', file: STEER, line: 10 },
    { name: 'missing pools', files: steer(api('ttl: 30')), code: 'MISSING_KEY', file: STEER, line: 2, message: /"hostnames.api" needs a "pools" key/ },
    { name: 'set without weight', files: steer(api(...POOLS, 'split:', '  - { name: a, regions: [us-east] }')), code: 'MISSING_KEY', file: STEER, line: 8 },
    { name: 'ttl is not a duration', files: steer(api('ttl: soon', ...POOLS)), code: 'TTL_RANGE', file: STEER, line: 3, message: /ttl "soon" is not a duration like 30s, 5m or 1h30m/ },
    { name: 'ttl in milliseconds', files: steer(api('ttl: 1500ms', ...POOLS)), code: 'TTL_RANGE', file: STEER, line: 3, message: /whole number of seconds/ },
    { name: 'weight is text', files: steer(api(...POOLS, 'split:', '  - name: a', '    weight: "50%"', '    regions: [us-east]')), code: 'TYPE', file: STEER, line: 9, message: /split\[0\]\.weight/ },
    { name: 'weight is .inf', files: steer(api(...POOLS, 'split:', '  - { name: a, weight: .inf, regions: [us-east] }')), code: 'TYPE', file: STEER, line: 8 },
    { name: 'pool is a single address, not a list', files: steer(api('pools:', '  us-east: 192.0.2.1')), code: 'TYPE', file: STEER, line: 4, message: /must be a list/ },
    { name: 'sticky value', files: steer(api(...POOLS, 'sticky: client')), code: 'BAD_VALUE', file: STEER, line: 7, message: /must be one of "none", "subnet"/ },
    { name: 'when-all-down value', files: steer(api(...POOLS, 'when-all-down: fail-closed')), code: 'BAD_VALUE', file: STEER, line: 7, message: /"fail-open", "servfail" or "region:<id>"/ },
    { name: 'when-all-down "region:" with no id', files: steer(api(...POOLS, 'when-all-down: "region:"')), code: 'BAD_VALUE', file: STEER, line: 7 },
    // steer files: values and references
    { name: 'steer file without regions.yaml', files: { [STEER]: api(...POOLS) }, code: 'NO_REGIONS', file: STEER, line: 0, message: /create .*regions\.yaml/ },
    { name: 'unknown region in pools', files: steer(api('pools:', '  us-east: [192.0.2.1]', '  us-west: [192.0.2.2]')), code: 'UNKNOWN_REGION', file: STEER, line: 5, message: /unknown region "us-west"; regions.yaml defines: us-east, eu-central, ap-south/ },
    { name: 'unknown region in split', files: steer(api(...POOLS, 'split:', '  - name: a', '    weight: 1', '    regions:', '      - us-east', '      - mars')), code: 'UNKNOWN_REGION', file: STEER, line: 12 },
    { name: 'unknown region in when-all-down', files: steer(api(...POOLS, 'when-all-down: "region:mars"')), code: 'UNKNOWN_REGION', file: STEER, line: 7 },
    { name: 'set region without a pool', files: steer(api('pools:', '  us-east: [192.0.2.1]', 'split:', '  - { name: a, weight: 1, regions: [us-east, ap-south] }')), code: 'REGION_WITHOUT_POOL', file: STEER, line: 6, message: /record set "a" names region "ap-south", which has no pool/ },
    { name: 'fallback region without a pool', files: steer(api('pools:', '  us-east: [192.0.2.1]', 'when-all-down: region:ap-south')), code: 'REGION_WITHOUT_POOL', file: STEER, line: 5 },
    { name: 'negative weight', files: steer(api(...POOLS, 'split:', '  - { name: a, weight: 101, regions: [us-east] }', '  - { name: b, weight: -1, regions: [eu-central] }')), code: 'NEGATIVE_WEIGHT', file: STEER, line: 9 },
    { name: 'all weights zero', files: steer(api(...POOLS, 'split:', '  - { name: a, weight: 0, regions: [us-east] }', '  - { name: b, weight: 0, regions: [eu-central] }')), code: 'ZERO_WEIGHTS', file: STEER, line: 7 },
    { name: 'duplicate set name', files: steer(api(...POOLS, 'split:', '  - { name: a, weight: 1, regions: [us-east] }', '  - { name: a, weight: 1, regions: [eu-central] }')), code: 'DUPLICATE_SET', file: STEER, line: 9, message: /used twice/ },
    { name: 'bad set name', files: steer(api(...POOLS, 'split:', '  - { name: "", weight: 1, regions: [us-east] }')), code: 'BAD_ID', file: STEER, line: 8 },
    { name: 'empty split', files: steer(api(...POOLS, 'split: []')), code: 'EMPTY_SET', file: STEER, line: 7 },
    { name: 'set with no regions', files: steer(api(...POOLS, 'split:', '  - { name: a, weight: 1, regions: [] }')), code: 'EMPTY_SET', file: STEER, line: 8 },
    { name: 'region twice in a set', files: steer(api(...POOLS, 'split:', '  - name: a', '    weight: 1', '    regions:', '      - us-east', '      - us-east')), code: 'DUPLICATE_REGION', file: STEER, line: 12 },
    { name: 'empty pools', files: steer(api('pools: {}')), code: 'EMPTY_POOL', file: STEER, line: 3, message: /pools is empty/ },
    { name: 'empty pool', files: steer(api('pools:', '  us-east: [192.0.2.1]', '  eu-central: []')), code: 'EMPTY_POOL', file: STEER, line: 5, message: /"eu-central" has no endpoints/ },
    { name: 'endpoint is a name', files: steer(api('pools:', '  us-east:', '    - 192.0.2.1', '    - api.example.net')), code: 'BAD_ADDRESS', file: STEER, line: 6, message: /"api.example.net" in the pool of "us-east" is not an IPv4 or IPv6 address/ },
    { name: 'endpoint with a prefix', files: steer(api('pools:', '  us-east: [192.0.2.0/24]')), code: 'BAD_ADDRESS', file: STEER, line: 4 },
    { name: 'endpoint out of range', files: steer(api('pools:', '  us-east: [192.0.2.256]')), code: 'BAD_ADDRESS', file: STEER, line: 4 },
    { name: 'endpoint is a number', files: steer(api('pools:', '  us-east: [17]')), code: 'BAD_ADDRESS', file: STEER, line: 4, message: /the number 17/ },
    { name: 'endpoint twice', files: steer(api('pools:', '  us-east: ["2001:db8::1", "2001:DB8:0::1"]')), code: 'DUPLICATE_ADDRESS', file: STEER, line: 4, message: /2001:db8::1 is listed twice/ },
    { name: 'answers 0', files: steer(api('answers: 0', ...POOLS)), code: 'ANSWERS_RANGE', file: STEER, line: 3 },
    { name: 'answers 1.5', files: steer(api('answers: 1.5', ...POOLS)), code: 'ANSWERS_RANGE', file: STEER, line: 3 },
    { name: 'ttl negative', files: steer(api(...POOLS, 'ttl: -1')), code: 'TTL_RANGE', file: STEER, line: 7, message: /0 to 2147483647/ },
    { name: 'ttl too large', files: steer(api('ttl: 2147483648', ...POOLS)), code: 'TTL_RANGE', file: STEER, line: 3 },
    { name: 'static A records too', files: steer(api(...POOLS)), statics: ['api.gslb.example.com.'], code: 'STATIC_CONFLICT', file: STEER, line: 2, message: /has A\/AAAA records in the zone file/ },
    { name: 'absolute hostname outside the zone', files: steer(['hostnames:', '  api.example.net.:', '    pools: { us-east: [192.0.2.1] }', ''].join('\n')), code: 'OUTSIDE_ZONE', file: STEER, line: 2, message: /no served zone contains it/ },
    { name: 'hostname in a more specific served zone', origins: [ORIGIN, 'eu.gslb.example.com'], files: steer(['hostnames:', '  ok: { pools: { us-east: [192.0.2.1] } }', '  api.eu: { pools: { us-east: [192.0.2.1] } }', ''].join('\n')), code: 'OUTSIDE_ZONE', file: STEER, line: 3, message: /belongs to zone eu\.gslb\.example\.com\.; move it to eu\.gslb\.example\.com\.steer\.yaml/ },
    { name: 'two spellings of one hostname', files: steer(['hostnames:', '  api: { pools: { us-east: [192.0.2.1] } }', '  API: { pools: { us-east: [192.0.2.1] } }', ''].join('\n')), code: 'DUPLICATE_HOSTNAME', file: STEER, line: 3, message: /already steered at .*:2/ },
    { name: 'bad hostname', files: steer(['hostnames:', '  "a..b": { pools: { us-east: [192.0.2.1] } }', ''].join('\n')), code: 'BAD_NAME', file: STEER, line: 2 },
    { name: 'steer file for a zone not served', files: { 'regions.yaml': REGIONS, 'other.example.steer.yaml': api(...POOLS) }, code: 'UNSERVED_ORIGIN', file: 'other.example.steer.yaml', line: 0, message: /gslb\.example\.com\./ },
  ];

  it.each(cases)('$name → $code at $file:$line', ({ files, code, file, line, message, origins, statics }) => {
    const { errors, config } = load(files, origins, statics);
    const hit = errors.find((e) => e.code === `REGIONDNS_ERR_STEER_${code}`);
    expect(hit, JSON.stringify(errors, null, 2)).toBeDefined();
    expect({ file: hit!.file, line: hit!.line }).toEqual({ file, line });
    if (message) expect(hit!.message).toMatch(message);
    // A hostname with an error is left out of the config (the first spelling of a duplicate stays).
    if (file === STEER && line > 0 && code !== 'DUPLICATE_HOSTNAME') expect(config.hostnames.has('api.gslb.example.com.')).toBe(false);
  });

  it('reports every problem of a file at once, and keeps the good hostnames out of the way of the bad', () => {
    const { errors, config } = load({
      'regions.yaml': REGIONS,
      [STEER]: [
        'hostnames:',
        '  good: { pools: { us-east: [192.0.2.1] } }',
        '  bad:',
        '    ttl: -5',
        '    answers: 0',
        '    pools: { mars: [192.0.2.1], us-east: [nope] }',
        '',
      ].join('\n'),
    });
    expect(errors.map((e) => [e.code.replace('REGIONDNS_ERR_STEER_', ''), e.line])).toEqual([
      ['TTL_RANGE', 4], ['ANSWERS_RANGE', 5], ['UNKNOWN_REGION', 6], ['BAD_ADDRESS', 6],
    ]);
    expect([...config.hostnames.keys()]).toEqual(['good.gslb.example.com.']);
  });

  it('a region that failed to load is not also "unknown" in steer files', () => {
    const { errors } = load({
      'regions.yaml': 'regions:\n  us-east: { location: { lat: 100, lon: 1 } }\n',
      [STEER]: api('pools: { us-east: [192.0.2.1] }'),
    });
    expect(errors.map((e) => e.code)).toEqual(['REGIONDNS_ERR_STEER_LOCATION_RANGE']);
  });

  it('origins may be given with or without the final dot, in any case', () => {
    expect(load({ 'regions.yaml': REGIONS, [STEER]: api(...POOLS) }, ['GSLB.example.com']).errors).toEqual([]);
  });
});
