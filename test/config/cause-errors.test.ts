// One mistake, one error: errors that only follow from another are held back until it is fixed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatConfigError } from '../../src/config/errors.js';
import { loadConfig } from '../../src/server/load-config.js';

const EXAMPLE = path.resolve(import.meta.dirname, '../../zones');
const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true }); });

/** The example zones with one file edited. */
function example(file: string, edit: (text: string) => string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-cause-'));
  dirs.push(dir);
  fs.cpSync(EXAMPLE, dir, { recursive: true });
  const p = path.join(dir, file);
  const before = fs.readFileSync(p, 'utf8');
  const after = edit(before);
  expect(after).not.toBe(before);
  fs.writeFileSync(p, after);
  return dir;
}

const errorsOf = (dir: string) => loadConfig(dir).errors.map(formatConfigError);

describe('errors point at the cause', () => {
  it('the example loads without errors', () => {
    expect(loadConfig(EXAMPLE).errors).toEqual([]);
  });

  it('a broken zone record is one error, not also "no zone file serves" for its steer file', () => {
    const errors = errorsOf(example('gslb.example.com.zone', (t) => t.replace(/IN\s+A\s+127\.0\.0\.1/, 'IN A 999.1.1.1')));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/gslb\.example\.com\.zone:\d+: bad IPv4 address "999\.1\.1\.1"/);
  });

  it('a misspelt region in a pool is one error, not also "has no pool" for every set naming the real one', () => {
    const errors = errorsOf(example('gslb.example.com.steer.yaml', (t) => t.replace('eu-central: [198.51.100.10]', 'eu-centrl: [198.51.100.10]')));
    expect(errors).toEqual([expect.stringMatching(/steer\.yaml:\d+: unknown region "eu-centrl"; regions\.yaml defines: us-east, eu-central/)]);
  });

  it('a duplicate YAML key is one error', () => {
    const errors = errorsOf(example('gslb.example.com.steer.yaml', (t) => t.replace(/( {4}ttl: 30)/, '$1\n    ttl: 40')));
    expect(errors).toEqual([expect.stringMatching(/steer\.yaml:\d+: YAML syntax: Map keys must be unique/)]);
  });

  it('a set naming a region with no pool, with no misspelling anywhere, is still reported', () => {
    const errors = errorsOf(example('gslb.example.com.steer.yaml', (t) => t.replace('      ap-south: [203.0.113.10]\n', '')));
    expect(errors).toEqual([expect.stringMatching(/record set "canary" names region "ap-south", which has no pool/)]);
  });
});
