// Pool endpoints with their own checks in <origin>.steer.yaml: the forms, interning of identical
// checks, min-healthy, and every error with its file:line.
import { describe, expect, it } from 'vitest';
import type { CheckConfig } from '../../src/health/check-config.js';
import { loadPolicy } from '../../src/health/load-plan.js';
import type { HealthPlan } from '../../src/health/plan.js';
import { configDirs } from '../helpers/config-dirs.js';

const dirWith = configDirs('regiondns-endpoints-');

const ORIGIN = 'gslb.example.com.';
const STEER = 'gslb.example.com.steer.yaml';
const REGIONS = `regions:
  us-east:    { location: { lat: 39.04, lon: -77.49 } }
  eu-central: { location: { lat: 50.11, lon: 8.68 } }
`;

function load(files: Record<string, string>, origins: string[] = [ORIGIN]) {
  const dir = dirWith(files);
  const r = loadPolicy(dir, origins, () => false);
  return { config: r.steering, health: r.health, errors: r.errors.map((e) => ({ ...e, file: e.file.slice(dir.length + 1) })) };
}

/** The checks the plan gives one endpoint of one hostname's pool. */
const checksOf = (health: HealthPlan, fqdn: string, region: string, address: string): CheckConfig[] =>
  (health.pools.get(fqdn)?.get(region)?.get(address) ?? []).map((id) => health.endpointChecks.get(id)!);

const steer = (...lines: string[]) => ({ 'regions.yaml': REGIONS, [STEER]: [...lines, ''].join('\n') });

describe('pool endpoints with checks', () => {
  it('takes bare addresses and { address, checks } side by side, in the order written', () => {
    const { config, health, errors } = load(steer(
      'hostnames:',
      '  www:',
      '    min-healthy: 2',
      '    pools:',
      '      eu-central:',
      '        - { address: 198.51.100.1, checks: [{ type: http, url: "http://10.1.0.1:8080/healthz", interval: 1s, fall: 2, rise: 2 }] }',
      '        - address: "2001:DB8::2"',
      '          checks:',
      '            - { type: tcp, address: "10.1.0.2:443" }',
      '        - 198.51.100.3',
      '      us-east: [192.0.2.1]',
    ));
    expect(errors).toEqual([]);
    const p = config.hostnames.get('www.gslb.example.com.')!;
    expect(p.minHealthy).toBe(2);
    expect(health.pools.has(p.fqdn)).toBe(true);
    const eu = p.pools.get('eu-central')!;
    const of = (region: string, address: string) => checksOf(health, p.fqdn, region, address);
    expect(eu.v4Text).toEqual(['198.51.100.1', '198.51.100.3']);
    expect(eu.v6Text).toEqual(['2001:db8::2']);
    expect(eu.list!.map((e) => [e.text, e.family, of('eu-central', e.text).length, e.line])).toEqual([
      ['198.51.100.1', 4, 1, 6], ['2001:db8::2', 6, 1, 7], ['198.51.100.3', 4, 0, 10],
    ]);
    const http = of('eu-central', '198.51.100.1')[0];
    expect(http).toMatchObject({ type: 'http', url: 'http://10.1.0.1:8080/healthz', intervalMs: 1000, rise: 2, fall: 2, endpoint: true, line: 6 });
    expect(http.id).toMatch(/^GET http:\/\/10\.1\.0\.1:8080\/healthz \[[0-9a-f]{8}\]$/);
    const tcp = of('eu-central', '2001:db8::2')[0];
    expect(tcp).toMatchObject({ type: 'tcp', host: '10.1.0.2', port: 443 });
    expect([...health.endpointChecks.keys()].sort()).toEqual([http.id, tcp.id].sort());
    const us = p.pools.get('us-east')!;
    expect(us.list!.map((e) => of('us-east', e.text).length)).toEqual([0]);
    // Steering's vocabulary carries no checks.
    expect(Object.keys(eu.list![0]).sort()).toEqual(['bytes', 'family', 'line', 'text']);
  });

  it('identical checks are one check however many hostnames, regions and files name them; a changed parameter is another', () => {
    const check = '{ type: tcp, address: "127.0.0.1:9000", interval: 2s }';
    const { config, health, errors } = load({
      'regions.yaml': REGIONS,
      [STEER]: ['hostnames:', '  a:', '    pools:', `      us-east: [{ address: 192.0.2.1, checks: [${check}] }]`,
        '  b:', '    pools:', `      eu-central: [{ address: 198.51.100.1, checks: [{ name: other-name, type: tcp, address: "127.0.0.1:9000", interval: 2s }] }]`,
        '  c:', '    pools:', '      eu-central: [{ address: 198.51.100.1, checks: [{ type: tcp, address: "127.0.0.1:9000", interval: 3s }] }]', ''].join('\n'),
      'example.net.steer.yaml': ['hostnames:', '  www:', '    pools:', `      us-east: [{ address: 192.0.2.9, checks: [${check}] }]`, ''].join('\n'),
    }, [ORIGIN, 'example.net.']);
    expect(errors).toEqual([]);
    const first = (fqdn: string) => {
      const [region, pool] = config.hostnames.get(fqdn)!.pools.entries().next().value!;
      return checksOf(health, fqdn, region, pool.list![0].text)[0];
    };
    const a = first('a.gslb.example.com.');
    expect(first('b.gslb.example.com.')).toBe(a);
    expect(first('www.example.net.')).toBe(a);
    expect(first('c.gslb.example.com.')).not.toBe(a);
    expect(health.endpointChecks.size).toBe(2);
  });

  it('tenant hostnames ("*.app") take the same form', () => {
    const { health, errors } = load(steer(
      'hostnames:',
      '  "*.app":',
      '    tenants: { unknown: nearest }',
      '    pools:',
      '      eu-central: [{ address: 198.51.100.1, checks: [{ type: tcp, address: "127.0.0.1:9001" }] }, 198.51.100.2]',
      '      us-east: [192.0.2.1]',
    ));
    expect(errors).toEqual([]);
    expect(checksOf(health, '*.app.gslb.example.com.', 'eu-central', '198.51.100.1')).toHaveLength(1);
  });

  it('without endpoint checks the config has none', () => {
    const { config, health, errors } = load(steer('hostnames:', '  a: { pools: { us-east: [192.0.2.1] } }'));
    expect(errors).toEqual([]);
    expect(health.endpointChecks.size).toBe(0);
    expect(health.pools.size).toBe(0);
    expect(config.hostnames.get('a.gslb.example.com.')).toMatchObject({ minHealthy: 1 });
  });
});

describe('pool endpoint errors name file:line and a stable code', () => {
  const pool = (...items: string[]) => steer('hostnames:', '  api:', '    pools:', '      us-east:', ...items.map((i) => `        ${i}`));
  const cases: { name: string; files: Record<string, string>; code: string; line: number; message?: RegExp }[] = [
    { name: 'unknown key in an endpoint', files: pool('- { address: 192.0.2.1, check: [] }'), code: 'STEER_UNKNOWN_KEY', line: 5, message: /unknown key "check".*allowed keys: address, checks/ },
    { name: 'endpoint without an address', files: pool('- checks: []'), code: 'STEER_MISSING_KEY', line: 5, message: /needs a "address" key/ },
    { name: 'endpoint address is not an address', files: pool('- 192.0.2.1', '- address: lb.example.net', '  checks: []'), code: 'STEER_BAD_ADDRESS', line: 6, message: /"lb\.example\.net" in the pool of "us-east"/ },
    { name: 'endpoint is a list', files: pool('- [192.0.2.1]'), code: 'STEER_BAD_ADDRESS', line: 5, message: /write an address, or \{ address/ },
    { name: 'the same address bare and as an object', files: pool('- 192.0.2.1', '- { address: 192.0.2.1, checks: [] }'), code: 'STEER_DUPLICATE_ADDRESS', line: 6 },
    { name: 'checks is not a list', files: pool('- { address: 192.0.2.1, checks: { type: tcp } }'), code: 'STEER_TYPE', line: 5, message: /must be a list/ },
    { name: 'check with a bad url', files: pool('- address: 192.0.2.1', '  checks:', '    - type: http', '      url: "ftp://x/"'), code: 'CHECK_URL', line: 8, message: /absolute http/ },
    { name: 'check with a bad interval', files: pool('- address: 192.0.2.1', '  checks:', '    - { type: tcp, address: "10.0.0.1:80", interval: 5 }'), code: 'CHECK_DURATION', line: 7, message: /has no unit: write 5s, 5m or 5ms/ },
    { name: 'check with a bad tcp address', files: pool('- address: 192.0.2.1', '  checks:', '    - type: tcp', '      address: "10.0.0.1"'), code: 'CHECK_ADDRESS', line: 8 },
    { name: 'check with an unknown key', files: pool('- address: 192.0.2.1', '  checks:', '    - type: tcp', '      address: "10.0.0.1:80"', '      falls: 2'), code: 'CHECK_UNKNOWN_KEY', line: 9 },
    { name: 'min-healthy 0', files: steer('hostnames:', '  api:', '    min-healthy: 0', '    pools: { us-east: [192.0.2.1] }'), code: 'STEER_MIN_HEALTHY_RANGE', line: 3, message: /1 or more/ },
    { name: 'min-healthy 1.5', files: steer('hostnames:', '  api:', '    pools: { us-east: [192.0.2.1] }', '    min-healthy: 1.5'), code: 'STEER_MIN_HEALTHY_RANGE', line: 4 },
    { name: 'min-healthy is text', files: steer('hostnames:', '  api:', '    pools: { us-east: [192.0.2.1] }', '    min-healthy: two'), code: 'STEER_TYPE', line: 4, message: /must be a number/ },
  ];

  it.each(cases)('$name → $code at line $line', ({ files, code, line, message }) => {
    const { errors, config } = load(files);
    const hit = errors.find((e) => e.code === `REGIONDNS_ERR_${code}`);
    expect(hit, JSON.stringify(errors, null, 2)).toBeDefined();
    expect({ file: hit!.file, line: hit!.line }).toEqual({ file: STEER, line });
    if (message) expect(hit!.message).toMatch(message);
    expect(config.hostnames.has('api.gslb.example.com.')).toBe(false);
  });
});
