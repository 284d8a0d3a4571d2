// The command line as a newcomer meets it, through real processes: every command's --help lists
// every option, a mistyped option gets the closest valid one, an old Node is named, `plan` says
// what a new configuration changes, and `npm start`'s defaults give way to flags.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECK_HELP, CHECK_OPTIONS, EXPLAIN_HELP, EXPLAIN_OPTIONS, PROBE_HELP, PROBE_OPTIONS, SERVE_HELP, SERVE_OPTIONS } from '../../src/cli.js';
import { undocumented } from '../../src/cli/options.js';
import { PLAN_HELP, PLAN_OPTIONS } from '../../src/plan/command.js';
import { BIN, REPO, startServer } from '../helpers/server-process.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-help-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], nodeArgs: string[] = []) {
  const r = spawnSync(process.execPath, [...nodeArgs, BIN, ...args], { cwd: REPO, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('--help', () => {
  it.each([
    ['serve', SERVE_OPTIONS, SERVE_HELP], ['check', CHECK_OPTIONS, CHECK_HELP], ['explain', EXPLAIN_OPTIONS, EXPLAIN_HELP],
    ['probe', PROBE_OPTIONS, PROBE_HELP], ['plan', PLAN_OPTIONS, PLAN_HELP],
  ] as const)('%s --help lists every option it takes, and exits 0', (cmd, options, help) => {
    expect(undocumented(options, help)).toEqual([]);
    const r = run([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(help);
  });

  it('the top-level help names every command and how to get its help', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of ['serve', 'check', 'explain', 'plan', 'probe', 'ctl']) expect(r.out).toMatch(new RegExp(`^  regiondns ${cmd} `, 'm'));
    expect(r.out).toContain('regiondns serve --help');
  });
});

describe('mistakes', () => {
  it('an unknown option gets the closest valid one and the usage line, exit 2', () => {
    const r = run(['serve', '--port', '5353']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^unknown option --port; did you mean --listen\?\nusage: regiondns serve \[--zones DIR\]/);
    expect(r.err).toContain('(regiondns serve --help lists every option)');
    expect(run(['serve', '--zone', 'x']).err).toMatch(/did you mean --zones\?/);
    expect(run(['explain', 'x', '--clinet', '1.2.3.4']).err).toMatch(/did you mean --client\?/);
  });

  it('an unknown command gets the closest one', () => {
    const r = run(['serv']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^unknown command "serv"; did you mean serve\?/);
  });

  it('a missing value is named', () => {
    const r = run(['explain', 'api.gslb.example.com']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/explain takes one HOSTNAME and --client IP\[\/PREFIX\]/);
  });
});

describe('Node.js version', () => {
  it('on a Node older than 22, the command says which one it found and how to get Node 24', () => {
    const pretend20 = `data:text/javascript,Object.defineProperty(process.versions,'node',{value:'20.11.0'});Object.defineProperty(process,'version',{value:'v20.11.0'})`;
    const r = run(['check', 'zones'], ['--import', pretend20]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^regiondns needs Node\.js 22\.13 or newer; this is v20\.11\.0 \(/);
    expect(r.err).toContain('Install Node.js 24');
    expect(r.out).toBe('');
  });

  it('npm refuses to install on an unsupported Node (engine-strict), and package.json says >=22', () => {
    expect(fs.readFileSync(path.join(REPO, '.npmrc'), 'utf8')).toMatch(/^engine-strict=true$/m);
    expect(JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).engines.node).toBe('>=22.13');
  });
});

describe('explain from the files', () => {
  it('says first that it ignores drains, health and overrides, and labels the health columns', () => {
    const r = run(['explain', 'api.gslb.example.com', '--client', '193.0.0.0/24', '--geoip', 'geo/fixtures/world-geoip2.mmdb']);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('from the files alone (no drains, health or runtime overrides); what the fleet answers now: regiondns ctl explain api.gslb.example.com --client 193.0.0.0/24');
    expect(r.out).toMatch(/health:\n {2}REGION {6}STATE {2}WHY\n {2}us-east {5}up {5}up\n/);
  });
});

describe('plan', () => {
  const copy = (): string => {
    const dir = fs.mkdtempSync(path.join(tmp, 'zones-'));
    fs.cpSync(path.join(REPO, 'zones'), dir, { recursive: true });
    return dir;
  };

  it('no change: exit 0', () => {
    const r = run(['plan', '--zones', copy(), '--against', 'zones']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('no change: every hostname answers as before');
  });

  it('a new region in a record set: which countries move, the weights and the pool, exit 2', () => {
    const dir = copy();
    const file = path.join(dir, 'gslb.example.com.steer.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8')
      .replace('      ap-south: [203.0.113.10]\n    split:', '      ap-south: [203.0.113.10]\n      eu-west: [198.51.100.40]\n    split:')
      .replace('{ name: stable, weight: 99.9, regions: [us-east, eu-central] }', '{ name: stable, weight: 99, regions: [us-east, eu-central, eu-west] }')
      .replace('{ name: canary, weight: 0.1,  regions: [us-east, eu-central, ap-south] }', '{ name: canary, weight: 1,  regions: [us-east, eu-central, ap-south] }'));
    const r = run(['plan', '--zones', dir, '--against', 'zones']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('api.gslb.example.com. changed');
    expect(r.out).toContain('record set stable: weight 99.9 → 99 (99.9% → 99% of answers)');
    expect(r.out).toContain('record set canary: weight 0.1 → 1 (0.1% → 1% of answers)');
    expect(r.out).toContain('+ pool eu-west: 198.51.100.40');
    expect(r.out).toMatch(/set stable: eu-central: 198\.51\.100\.10 {2}→ {2}eu-west: 198\.51\.100\.40\n {6}\d+ countries: .*Ireland.*United Kingdom/);
    expect(r.out).not.toMatch(/Germany/); // Frankfurt stays nearer
    const json = JSON.parse(run(['plan', '--zones', dir, '--against', 'zones', '--json']).out);
    expect(json.hostnames[0].populations[0]).toMatchObject({ set: 'stable', to: 'eu-west: 198.51.100.40' });
  });

  it('a broken new configuration: its errors, exit 1', () => {
    const dir = copy();
    fs.appendFileSync(path.join(dir, 'gslb.example.com.zone'), 'bad IN A 300.1.1.1\n');
    const r = run(['plan', '--zones', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/gslb\.example\.com\.zone:\d+: bad IPv4 address/);
  });
});

describe('flags beat defaults', () => {
  it('npm start runs serve with no --listen of its own, so `npm start -- --listen X` serves X only', async () => {
    expect(JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).scripts.start).toBe('node bin/regiondns.js serve');
    const server = await startServer(['--zones', 'zones', '--no-geoip']);
    try {
      const line = server.logs.find((l) => l.msg === 'listening') as { dns: string[] };
      expect(line.dns).toEqual([`127.0.0.1:${server.port}`]);
    } finally {
      await server.stop();
    }
  });
});
