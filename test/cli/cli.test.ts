// The regiondns command line as users run it: check and explain, as real processes.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, REPO } from '../helpers/server-process.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function dirWith(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'z-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

const GOOD_ZONE = `$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.1
www A 192.0.2.1
`;

describe('regiondns check', () => {
  it('prints one summary line per zone and exits 0 on the example zones', () => {
    const r = run(['check', 'zones']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^gslb\.example\.com\. ok: \d+ records, \d+ names, \d+ steered, serial \d+/m);
  });

  it('names file:line for each error and exits 1', () => {
    const dir = dirWith({
      'bad.test.zone': `$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.1
www A 192.0.2.300
alias CNAME www
alias A 192.0.2.1
`,
    });
    const r = run(['check', dir]);
    expect(r.code).toBe(1);
    const file = path.join(dir, 'bad.test.zone');
    expect(r.err).toContain(`${file}:5:`);
    expect(r.err).toMatch(/192\.0\.2\.300/);
    expect(r.err).toMatch(new RegExp(`${file.replace(/\./g, '\\.')}:[67]: .*CNAME`));
  });

  it('reports a missing SOA', () => {
    const dir = dirWith({ 'nosoa.test.zone': '$TTL 300\n@ NS ns1\nns1 A 127.0.0.1\n' });
    const r = run(['check', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nosoa\.test\.zone:0: .*SOA/);
  });

  it('reports steering policy errors with file:line', () => {
    const dir = dirWith({
      'p.test.zone': GOOD_ZONE,
      'regions.yaml': 'regions:\n  us-east: { location: { lat: 39, lon: -77 } }\n',
      'p.test.steer.yaml': 'hostnames:\n  api:\n    pools:\n      us-east: [192.0.2.1]\n      mars-1: [192.0.2.2]\n',
    });
    const r = run(['check', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/p\.test\.steer\.yaml:5: .*mars-1/);
  });

  it('a steered name with static A records in the zone file is an error', () => {
    const dir = dirWith({
      'p.test.zone': GOOD_ZONE,
      'regions.yaml': 'regions:\n  us-east: { location: { lat: 39, lon: -77 } }\n',
      'p.test.steer.yaml': 'hostnames:\n  www:\n    pools:\n      us-east: [192.0.2.1]\n',
    });
    const r = run(['check', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/p\.test\.steer\.yaml:2: .*static/i);
  });
});

describe('regiondns explain', () => {
  it('shows the record set, each region with its distance and RTT, the answer and the ECS scope', () => {
    const r = run(['explain', 'api.gslb.example.com', '--client', '49.44.0.0/24', '--geoip', 'geo/fixtures/world-geoip2.mmdb']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/record set: /);
    expect(r.out).toMatch(/Mumbai/);
    expect(r.out).toMatch(/\d+ km, ~[\d.]+ ms/);
    expect(r.out).toMatch(/answer: NOERROR api\.gslb\.example\.com\. 30 A (203\.0\.113\.10|198\.51\.100\.10)/);
    expect(r.out).toMatch(/ECS scope \/\d+/);
  });

  it('--json gives the structured trace', () => {
    const r = run(['explain', 'api.gslb.example.com', '--client', '193.0.0.0/24', '--geoip', 'geo/fixtures/world-flat.mmdb', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.steered).toBe(true);
    expect(j.answer).toEqual(['api.gslb.example.com. 30 A 198.51.100.10']);
    expect(j.trace.location.country).toBe('NL');
    expect(j.ecsScope).toBeGreaterThan(0);
  });
});

describe('regiondns serve --state-file (replaced)', () => {
  it('says what replaced it and exits 2 (a usage error) without starting', () => {
    const r = run(['serve', '--state-file', '/var/lib/regiondns/state.json', '--listen', '127.0.0.1:0', '--http', 'off']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--state-file was replaced by --state-dir DIR');
    expect(r.err).toContain('--state-dir "/var/lib/regiondns"');
    expect(run(['serve', '--state-file', 'off', '--http', 'off']).err).toContain('--state-dir none');
  });
});
