// Runs geo/csv-to-mmdb.mjs as a child process; it loads the compiled writer, so build first (npm test does).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Reader } from 'maxmind';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOOL = join(ROOT, 'geo/csv-to-mmdb.mjs');
// The committed fixtures are built with this epoch (see geo/README.md).
const FIXTURE_EPOCH = '1767225600';

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return runWith({}, ...args);
}

function runWith(extraEnv: Record<string, string>, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const { SOURCE_DATE_EPOCH: _, ...env } = process.env;
  const r = spawnSync(process.execPath, [TOOL, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...env, ...extraEnv } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'regiondns-csv-'));

describe('geo/csv-to-mmdb.mjs', () => {
  it.each(['geoip2', 'flat'] as const)('rebuilds the committed %s fixture byte for byte', (layout) => {
    const out = join(dir, `world-${layout}.mmdb`);
    const r = run('--layout', layout, '--build-epoch', FIXTURE_EPOCH, 'geo/fixtures/world.csv', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`9 networks`);
    expect(readFileSync(out).equals(readFileSync(join(ROOT, `geo/fixtures/world-${layout}.mmdb`)))).toBe(true);
  });

  it('takes the build date from SOURCE_DATE_EPOCH', () => {
    const out = join(dir, 'sde.mmdb');
    expect(runWith({ SOURCE_DATE_EPOCH: FIXTURE_EPOCH }, '--layout', 'flat', 'geo/fixtures/world.csv', out).status).toBe(0);
    expect(readFileSync(out).equals(readFileSync(join(ROOT, 'geo/fixtures/world-flat.mmdb')))).toBe(true);
  });

  it('writes a database the maxmind Reader reads, with quoted fields and comments', () => {
    const csv = join(dir, 'quoted.csv');
    writeFileSync(csv, '# header next\nnetwork,country,city,lat,lon\n10.0.0.0/8,us,"Washington, D.C.",38.9,-77.04 # trailing\n\n');
    const out = join(dir, 'quoted.mmdb');
    expect(run('--layout', 'geoip2', '--build-epoch', '0', csv, out).status).toBe(0);
    const r = new Reader<any>(readFileSync(out));
    expect(r.get('10.1.1.1')).toEqual({
      city: { names: { en: 'Washington, D.C.' } },
      country: { iso_code: 'US' },
      location: { latitude: 38.9, longitude: -77.04 },
    });
    expect(r.metadata.databaseType).toBe('regiondns-GeoIP2-City-Test');
  });

  it('names file:line for every bad line and exits non-zero', () => {
    const csv = join(dir, 'bad.csv');
    writeFileSync(
      csv,
      [
        'network,country,city,lat,lon',
        '193.0.0.0/16,NL,Amsterdam,52.37,4.89',
        '193.0.0.1/16,NL,Amsterdam,52.37,4.89',
        '81.2.69.0/24,GB,London,91,-0.13',
        '49.44.0.0/16,India,Mumbai,19.08,72.88',
        '8.8.8.0/24,US,Mountain View,37.39',
        '193.0.0.0/16,NL,again,52.37,4.89',
      ].join('\n'),
    );
    const out = join(dir, 'bad.mmdb');
    const r = run('--layout', 'flat', csv, out);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${csv}:3: 193.0.0.1/16 has host bits set; did you mean 193.0.0.0/16?`);
    expect(r.stderr).toContain(`${csv}:4: latitude 91 is outside -90..90`);
    expect(r.stderr).toContain(`${csv}:5: country "India" must be a two-letter ISO 3166-1 code or empty`);
    expect(r.stderr).toContain(`${csv}:6: expected 5 fields (network,country,city,lat,lon), got 4`);
    expect(r.stderr).toContain(`${csv}:7: 193.0.0.0/16 is already given at line 2`);
  });

  it('wants the header', () => {
    const csv = join(dir, 'noheader.csv');
    writeFileSync(csv, '# c\n193.0.0.0/16,NL,Amsterdam,52.37,4.89\n');
    const r = run('--layout', 'flat', csv, join(dir, 'x.mmdb'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${csv}:2: first line must be the header "network,country,city,lat,lon"`);
  });

  it('checks its arguments', () => {
    expect(run('--layout', 'maxmind', 'a.csv', 'b.mmdb')).toMatchObject({ status: 1, stderr: expect.stringContaining('--layout must be geoip2 or flat') });
    expect(run('--layout', 'flat', 'a.csv')).toMatchObject({ status: 1, stderr: expect.stringContaining('need an input CSV and an output file') });
    expect(run('--layout', 'flat', join(dir, 'nope.csv'), join(dir, 'o.mmdb'))).toMatchObject({
      status: 1,
      stderr: expect.stringContaining('nope.csv: ENOENT'),
    });
  });
});
