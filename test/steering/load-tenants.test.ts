// The `tenants:` section of a steer file and the tenants file it names: every problem as file:line.
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatConfigError } from '../../src/config/errors.js';
import { loadSteering } from '../../src/steering/load-policy.js';
import { configDirs } from '../helpers/config-dirs.js';

const dirWith = configDirs('regiondns-tenants-');

const ORIGIN = 'gslb.example.com.';
const STEER = 'gslb.example.com.steer.yaml';
const REGIONS = `regions:
  us-east:    { location: { lat: 39.04, lon: -77.49 } }
  eu-central: { location: { lat: 50.11, lon: 8.68 } }
  eu-west:    { location: { lat: 53.35, lon: -6.26 } }
  ap-south:   { location: { lat: 19.08, lon: 72.88 } }
`;

/** The contract's example, with `extra` lines under `tenants:` (or instead of it, with `tenants` given). */
function steer(tenants = ['source: tenants.csv', 'residency:', '  eu-central: [eu-west]', '  us-east: []', 'when-home-down: fallback', 'unknown: nearest'], key = '"*.app"'): string {
  return [
    'hostnames:',
    `  ${key}:`,
    '    ttl: 60',
    '    pools: { us-east: [192.0.2.20], eu-central: [198.51.100.20], eu-west: [198.51.100.40] }',
    '    tenants:',
    ...tenants.map((l) => `      ${l}`),
    '',
  ].join('\n');
}

function load(files: Record<string, string>) {
  const dir = dirWith(files);
  const r = loadSteering(dir, [ORIGIN], () => false);
  return { ...r, dir, errors: r.errors.map((e) => formatConfigError({ ...e, file: e.file.slice(dir.length + 1) })) };
}

describe('tenants: in a steer file', () => {
  it('loads the contract example: residency, rules, and the map from the file', () => {
    const { config, errors } = load({ 'regions.yaml': REGIONS, [STEER]: steer(), 'tenants.csv': 'slug,region\nacme,eu-central\nglobex,us-east\n' });
    expect(errors).toEqual([]);
    const p = config.hostnames.get('*.app.gslb.example.com.')!;
    expect(p.tenants).toEqual({ residency: new Map([['eu-central', ['eu-west']], ['us-east', []]]), whenHomeDown: 'fallback', unknown: 'nearest' });
    expect([...config.tenants!.entries]).toEqual([['acme', 'eu-central'], ['globex', 'us-east']]);
    expect(config.tenants!.file).toMatch(/tenants\.csv$/);
  });

  it('defaults: fallback, nearest, no residency, no file', () => {
    const { config, errors } = load({ 'regions.yaml': REGIONS, [STEER]: steer(['unknown: nearest']) });
    expect(errors).toEqual([]);
    expect(config.hostnames.get('*.app.gslb.example.com.')!.tenants).toEqual({ residency: new Map(), whenHomeDown: 'fallback', unknown: 'nearest' });
    expect(config.tenants).toBeUndefined();
  });

  it.each([
    ['a hostname that is not a wildcard', steer(['unknown: nearest'], 'app'), /gslb\.example\.com\.steer\.yaml:5: tenants need a wildcard hostname such as "\*\.app".*\[REGIONDNS_ERR_STEER_TENANTS_NOT_WILDCARD\]/],
    ['a residency region without a pool', steer(['residency:', '  eu-central: [ap-south]']), /:7: the residency of eu-central names region "ap-south", which has no pool.*\[REGIONDNS_ERR_STEER_REGION_WITHOUT_POOL\]/],
    ['an unknown residency region', steer(['residency:', '  mars-1: []']), /:7: unknown region "mars-1".*\[REGIONDNS_ERR_STEER_UNKNOWN_REGION\]/],
    ['a home region listed as its own fallback', steer(['residency:', '  eu-central: [eu-central]']), /:7: the residency of eu-central lists eu-central itself.*\[REGIONDNS_ERR_STEER_DUPLICATE_REGION\]/],
    ['a bad when-home-down', steer(['when-home-down: nearest']), /:6: "hostnames\.\*\.app\.tenants\.when-home-down" must be one of "fallback", "servfail", "fail-open"/],
    ['a bad unknown', steer(['unknown: nxdomain']), /:6: .*must be one of "nearest", "servfail"/],
    ['an unknown key', steer(['sources: x.csv']), /:6: unknown key "sources".*allowed keys: source, residency, when-home-down, unknown/],
    ['a source outside the zones folder', steer(['source: ../tenants.csv']), /:6: tenants\.source "\.\.\/tenants\.csv" must name a file inside the zones folder.*\[REGIONDNS_ERR_STEER_TENANTS_SOURCE\]/],
    ['a source that does not exist', steer(['source: missing.csv']), /:6: cannot read tenants file .*missing\.csv: ENOENT.*\[REGIONDNS_ERR_TENANT_READ\]/],
  ])('%s', (_name, text, error) => {
    const { errors } = load({ 'regions.yaml': REGIONS, [STEER]: text });
    expect(errors.join('\n')).toMatch(error);
  });

  it('two tenant hostnames naming different files: one map per server', () => {
    const two = `${steer()}  "*.files":\n    pools: { us-east: [192.0.2.21], eu-central: [198.51.100.21], eu-west: [198.51.100.41] }\n    tenants: { source: other.csv }\n`;
    const { errors } = load({ 'regions.yaml': REGIONS, [STEER]: two, 'tenants.csv': 'acme,eu-central\n', 'other.csv': '' });
    expect(errors).toEqual([expect.stringMatching(/steer\.yaml:14: the server has one tenant map: name the same file as .*steer\.yaml:6 \(.*tenants\.csv\) or leave source out/)]);
  });
});

describe('the tenants file', () => {
  it('names file:line for an unknown region, a duplicate slug, a bad slug, a bad line, a region without a pool', () => {
    const csv = [
      'slug,region',
      'acme,eu-central',
      'globex,mars-1', // 3
      'acme,eu-west', // 4
      'Initech,us-east', // 5
      'hooli', // 6
      'umbrella,ap-south', // 7
      'ok-1,us-east',
    ].join('\n');
    const { errors } = load({ 'regions.yaml': REGIONS, [STEER]: steer(), 'tenants.csv': csv });
    expect(errors).toEqual([
      'tenants.csv:3: tenant globex: unknown region "mars-1" (regions.yaml defines: us-east, eu-central, eu-west, ap-south) [REGIONDNS_ERR_TENANT_UNKNOWN_REGION]',
      'tenants.csv:4: duplicate slug "acme": already on line 2 [REGIONDNS_ERR_TENANT_DUPLICATE]',
      'tenants.csv:5: slug "Initech" has upper-case letters: write it in lower case [REGIONDNS_ERR_TENANT_BAD_SLUG]',
      'tenants.csv:6: expected "slug,region", got "hooli" [REGIONDNS_ERR_TENANT_FORMAT]',
      'tenants.csv:7: tenant umbrella: region "ap-south" has no pool for *.app.gslb.example.com.: a tenant\'s region must be in the pools of every tenant hostname [REGIONDNS_ERR_TENANT_REGION_WITHOUT_POOL]',
    ]);
  });

  it('a slug longer than a DNS label, and one with a dot', () => {
    const { errors } = load({ 'regions.yaml': REGIONS, [STEER]: steer(), 'tenants.csv': `${'x'.repeat(64)},us-east\na.b,us-east\n` });
    expect(errors).toEqual([
      expect.stringMatching(/^tenants\.csv:1: slug "x+…" is 64 characters long; a DNS label holds at most 63 \[REGIONDNS_ERR_TENANT_BAD_SLUG\]$/),
      expect.stringMatching(/^tenants\.csv:2: slug "a\.b" may only hold a-z, 0-9 and "-" \(it is one DNS label\)/),
    ]);
  });

  it('lists 50 problems and counts the rest', () => {
    const csv = Array.from({ length: 120 }, (_, i) => `t${i},mars-1`).join('\n');
    const { errors } = load({ 'regions.yaml': REGIONS, [STEER]: steer(), 'tenants.csv': csv });
    expect(errors).toHaveLength(51);
    expect(errors[50]).toBe('tenants.csv:0: 70 more problems not listed [REGIONDNS_ERR_TENANT_TOO_MANY]');
  });

  it('a reload re-reads the file only when it changed', () => {
    const dir = dirWith({ 'regions.yaml': REGIONS, [STEER]: steer(), 'tenants.csv': 'acme,eu-central\n' });
    const first = loadSteering(dir, [ORIGIN], () => false).config.tenants!;
    expect(loadSteering(dir, [ORIGIN], () => false).config.tenants).toBe(first);
    writeFileSync(join(dir, 'tenants.csv'), 'acme,eu-west\n');
    utimesSync(join(dir, 'tenants.csv'), new Date(), new Date(Date.now() + 5_000));
    const second = loadSteering(dir, [ORIGIN], () => false).config.tenants!;
    expect(second).not.toBe(first);
    expect(second.entries.get('acme')).toBe('eu-west');
  });
});
