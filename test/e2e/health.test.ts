// End to end health: real HTTP targets on loopback that the test turns healthy, failing (HTTP 500),
// closed (connection refused) or hanging (timeout); a real server steering `dig +subnet=` answers
// around them; and a fleet of three `regiondns probe` processes voting through a private Redis.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealthReport } from '../../src/health/report.js';
import { dig } from '../helpers/dig.js';
import { buildQuery, ecsOption, parse, udpExchange } from '../helpers/dns-client.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { BIN, REPO, startServer, type ServerProcess } from '../helpers/server-process.js';
import { untilOk } from '../helpers/ops-api.js';
import { listenLoopback } from '../helpers/ports.js';

const TEMPLATE = path.resolve(import.meta.dirname, 'health-zones');
const GEOIP = path.join(REPO, 'geo/fixtures/world-geoip2.mmdb');
const HOST = 'api.health.test';
/** Amsterdam in the fixture database: eu-central first, then us-east (6,208 km), then ap-south (6,853 km). */
const AMSTERDAM = '193.0.0.0/24';
const ADDR = { 'us-east': '192.0.2.10', 'eu-central': '198.51.100.10', 'ap-south': '203.0.113.10' } as const;
const INTERVAL_MS = 300;
const TIMEOUT_MS = 150;

// ---- HTTP targets the test controls ---------------------------------------------------------------

type Mode = 'ok' | 'fail' | 'hang' | 'closed';

class Target {
  mode: Mode = 'ok';
  private hanging = new Set<http.ServerResponse>();
  private readonly server = http.createServer((_req, res) => {
    if (this.mode === 'fail') res.writeHead(500).end('failing\n');
    else if (this.mode === 'hang') this.hanging.add(res); // answered never: the probe times out
    else res.end('ok\n');
  });
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/healthz`;
  }

  async start(): Promise<this> {
    await this.listen(0);
    return this;
  }

  async set(mode: Mode): Promise<void> {
    if (mode === this.mode) return;
    if (this.mode === 'hang') this.releaseHung();
    if (mode === 'closed') await this.close();
    if (this.mode === 'closed') await this.listen(this.port); // the same port again
    this.mode = mode;
  }

  async close(): Promise<void> {
    this.releaseHung();
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private releaseHung(): void {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }

  private async listen(port: number): Promise<void> {
    this.port = await listenLoopback(this.server, port);
  }
}

// ---- zones, processes, polling --------------------------------------------------------------------

const tempDirs: string[] = [];

/** A copy of the template folder with regions.yaml pointing at these targets. */
function zonesDir(urls: { us: string; eu: string; ap: string }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-health-'));
  tempDirs.push(dir);
  for (const f of fs.readdirSync(TEMPLATE)) if (f !== 'regions.yaml.template') fs.copyFileSync(path.join(TEMPLATE, f), path.join(dir, f));
  const text = fs.readFileSync(path.join(TEMPLATE, 'regions.yaml.template'), 'utf8')
    .replaceAll('@US_URL@', urls.us).replaceAll('@EU_URL@', urls.eu).replaceAll('@AP_URL@', urls.ap)
    .replaceAll('@INTERVAL@', `${INTERVAL_MS}ms`).replaceAll('@TIMEOUT@', `${TIMEOUT_MS}ms`);
  fs.writeFileSync(path.join(dir, 'regions.yaml'), text);
  return dir;
}


/** The address answered to an Amsterdam client (async, so the targets in this process keep answering). */
async function answer(port: number): Promise<string | undefined> {
  const reply = await udpExchange(port, buildQuery(HOST, 'A', { edns: { options: [ecsOption(AMSTERDAM)] } }));
  return (parse(reply).answers as { address?: string }[])[0]?.address;
}

/** The same question through the real dig, to confirm a state reached by polling. */
function digAnswer(port: number): string | undefined {
  const r = dig(port, [HOST, 'A', `+subnet=${AMSTERDAM}`]);
  expect(r.status).toBe('NOERROR');
  return r.answer[0]?.[4];
}

async function healthOf(httpPort: number): Promise<HealthReport> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/v1/health`);
  expect(res.status).toBe(200);
  return (await res.json()) as HealthReport;
}

async function metrics(httpPort: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
}

function metricLine(name: string, region: string): RegExp {
  return new RegExp(`^${name}\\{(?=[^}]*region="${region}")(?=[^}]*check="healthz")[^}]*\\} (\\S+)$`, 'm');
}

interface ProberProcess {
  id: string;
  proc: ChildProcess;
  logs: Record<string, unknown>[];
  stop(): Promise<number | null>;
}

/** `regiondns probe`: serves no DNS, logs JSON lines; ready once it logs "probing". */
async function startProber(zones: string, redisUrl: string, id: string): Promise<ProberProcess> {
  const proc = spawn(process.execPath, [BIN, 'probe', '--zones', zones, '--redis', redisUrl, '--instance-id', id], {
    cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let pending = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      try { logs.push(JSON.parse(pending.slice(0, nl)) as Record<string, unknown>); } catch { /* not a log line */ }
      pending = pending.slice(nl + 1);
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<number | null> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  try {
    await untilOk(`prober ${id} starts`, () => proc.exitCode ?? logs.some((l) => l.msg === 'probing'), (v) => v === true || typeof v === 'number', 15_000);
    if (proc.exitCode !== null) throw new Error(`exited with ${proc.exitCode}`);
  } catch (err) {
    await stop();
    throw new Error(`prober ${id}: ${(err as Error).message}; stderr: ${stderr}`);
  }
  return { id, proc, logs, stop };
}

// ---- one server probing its own targets ---------------------------------------------------------

describe('health checks steer answers (one instance, memory store)', () => {
  const targets = { us: new Target(), eu: new Target(), ap: new Target() };
  let server: ServerProcess;
  let dir: string;

  beforeAll(async () => {
    await Promise.all(Object.values(targets).map((t) => t.start()));
    dir = zonesDir({ us: targets.us.url, eu: targets.eu.url, ap: targets.ap.url });
    server = await startServer(['--zones', dir, '--geoip', GEOIP, '--ops-open-reads']);
  });
  afterAll(async () => {
    await server?.stop();
    await Promise.all(Object.values(targets).map((t) => t.close()));
  });

  const transitions = (to: 'up' | 'down') => server.logs.filter((l) => l.msg === `check eu-central/healthz is ${to}`);

  it('a healthy eu-central answers Amsterdam', async () => {
    // Every check has run at least once: no region is waiting on its first probe.
    await untilOk('every check probed', () => healthOf(server.httpPort), (h) =>
      Object.values(h.regions).every((r) => (r.checks.healthz.local?.recent.length ?? 0) > 0));
    expect(digAnswer(server.port)).toBe(ADDR['eu-central']);
  });

  it('HTTP 500: down after fall 2, answers move to us-east (next nearest), metrics and log say why; back after rise 2', async () => {
    const t0 = Date.now();
    await targets.eu.set('fail');
    await untilOk('answer leaves eu-central', () => answer(server.port), (a) => a !== ADDR['eu-central']);
    const took = Date.now() - t0;
    // fall 2 at 300 ms (±10%): two failing probes, the first within one interval (bench/failover.mjs measures it).
    expect(took).toBeLessThan(2_000);
    expect(digAnswer(server.port)).toBe(ADDR['us-east']);

    const h = await healthOf(server.httpPort);
    const eu = h.regions['eu-central'];
    expect(eu.operational).toBe(false);
    expect(eu.reason).toMatch(/^down: eu-central\/healthz HTTP 500/);
    expect(eu.checks.healthz).toMatchObject({ up: false, stale: false, fall: 2, rise: 2, intervalMs: INTERVAL_MS, target: `GET ${targets.eu.url}` });
    expect(eu.checks.healthz.cause).toContain('HTTP 500');
    expect(eu.checks.healthz.local?.recent[0]).toMatchObject({ ok: false, cause: 'HTTP 500 (expected 200)' });
    expect(h.regions['us-east'].operational).toBe(true);
    expect(h.regions['ap-south'].operational).toBe(true);

    expect(transitions('down').at(-1)).toMatchObject({ region: 'eu-central', check: 'eu-central/healthz', from: 'up', to: 'down', cause: 'HTTP 500 (expected 200)' });
    const m = await metrics(server.httpPort);
    expect(metricLine('regiondns_check_up', 'eu-central').exec(m)?.[1]).toBe('0');
    expect(metricLine('regiondns_check_up', 'us-east').exec(m)?.[1]).toBe('1');
    expect(/^regiondns_region_operational\{region="eu-central"\} 0$/m.test(m)).toBe(true);

    await targets.eu.set('ok');
    await untilOk('answer back to eu-central', () => answer(server.port), (a) => a === ADDR['eu-central']);
    expect(digAnswer(server.port)).toBe(ADDR['eu-central']);
    expect(transitions('up').at(-1)).toMatchObject({ from: 'down', to: 'up', cause: 'HTTP 200' });
    expect(metricLine('regiondns_check_up', 'eu-central').exec(await metrics(server.httpPort))?.[1]).toBe('1');
  });

  it.each([
    ['closed', 'connection refused', /^connection refused$/],
    ['hang', 'timeout', new RegExp(`^timeout after ${TIMEOUT_MS} ms$`)],
  ] as const)('target %s → down with cause "%s", and back', async (mode, _name, cause) => {
    const downs = transitions('down').length;
    await targets.eu.set(mode);
    await untilOk('answer leaves eu-central', () => answer(server.port), (a) => a !== ADDR['eu-central']);
    expect(digAnswer(server.port)).toBe(ADDR['us-east']);
    const check = (await healthOf(server.httpPort)).regions['eu-central'].checks.healthz;
    expect(check.up).toBe(false);
    expect(check.cause).toMatch(new RegExp(cause.source.replace(/\$$/, '')));
    expect(check.local?.recent[0].cause).toMatch(cause);
    // The log line is read from the server's stdout, which can trail the answer it caused.
    await untilOk('the transition logged', () => transitions('down').length, (n) => n >= downs + 1, 5_000);
    const line = transitions('down').at(-1)!;
    expect(transitions('down').length).toBe(downs + 1);
    expect(String(line.cause)).toMatch(cause);

    await targets.eu.set('ok');
    await untilOk('answer back to eu-central', () => answer(server.port), (a) => a === ADDR['eu-central']);
  });

  it('a reload that adds a failing check probes it and moves the answers; one that removes it brings them back', async () => {
    const extra = await new Target().start();
    await extra.set('fail');
    const regions = path.join(dir, 'regions.yaml');
    const before = fs.readFileSync(regions, 'utf8');
    try {
      // eu-central's check line again, named extra and aimed at the failing target.
      const withExtra = before.split('\n').flatMap((line) =>
        line.includes(`url: "${targets.eu.url}"`) ? [line, line.replace('name: healthz', 'name: extra').replace(targets.eu.url, extra.url)] : [line]).join('\n');
      expect(withExtra).toContain(extra.url);
      fs.writeFileSync(regions, withExtra);
      server.proc.kill('SIGHUP');
      await untilOk('answer leaves eu-central', () => answer(server.port), (a) => a !== ADDR['eu-central']);
      const h = (await healthOf(server.httpPort)).regions['eu-central'];
      expect(h.operational).toBe(false);
      expect(h.checks.extra).toMatchObject({ up: false, target: `GET ${extra.url}` });
      expect(h.checks.extra.local?.recent[0]).toMatchObject({ ok: false, cause: 'HTTP 500 (expected 200)' });

      fs.writeFileSync(regions, before);
      server.proc.kill('SIGHUP');
      await untilOk('answer back to eu-central', () => answer(server.port), (a) => a === ADDR['eu-central']);
      expect(Object.keys((await healthOf(server.httpPort)).regions['eu-central'].checks)).toEqual(['healthz']);
    } finally {
      fs.writeFileSync(regions, before);
      await extra.close();
    }
  });
});

// ---- three probers, one DNS instance, one Redis --------------------------------------------------

describe('quorum: three probers vote through Redis, a --no-probe instance answers', () => {
  const shared = { us: new Target(), ap: new Target() };
  /** Each prober's own view of eu-central. */
  const eu = [new Target(), new Target(), new Target()];
  const probers: ProberProcess[] = [];
  let redis: TestRedis | undefined;
  let dns: ServerProcess;

  beforeAll(async () => {
    await Promise.all([...Object.values(shared), ...eu].map((t) => t.start()));
    redis = await startRedis();
    // The DNS instance does not probe: its check URL only has to name the same check id.
    const dnsDir = zonesDir({ us: shared.us.url, eu: eu[0].url, ap: shared.ap.url });
    dns = await startServer(['--zones', dnsDir, '--redis', redis.url, '--instance-id', 'dns1', '--no-probe', '--ops-open-reads', '--geoip', GEOIP]);
    const started = await Promise.allSettled(eu.map((t, i) =>
      startProber(zonesDir({ us: shared.us.url, eu: t.url, ap: shared.ap.url }), redis!.url, `p${i + 1}`)));
    for (const s of started) if (s.status === 'fulfilled') probers.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  });
  afterAll(async () => {
    await Promise.allSettled(probers.map((p) => p.stop()));
    await dns?.stop();
    await redis?.stop();
    await Promise.all([...Object.values(shared), ...eu].map((t) => t.close()));
  });

  const euCheck = async () => (await healthOf(dns.httpPort)).regions['eu-central'].checks.healthz;
  const voter = (c: Awaited<ReturnType<typeof euCheck>>, id: string) => c.voters.find((v) => v.prober === id);

  it('three fresh voters, all up; the DNS instance has no local view', async () => {
    const c = await untilOk('three fresh up voters', euCheck, (c) => c.voters.filter((v) => v.fresh && v.up).length === 3);
    expect(c).toMatchObject({ up: true, stale: false, local: null, cause: 'HTTP 200 (3 of 3 probers)' });
    expect(c.voters.map((v) => v.prober)).toEqual(['p1', 'p2', 'p3']);
    expect((await healthOf(dns.httpPort)).prober).toBeNull();
    expect(digAnswer(dns.port)).toBe(ADDR['eu-central']);
  });

  it('1 of 3 failing: the region stays up (no majority)', async () => {
    await eu[0].set('fail');
    const c = await untilOk('p1 votes down', euCheck, (c) => voter(c, 'p1')?.up === false && voter(c, 'p1')!.fresh);
    expect(c.up).toBe(true);
    expect(c.cause).toBe('HTTP 200 (2 of 3 probers)');
    expect(voter(c, 'p1')!.cause).toMatch(/^HTTP 500/);
    // Several intervals later it still holds.
    for (let i = 0; i < 5; i++) {
      expect(await answer(dns.port)).toBe(ADDR['eu-central']);
      await new Promise((r) => setTimeout(r, INTERVAL_MS));
    }
    expect((await euCheck()).up).toBe(true);
  });

  it('2 of 3 failing: down and answers move; back to 1 of 3: up again', async () => {
    await eu[1].set('fail');
    await untilOk('answer leaves eu-central', () => answer(dns.port), (a) => a !== ADDR['eu-central']);
    expect(digAnswer(dns.port)).toBe(ADDR['us-east']);
    const c = await euCheck();
    expect(c.up).toBe(false);
    expect(c.cause).toBe('HTTP 500 (expected 200) (2 of 3 probers)');
    expect((await healthOf(dns.httpPort)).regions['eu-central'].reason).toBe('down: eu-central/healthz HTTP 500 (expected 200) (2 of 3 probers)');

    await eu[1].set('ok');
    await untilOk('answer back to eu-central', () => answer(dns.port), (a) => a === ADDR['eu-central']);
    expect((await euCheck()).cause).toBe('HTTP 200 (2 of 3 probers)');
  });

  it('stale verdicts do not vote: with the two failing probers stopped, the last fresh one decides', async () => {
    await eu[1].set('fail');
    await untilOk('answer leaves eu-central', () => answer(dns.port), (a) => a !== ADDR['eu-central']);
    await Promise.all([probers[0].stop(), probers[1].stop()]);
    // After 3 × interval their verdicts are stale: listed with fresh: false, and p3 (target healthy) alone says up.
    const c = await untilOk('p1 and p2 stale', euCheck, (c) => c.up && ['p1', 'p2'].every((id) => voter(c, id)?.fresh === false), 10_000, 20);
    expect(c).toMatchObject({ stale: false, cause: 'HTTP 200 (1 of 1 probers)' });
    expect(c.voters.map((v) => [v.prober, v.fresh, v.up])).toEqual([['p3', true, true], ['p1', false, false], ['p2', false, false]]);
    for (const id of ['p1', 'p2']) {
      expect(voter(c, id)!.cause).toMatch(/^HTTP 500/);
      expect(voter(c, id)!.ageMs).toBeGreaterThan(3 * INTERVAL_MS);
    }
    await untilOk('answer back to eu-central', () => answer(dns.port), (a) => a === ADDR['eu-central']);
    expect(digAnswer(dns.port)).toBe(ADDR['eu-central']);
  });

  it('every prober stopped: the last state holds (down here) and the check is stale', async () => {
    await eu[2].set('fail');
    await untilOk('answer leaves eu-central', () => answer(dns.port), (a) => a !== ADDR['eu-central']);
    expect((await euCheck()).cause).toBe('HTTP 500 (expected 200) (1 of 1 probers)');
    await probers[2].stop();
    const c = await untilOk('no fresh voter left', euCheck, (c) => c.stale, 10_000);
    expect(c.up).toBe(false);
    expect(c.cause).toBe('HTTP 500 (expected 200) (1 of 1 probers)');
    expect(c.voters.filter((v) => v.fresh)).toEqual([]);
    expect(voter(c, 'p3')).toMatchObject({ fresh: false, up: false }); // the last word, shown
    const region = (await healthOf(dns.httpPort)).regions['eu-central'];
    expect(region).toMatchObject({ operational: false, stale: true });
    expect(region.reason).toContain('stale: no fresh verdict');
    await untilOk('regiondns_check_stale is 1', () => metrics(dns.httpPort), (m) => metricLine('regiondns_check_stale', 'eu-central').exec(m)?.[1] === '1', 5_000, 100);
    // Held, not reverted to the initial "up", for several intervals.
    for (let i = 0; i < 4; i++) {
      expect(await answer(dns.port)).toBe(ADDR['us-east']);
      await new Promise((r) => setTimeout(r, INTERVAL_MS));
    }
    expect(digAnswer(dns.port)).toBe(ADDR['us-east']);
  });
});

afterAll(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});
