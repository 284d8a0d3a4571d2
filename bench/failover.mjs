#!/usr/bin/env node
// npm run bench:failover: how long from a region's health target failing until the DNS answer
// moves away from it. Real HTTP targets on loopback (one per region), the compiled server with
// health checks at interval 1 s, fall 2, rise 2; the eu-central target starts answering HTTP 500 at
// a random point of its probe cycle and an Amsterdam client (ECS 193.0.0.0/24) is asked every 10 ms
// until its answer changes. Scenarios: one instance (memory store), and two instances sharing a
// private Redis (both probing; one probing and one --no-probe). Plain Node ESM, no dependencies.
// See bench/README.md.

import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort as sharedFreePort } from './lib/ports.mjs';
import { ecsV4, encodeQuery } from './lib/dns-query.mjs';
import { exitOnHelp, intReader } from './lib/options.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const GEOIP = 'geo/fixtures/world-geoip2.mmdb';
const ZONE = 'failover.test';
const QNAME = `api.${ZONE}`;
const ADDR = { 'us-east': '192.0.2.10', 'eu-central': '198.51.100.10', 'ap-south': '203.0.113.10' };
const POLL_MS = 10;
/** Longest wait for one failover or one recovery before the trial counts as lost. */
const TRIAL_LIMIT_MS = 15_000;

const USAGE = `usage: node bench/failover.mjs [--trials N] [--interval MS] [--fall N] [--rise N] [--scenarios a,b] [--json FILE]
  --trials N       trials per scenario (default 10)
  --interval MS    probe interval (default 1000); timeout is half of it
  --fall N         failures in a row to go down (default 2); --rise N passes to come back (default 2)
  --scenarios      single,redis-both-probe,redis-one-probe (default: all; the Redis ones need redis-server)
  --json FILE      also write every trial and the summary as JSON`;

// ---- options ----------------------------------------------------------------------------------

const { values: opt } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    interval: { type: 'string', default: '1000' },
    fall: { type: 'string', default: '2' },
    rise: { type: 'string', default: '2' },
    scenarios: { type: 'string', default: 'single,redis-both-probe,redis-one-probe' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
exitOnHelp(opt, USAGE);
const int = intReader(USAGE);
const TRIALS = int('trials', opt.trials, 1, 1000);
const INTERVAL_MS = int('interval', opt.interval, 100, 60_000);
const FALL = int('fall', opt.fall, 1, 100);
const RISE = int('rise', opt.rise, 1, 100);
const TIMEOUT_MS = Math.floor(INTERVAL_MS / 2);
/** The failover budget: fall probes at most one interval apart, plus 250 ms to reach the answer. */
const TARGET_MS = INTERVAL_MS * FALL + 250;

const SCENARIOS = {
  single: { what: '1 instance, memory store', redis: false, instances: [{ probe: true }] },
  'redis-both-probe': { what: '2 instances, Redis, both probing', redis: true, instances: [{ probe: true }, { probe: true }] },
  'redis-one-probe': { what: '2 instances, Redis, one probing + one --no-probe', redis: true, instances: [{ probe: true }, { probe: false }] },
};
const chosen = opt.scenarios.split(',').map((s) => s.trim()).filter(Boolean);
for (const s of chosen) {
  if (!(s in SCENARIOS)) {
    console.error(`unknown scenario "${s}"\n${USAGE}`);
    process.exit(2);
  }
}

if (!fs.existsSync(path.join(ROOT, 'dist/cli.js'))) {
  console.error('dist/cli.js not found: run `npm run build` first (the benchmark measures the compiled server)');
  process.exit(1);
}

// ---- cleanup: no child outlives the benchmark ---------------------------------------------------

const children = new Set();
const tempDirs = new Set();
function cleanupNow() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
}
process.once('exit', cleanupNow);
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => { cleanupNow(); process.exit(130); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- ports, targets, Redis, servers ---------------------------------------------------------------

/** A port free for both TCP and UDP on 127.0.0.1 (the server binds both). */
const freePort = () => sharedFreePort({ host: HOST });

/** An HTTP health target: 200 while healthy, 500 while failing. */
async function startTarget() {
  const t = { failing: false, server: null, port: 0, url: '' };
  t.server = http.createServer((_req, res) => {
    if (t.failing) res.writeHead(500).end('failing\n');
    else res.end('ok\n');
  });
  await new Promise((resolve, reject) => {
    t.server.once('error', reject);
    t.server.listen(0, HOST, resolve);
  });
  t.port = t.server.address().port;
  t.url = `http://${HOST}:${t.port}/healthz`;
  return t;
}

async function closeTarget(t) {
  const closed = new Promise((resolve) => t.server.close(resolve));
  t.server.closeAllConnections();
  await closed;
}

function hasRedis() {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A private redis-server on a free loopback port (never 6379), no persistence. */
async function startRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-bench-redis-'));
  tempDirs.add(dir);
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const proc = spawn('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
    children.add(proc);
    proc.once('exit', () => children.delete(proc));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && proc.exitCode === null) {
      if (await redisPing(port)) {
        return {
          url: `redis://${HOST}:${port}`,
          stop: async () => {
            await stopChild(proc);
            fs.rmSync(dir, { recursive: true, force: true });
            tempDirs.delete(dir);
          },
        };
      }
      await sleep(25);
    }
    await stopChild(proc);
  }
  throw new Error('redis-server did not start');
}

function redisPing(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: HOST });
    let buf = '';
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (c) => {
      buf += c.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

async function stopChild(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(t);
}

/** The zones folder: one steered name, a health check per region against its target. */
function writeZones(targets) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-bench-failover-'));
  tempDirs.add(dir);
  fs.writeFileSync(path.join(dir, `${ZONE}.zone`), [
    `$ORIGIN ${ZONE}.`, '$TTL 300', '@    SOA ns1 hostmaster 1 3600 600 86400 60', '@    NS  ns1', 'ns1  A   127.0.0.1', '',
  ].join('\n'));
  fs.writeFileSync(path.join(dir, `${ZONE}.steer.yaml`), [
    'hostnames:', '  api:', '    ttl: 5', '    answers: 1', '    pools:',
    ...Object.entries(ADDR).map(([r, a]) => `      ${r}: [${a}]`), '',
  ].join('\n'));
  const loc = { 'us-east': '{ lat: 39.04, lon: -77.49 }', 'eu-central': '{ lat: 50.11, lon: 8.68 }', 'ap-south': '{ lat: 19.08, lon: 72.88 }' };
  fs.writeFileSync(path.join(dir, 'regions.yaml'), [
    'regions:',
    ...Object.keys(ADDR).flatMap((r) => [
      `  ${r}:`, `    location: ${loc[r]}`, '    checks:',
      `      - { name: healthz, type: http, url: "${targets[r].url}", expect: 200, interval: ${INTERVAL_MS}ms, timeout: ${TIMEOUT_MS}ms, rise: ${RISE}, fall: ${FALL} }`,
    ]), '',
  ].join('\n'));
  return dir;
}

/** `regiondns serve` on free ports; resolves once it logs "listening". */
async function startServe(zones, { redis, probe, id }) {
  const port = await freePort();
  const httpPort = await freePort();
  const args = [path.join(ROOT, 'bin/regiondns.js'), 'serve', '--zones', zones, '--listen', `${HOST}:${port}`, '--http', `${HOST}:${httpPort}`,
    '--geoip', GEOIP, '--ops-open-reads', '--instance-id', id,
    ...(redis ? ['--redis', redis] : ['--state-dir', 'none']), ...(probe ? [] : ['--no-probe'])];
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (c) => { stderr = (stderr + c).slice(-4000); });
  const ready = new Promise((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => reject(new Error(`${id} did not log "listening" within 20 s: ${stderr}`)), 20_000);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${id} exited with ${code}: ${stderr}`)); });
    proc.stdout.setEncoding('utf8').on('data', (chunk) => {
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.includes('"listening"')) { clearTimeout(timer); resolve(); }
      }
    });
  });
  try {
    await ready;
  } catch (err) {
    await stopChild(proc);
    throw err;
  }
  return { id, port, httpPort, stop: () => stopChild(proc) };
}

// ---- DNS: the query bytes and the answer -----------------------------------------------------------

/** `api.failover.test A` with EDNS and ECS 193.0.0.0/24 (Amsterdam), written out by hand. */
/** An A query for QNAME with ECS 193.0.0.0/24 (RFC 7871 §6), so steering sees a client in Europe. */
function query(id) {
  return encodeQuery({ id, name: QNAME, options: [ecsV4([193, 0, 0, 0], 24)] });
}

/** Skips a (possibly compressed) name; returns the offset after it. */
function skipName(buf, off) {
  for (let i = 0; i < 128 && off < buf.length; i++) {
    const len = buf[off];
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2;
    off += 1 + len;
  }
  throw new Error('bad name in reply');
}

/** The first A record of a reply, dotted; null when none. */
function firstA(buf, id) {
  if (buf.length < 12 || buf.readUInt16BE(0) !== id || (buf[3] & 0x0f) !== 0) return null;
  const an = buf.readUInt16BE(6);
  let off = skipName(buf, 12) + 4;
  for (let i = 0; i < an; i++) {
    off = skipName(buf, off);
    const type = buf.readUInt16BE(off);
    const rdlen = buf.readUInt16BE(off + 8);
    off += 10;
    if (type === 1 && rdlen === 4) return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
    off += rdlen;
  }
  return null;
}

/** One UDP socket per instance; ask() sends one query and waits (up to 200 ms) for its reply. */
function resolver(port) {
  const sock = dgram.createSocket('udp4');
  let nextId = Math.floor(Math.random() * 65536);
  let waiting = null;
  sock.on('message', (msg) => {
    if (waiting && msg.length >= 2 && msg.readUInt16BE(0) === waiting.id) {
      const w = waiting;
      waiting = null;
      clearTimeout(w.timer);
      w.resolve(firstA(msg, w.id));
    }
  });
  return {
    ask() {
      const id = (nextId = (nextId + 1) & 0xffff);
      return new Promise((resolve) => {
        const timer = setTimeout(() => { waiting = null; resolve(undefined); }, 200);
        waiting = { id, resolve, timer };
        sock.send(query(id), port, HOST);
      });
    },
    close: () => sock.close(),
  };
}

/**
 * Asks every instance every POLL_MS until each has answered something other than `from` (or, with
 * `to`, exactly `to`); resolves with each instance's first time (ms since `t0`), null on timeout.
 */
async function pollUntil(resolvers, t0, pred) {
  const deadline = t0 + TRIAL_LIMIT_MS;
  return Promise.all(resolvers.map(async (r) => {
    for (let i = 0; i < TRIAL_LIMIT_MS / POLL_MS + 100; i++) {
      const tick = performance.now();
      if (pred(await r.ask())) return performance.now() - t0;
      if (performance.now() > deadline) return null;
      await sleep(Math.max(0, POLL_MS - (performance.now() - tick)));
    }
    return null;
  }));
}

/** Every instance that probes (and every fresh voter it knows) has eu-central's check up again. */
async function probersSettled(servers, probers) {
  for (const s of servers) {
    try {
      const res = await fetch(`http://${HOST}:${s.httpPort}/v1/health`);
      const check = (await res.json()).regions['eu-central'].checks.healthz;
      const fresh = check.voters.filter((v) => v.fresh);
      if (fresh.length !== probers || !fresh.every((v) => v.up) || (check.local && !check.local.up)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

// ---- one scenario ---------------------------------------------------------------------------------

async function runScenario(name) {
  const sc = SCENARIOS[name];
  const targets = {};
  for (const r of Object.keys(ADDR)) targets[r] = await startTarget();
  const zones = writeZones(targets);
  const redis = sc.redis ? await startRedis() : null;
  const servers = [];
  const resolvers = [];
  const trials = [];
  try {
    for (const [i, inst] of sc.instances.entries()) servers.push(await startServe(zones, { redis: redis?.url, probe: inst.probe, id: `${name}-${i + 1}` }));
    for (const s of servers) resolvers.push(resolver(s.port));
    const probers = sc.instances.filter((i) => i.probe).length;
    const eu = ADDR['eu-central'];

    for (let n = 0; n < TRIALS; n++) {
      // Steady state: every instance answers eu-central and every prober has seen it healthy.
      const settleFrom = performance.now();
      const back = await pollUntil(resolvers, settleFrom, (a) => a === eu);
      if (back.includes(null)) throw new Error(`trial ${n + 1}: eu-central not answered within ${TRIAL_LIMIT_MS} ms before the trial`);
      for (let i = 0; i < 1000 && !(await probersSettled(servers, probers)); i++) {
        if (performance.now() - settleFrom > TRIAL_LIMIT_MS) throw new Error(`trial ${n + 1}: probers did not all see eu-central up`);
        await sleep(50);
      }
      // A random point in the probe cycle.
      await sleep(Math.random() * INTERVAL_MS);
      targets['eu-central'].failing = true;
      const t0 = performance.now();
      const each = await pollUntil(resolvers, t0, (a) => a !== undefined && a !== eu);
      const all = each.includes(null) ? null : Math.max(...each);
      trials.push({ allMs: all, eachMs: each });
      const shown = each.map((ms) => (ms === null ? 'timeout' : `${(ms / 1000).toFixed(3)} s`)).join(', ');
      process.stdout.write(`  ${name} trial ${String(n + 1).padStart(2)}: ${shown}\n`);
      targets['eu-central'].failing = false;
    }
  } finally {
    for (const r of resolvers) r.close();
    await Promise.all(servers.map((s) => s.stop()));
    await redis?.stop();
    await Promise.all(Object.values(targets).map(closeTarget));
    fs.rmSync(zones, { recursive: true, force: true });
    tempDirs.delete(zones);
  }
  return { name, what: sc.what, trials };
}

/** Nearest-rank percentile. */
function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

// ---- main -----------------------------------------------------------------------------------------

const started = performance.now();
console.log(`failover: probe interval ${INTERVAL_MS} ms (timeout ${TIMEOUT_MS} ms, jitter ±10%), fall ${FALL}, rise ${RISE}; ${TRIALS} trials per scenario`);
console.log(`target: p95 ≤ interval × fall + 250 ms = ${(TARGET_MS / 1000).toFixed(2)} s from the target failing to the answer changing (on every instance)`);
const results = [];
for (const name of chosen) {
  if (SCENARIOS[name].redis && !hasRedis()) {
    console.log(`  ${name}: skipped (redis-server not found; Debian: apt-get install redis-server)`);
    continue;
  }
  results.push(await runScenario(name));
}

console.log('');
console.log(`${'scenario'.padEnd(18)} ${'what'.padEnd(48)} ${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'max'.padStart(8)}  result`);
const summary = [];
for (const r of results) {
  const ok = r.trials.map((t) => t.allMs).filter((ms) => ms !== null).sort((a, b) => a - b);
  const lost = r.trials.length - ok.length;
  const p50 = ok.length ? pct(ok, 50) : null;
  const p95 = ok.length ? pct(ok, 95) : null;
  const max = ok.length ? ok[ok.length - 1] : null;
  const pass = lost === 0 && p95 !== null && p95 <= TARGET_MS;
  const s = (ms) => (ms === null ? 'n/a' : `${(ms / 1000).toFixed(3)}s`).padStart(8);
  console.log(`${r.name.padEnd(18)} ${r.what.padEnd(48)} ${s(p50)} ${s(p95)} ${s(max)}  ${pass ? 'PASS' : 'MISS'}${lost ? ` (${lost} trials timed out)` : ''}`);
  summary.push({ scenario: r.name, what: r.what, p50Ms: p50, p95Ms: p95, maxMs: max, lost, pass });
}
console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s in all)`);

if (opt.json) {
  fs.writeFileSync(opt.json, JSON.stringify({
    intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS, fall: FALL, rise: RISE, trials: TRIALS, targetMs: TARGET_MS,
    node: process.version, summary, results,
  }, null, 2));
}
