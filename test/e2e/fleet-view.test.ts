// The fleet seen as a whole, through real processes: three `regiondns serve --redis` instances, each
// with its own copy of the zones folder, publish what they serve (presence). `ctl drift` flags an
// instance serving another zone serial and exits 1; `ctl reload` makes every instance reload its own
// files and reports each one (a broken file: that instance's error with file:line, exit 1); an
// instance killed with SIGKILL leaves the list after its TTL; garbage in a presence key is skipped
// and counted; Redis restarted empty gets every presence back within a refresh. Then a Redis-less
// instance reloads itself.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { FLEET_ZONES, GEOIP } from '../helpers/fleet-fixture.js';
import { callApi, until } from '../helpers/ops-api.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { BIN, REPO, startServer, startServers, type ServerProcess } from '../helpers/server-process.js';

const run = promisify(execFile);
const WRITE_TOKEN = 'w-7d1c0b2a3f4e5d6c7b8a9f0e1d2c3b4a';
const ZONE_FILE = 'fleet.test.zone';
const ORIGIN = 'fleet.test.';
/** Presence refreshed every 300 ms: it expires 900 ms after the last refresh. */
const PRESENCE = '300ms';

/** `regiondns ctl …` as a user runs it: a real process, its exit status and output. */
async function ctl(s: ServerProcess, args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [BIN, 'ctl', ...args], {
      cwd: REPO, timeout: 30_000,
      env: { ...process.env, REGIONDNS_SERVER: `http://127.0.0.1:${s.httpPort}`, REGIONDNS_TOKEN: WRITE_TOKEN },
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, out: e.stdout ?? '', err: e.stderr ?? '' };
  }
}

interface DriftInstance { id: string; hash: string; serials: Record<string, number | null>; matches: boolean }
async function drift(s: ServerProcess): Promise<{ inSync: boolean; findings: string[]; instances: DriftInstance[] }> {
  const r = await callApi(s, 'GET', '/v1/drift', undefined, WRITE_TOKEN);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as { inSync: boolean; findings: string[]; instances: DriftInstance[] };
}
const ids = (d: { instances: DriftInstance[] }) => d.instances.map((i) => i.id).sort();

function zoneText(serial: number, www = '192.0.2.80'): string {
  return `$ORIGIN fleet.test.\n$TTL 300\n@    SOA ns1 hostmaster ${serial} 3600 600 86400 60\n@    NS  ns1\nns1  A   127.0.0.1\nwww  A   ${www}\n`;
}

function soaSerial(port: number): number {
  const r = dig(port, [ORIGIN, 'SOA']);
  return Number(r.answer[0]?.[6]);
}

async function redisCli(redis: TestRedis, ...args: string[]): Promise<string> {
  return (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), ...args], { timeout: 10_000 })).stdout.trim();
}

async function metric(s: ServerProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('a fleet of three instances: presence, drift across instances, ctl reload', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'regiondns-fleetview-'));
  let redis: TestRedis | null = null;
  const servers: ServerProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    const tokens = path.join(tmp, 'tokens');
    writeFileSync(tokens, `ops:${WRITE_TOKEN}\n`);
    redis = await startRedis();
    for (const n of [1, 2, 3]) {
      const dir = path.join(tmp, `zones-${n}`);
      cpSync(FLEET_ZONES, dir, { recursive: true });
      dirs.push(dir);
    }
    servers.push(...await startServers([1, 2, 3].map((n) => [
      '--zones', dirs[n - 1], '--geoip', GEOIP, '--redis', redis!.url, '--instance-id', `fleet-${n}`,
      '--ops-tokens', tokens, '--presence-interval', PRESENCE, '--no-probe',
    ])));
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await redis?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const allListed = (s: ServerProcess, want: string[], timeoutMs = 10_000) =>
    until(`drift on ${s.httpPort} lists ${want.join(', ')}`, async () => {
      const d = await drift(s);
      return ids(d).join(',') === want.join(',') ? d : undefined;
    }, timeoutMs, 100);

  it('every instance lists the whole fleet, in sync', async () => {
    for (const s of servers) await allListed(s, ['fleet-1', 'fleet-2', 'fleet-3']);
    const d = await drift(servers[0]);
    expect(d.inSync, d.findings.join('\n')).toBe(true);
    expect(d.instances[0].id).toBe('fleet-1'); // this instance first
    expect(d.instances.every((i) => i.matches && i.serials[ORIGIN] === 1)).toBe(true);
    const r = await ctl(servers[0], ['drift']);
    expect(r, r.err).toMatchObject({ code: 0, out: 'in sync: the fleet does what its files say\n' });
  });

  it('an instance serving a changed zone file is drift (exit 1); after ctl reload with matching files, in sync (exit 0)', async () => {
    const [s1, s2, s3] = servers;
    writeFileSync(path.join(dirs[1], ZONE_FILE), zoneText(2, '192.0.2.81'));
    s2.proc.kill('SIGHUP');
    await until('fleet-2 serves serial 2', () => (soaSerial(s2.port) === 2 ? true : undefined), 10_000, 50);
    const d = await until('drift on fleet-1 sees fleet-2 differ', async () => {
      const x = await drift(s1);
      return x.instances.find((i) => i.id === 'fleet-2')?.serials[ORIGIN] === 2 ? x : undefined;
    }, 10_000, 100);
    expect(d.inSync).toBe(false);
    expect(d.instances.find((i) => i.id === 'fleet-2')!.matches).toBe(false);
    const r = await ctl(s1, ['drift']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^instance: fleet-2 serves other files \(content [0-9a-f]{16}, here [0-9a-f]{16}\): fleet\.test\. serial 2 \(here 1\)$/m);
    // Seen from fleet-2, the other two differ.
    expect((await ctl(s2, ['drift'])).out).toMatch(/instance: fleet-1 serves other files .*serial 1 \(here 2\)[\s\S]*instance: fleet-3 serves other files/);

    // The same files everywhere, then one fleet-wide reload.
    for (const dir of [dirs[0], dirs[2]]) writeFileSync(path.join(dir, ZONE_FILE), zoneText(2, '192.0.2.81'));
    const reload = await ctl(s3, ['reload', '--reason', 'serial 2 everywhere']);
    expect(reload.code, reload.out + reload.err).toBe(0);
    const lines = reload.out.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const id of ['fleet-1', 'fleet-2', 'fleet-3']) {
      expect(lines.find((l) => l.startsWith(id))).toMatch(new RegExp(`^${id}  reloaded: content [0-9a-f]{16}, serials fleet\\.test\\. 2$`));
    }
    for (const s of servers) expect(soaSerial(s.port)).toBe(2);
    const after = await until('drift in sync', async () => ((await ctl(s1, ['drift'])).code === 0 ? true : undefined), 10_000, 100);
    expect(after).toBe(true);
    // Audited, with the token's name and the reason.
    const audit = await callApi(s1, 'GET', '/v1/audit?limit=5', undefined, WRITE_TOKEN);
    expect(audit.body.entries[0]).toMatchObject({ actor: 'ops', action: 'reload', target: 'fleet', reason: 'serial 2 everywhere' });
  }, 60_000);

  it('ctl reload with one instance\'s files broken: that instance\'s error with file:line, exit 1; the others reload', async () => {
    const [s1, s2, s3] = servers;
    writeFileSync(path.join(dirs[0], ZONE_FILE), zoneText(3));
    writeFileSync(path.join(dirs[1], ZONE_FILE), zoneText(3));
    writeFileSync(path.join(dirs[2], ZONE_FILE), `${zoneText(3)}bad  A   300.1.2.3\n`);
    const r = await ctl(s1, ['reload']);
    expect(r.code, r.out + r.err).toBe(1);
    const lines = r.out.trim().split('\n');
    expect(lines.find((l) => l.startsWith('fleet-1'))).toMatch(/reloaded: .*serials fleet\.test\. 3$/);
    expect(lines.find((l) => l.startsWith('fleet-2'))).toMatch(/reloaded: .*serials fleet\.test\. 3$/);
    expect(lines.find((l) => l.startsWith('fleet-3'))).toMatch(new RegExp(`^fleet-3  FAILED, still serving content [0-9a-f]{16}: .*${ZONE_FILE}:7`));
    expect(soaSerial(s1.port)).toBe(3);
    expect(soaSerial(s2.port)).toBe(3);
    expect(soaSerial(s3.port)).toBe(2); // the previous version keeps serving
    const json = await callApi(s2, 'POST', '/v1/reload', {}, WRITE_TOKEN, 30_000);
    expect(json.status).toBe(200);
    expect(json.body).toMatchObject({ ok: false, notReported: [] });
    expect(json.body.instances.find((i: { id: string }) => i.id === 'fleet-3')).toMatchObject({ ok: false, serials: { [ORIGIN]: 2 } });

    writeFileSync(path.join(dirs[2], ZONE_FILE), zoneText(3));
    expect((await ctl(s1, ['reload'])).code).toBe(0);
    expect(soaSerial(s3.port)).toBe(3);
  }, 60_000);

  it('garbage in a presence key is skipped and counted', async () => {
    const s1 = servers[0];
    const before = await metric(s1, 'regiondns_fleet_store_bad_entries_total{namespace="instance"}');
    await redisCli(redis!, 'SET', 'regiondns:instance:bogus', 'not json {', 'PX', '60000');
    await redisCli(redis!, 'SET', 'regiondns:instance:liar', JSON.stringify({ id: 'someone-else', hash: 'x', serials: {}, at: 1, lastReload: null }), 'PX', '60000');
    await redisCli(redis!, 'SET', 'regiondns:instance:shape', JSON.stringify({ id: 'shape', hash: 42 }), 'PX', '60000');
    const d = await drift(s1);
    expect(ids(d)).toEqual(['fleet-1', 'fleet-2', 'fleet-3']);
    expect(d.inSync, d.findings.join('\n')).toBe(true);
    expect(await metric(s1, 'regiondns_fleet_store_bad_entries_total{namespace="instance"}')).toBeGreaterThanOrEqual(before + 3);
    // A reload is not held up by them either.
    expect((await ctl(s1, ['reload'])).code).toBe(0);
    await redisCli(redis!, 'DEL', 'regiondns:instance:bogus', 'regiondns:instance:liar', 'regiondns:instance:shape');

    // A later version that says more is still listed (a fleet mid-upgrade), not counted as bad.
    const counted = await metric(s1, 'regiondns_fleet_store_bad_entries_total{namespace="instance"}');
    await redisCli(redis!, 'SET', 'regiondns:instance:fleet-9', JSON.stringify({ id: 'fleet-9', hash: 'feedfeedfeedfeed', serials: { [ORIGIN]: 1 }, at: 1, lastReload: null, region: 'later' }), 'PX', '60000');
    const withLater = await drift(s1);
    expect(ids(withLater)).toEqual(['fleet-1', 'fleet-2', 'fleet-3', 'fleet-9']);
    expect(await metric(s1, 'regiondns_fleet_store_bad_entries_total{namespace="instance"}')).toBe(counted);
    await redisCli(redis!, 'DEL', 'regiondns:instance:fleet-9');
  }, 60_000);

  it('Redis restarted empty: every presence is back within a refresh of the reconnect', async () => {
    await redisCli(redis!, 'SET', 'fleetview-test:marker', '1');
    await redis!.restartWith('empty');
    expect(await redisCli(redis!, 'EXISTS', 'fleetview-test:marker')).toBe('0'); // it did lose everything
    // The connections reconnect with a backoff of at most 2 s; then one refresh (300 ms) at most.
    await allListed(servers[0], ['fleet-1', 'fleet-2', 'fleet-3'], 8_000);
    await allListed(servers[2], ['fleet-1', 'fleet-2', 'fleet-3'], 8_000);
    // Reloads are audited: they work again once the fleet store has restored its state (503 meanwhile).
    await until('a fleet-wide reload succeeds again', async () => ((await ctl(servers[0], ['reload'])).code === 0 ? true : undefined), 20_000, 200);
  }, 60_000);

  it('an instance killed with SIGKILL leaves the list after its TTL, and a reload no longer waits for it', async () => {
    const [s1, , s3] = servers;
    await allListed(s1, ['fleet-1', 'fleet-2', 'fleet-3']);
    s3.proc.kill('SIGKILL');
    await new Promise<void>((resolve) => (s3.proc.exitCode !== null || s3.proc.signalCode !== null ? resolve() : s3.proc.once('exit', () => resolve())));
    const t0 = Date.now();
    await allListed(s1, ['fleet-1', 'fleet-2'], 5_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const r = await ctl(s1, ['reload']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out.trim().split('\n').map((l) => l.split(' ')[0])).toEqual(['fleet-1', 'fleet-2']);
  }, 60_000);
});

describe('without Redis', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'regiondns-fleetview-solo-'));
  let s: ServerProcess;
  const dir = path.join(tmp, 'zones');

  beforeAll(async () => {
    cpSync(FLEET_ZONES, dir, { recursive: true });
    writeFileSync(path.join(tmp, 'tokens'), `ops:${WRITE_TOKEN}\n`);
    s = await startServer(['--zones', dir, '--geoip', GEOIP, '--instance-id', 'solo-1', '--ops-tokens', path.join(tmp, 'tokens'), '--no-probe']);
  }, 30_000);

  afterAll(async () => {
    await s?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('ctl reload reloads the one instance; drift lists only it', async () => {
    expect(soaSerial(s.port)).toBe(1);
    writeFileSync(path.join(dir, ZONE_FILE), zoneText(7));
    const r = await ctl(s, ['reload']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out.trim()).toMatch(/^solo-1  reloaded: content [0-9a-f]{16}, serials fleet\.test\. 7$/);
    expect(soaSerial(s.port)).toBe(7);
    const d = await drift(s);
    expect(ids(d)).toEqual(['solo-1']);
    expect(readFileSync(path.join(dir, ZONE_FILE), 'utf8')).toContain(' 7 3600');

    writeFileSync(path.join(dir, ZONE_FILE), `${zoneText(8)}oops\n`);
    const bad = await ctl(s, ['reload']);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(new RegExp(`^solo-1  FAILED, still serving content [0-9a-f]{16}: .*${ZONE_FILE}:7`));
    expect(soaSerial(s.port)).toBe(7);
  }, 30_000);

  it('--presence-interval takes a duration with its unit', async () => {
    const r = await run(process.execPath, [BIN, 'serve', '--zones', dir, '--presence-interval', '5'], { cwd: REPO, timeout: 20_000 }).then(
      () => ({ code: 0, err: '' }), (e: { code: number; stderr: string }) => ({ code: e.code, err: e.stderr }));
    expect(r.code).toBe(2);
    expect(r.err).toContain('--presence-interval: "5" has no unit: write 5s, 5m or 5ms');
  });

  it('with --workers 2 the primary reloads, and every worker serves the new files', async () => {
    const wdir = path.join(tmp, 'zones-workers');
    cpSync(FLEET_ZONES, wdir, { recursive: true });
    const w = await startServer(['--zones', wdir, '--geoip', GEOIP, '--instance-id', 'multi-1', '--ops-tokens', path.join(tmp, 'tokens'), '--no-probe', '--workers', '2']);
    try {
      writeFileSync(path.join(wdir, ZONE_FILE), zoneText(9));
      const r = await ctl(w, ['reload']);
      expect(r.code, r.out + r.err).toBe(0);
      expect(r.out.trim()).toMatch(/^multi-1  reloaded: content [0-9a-f]{16}, serials fleet\.test\. 9$/);
      // Each query lands on one worker or the other: twenty in a row all see serial 9.
      await until('every worker serves serial 9', () => {
        for (let i = 0; i < 20; i++) if (soaSerial(w.port) !== 9) return undefined;
        return true;
      }, 10_000, 100);
    } finally {
      await w.stop();
    }
  }, 60_000);
});
