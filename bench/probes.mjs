#!/usr/bin/env node
// npm run bench:probes: what per-endpoint health checks cost. 10,000 pool endpoints (1,000 hostnames
// x 2 regions x 5 endpoints), each with its own HTTP check at a 5 s interval (2,000 probes/s), against
// HTTP targets on loopback served by this process. The compiled server runs twice on the same zones:
// once with --no-probe, once probing. Each time a paced dnsperf -v run gives DNS latency percentiles
// while the server's CPU (from /proc) and, when probing, probes/s and skipped rounds (from /metrics)
// are measured over the same window. Printed side by side; the ratio within one run is what to read
// on a shared machine. Plain Node ESM, no dependencies. See bench/README.md.

import { fork, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort as sharedFreePort } from './lib/ports.mjs';
import { exitOnHelp, intReader } from './lib/options.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const ZONE = 'probes.test';

const USAGE = `usage: node bench/probes.mjs [--hostnames N] [--per-region N] [--interval MS] [--secs S] [--qps N] [--workers N] [--json FILE]
  --hostnames N    steered hostnames (default 1000), each with a pool in 2 regions
  --per-region N   endpoints per pool (default 5): endpoints = hostnames x 2 x per-region
  --interval MS    probe interval (default 5000); timeout 2000 ms or half the interval
  --secs S         measured window per run (default 10)
  --qps N          paced DNS load during the window (default 5000)
  --workers N      passed to serve (default: the server's own, one DNS worker per core; 1 = probes and DNS share one event loop)
  --json FILE      also write the figures as JSON`;

const { values: opt } = parseArgs({
  options: {
    hostnames: { type: 'string', default: '1000' },
    'per-region': { type: 'string', default: '5' },
    interval: { type: 'string', default: '5000' },
    secs: { type: 'string', default: '10' },
    qps: { type: 'string', default: '5000' },
    workers: { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
    /** Internal: run as the process that serves the HTTP targets. */
    'targets-child': { type: 'boolean', default: false },
  },
});
exitOnHelp(opt, USAGE);
const int = intReader(USAGE);
const HOSTNAMES = int('hostnames', opt.hostnames, 1, 100_000);
const PER_REGION = int('per-region', opt['per-region'], 1, 100);
const INTERVAL_MS = int('interval', opt.interval, 500, 600_000);
const SECS = int('secs', opt.secs, 1, 600);
const QPS = int('qps', opt.qps, 1, 1_000_000);
const WORKERS = opt.workers === undefined ? null : int('workers', opt.workers, 1, 64);
const ENDPOINTS = HOSTNAMES * 2 * PER_REGION;
const TARGET_SERVERS = 4;

if (!fs.existsSync(path.join(ROOT, 'dist/cli.js'))) fail('dist/ is missing: run npm run build first');
if (spawnSync('dnsperf', ['-H'], { encoding: 'utf8' }).error) fail('dnsperf not found (Debian/Ubuntu: apt-get install dnsperf)');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function fail(msg) {
  console.error(`bench:probes: ${msg}`);
  process.exit(1);
}

// ---- targets: HTTP servers on loopback, one path per check, in a child process of their own ---------

const REPLY = 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n';

if (opt['targets-child']) {
  let served = 0;
  const ports = [];
  for (let i = 0; i < TARGET_SERVERS; i++) {
    // A fixed HTTP/1.1 reply written on the first bytes of the request: the probe (a full HTTP client)
    // is what is measured, so the targets spend as little CPU as they can.
    const s = net.createServer((sock) => {
      sock.once('data', () => { served++; sock.end(REPLY); });
      sock.on('error', () => sock.destroy());
    });
    s.listen(0, HOST, () => {
      ports.push(s.address().port);
      if (ports.length === TARGET_SERVERS) process.send({ ports });
    });
  }
  process.on('message', () => process.send({ served }));
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function main() {
const child = fork(fileURLToPath(import.meta.url), ['--targets-child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const { ports } = await new Promise((resolve) => child.once('message', resolve));
const served = () => new Promise((resolve) => { child.once('message', (m) => resolve(m.served)); child.send('count'); });
const targetPort = (i) => ports[i % TARGET_SERVERS];

// ---- zones ------------------------------------------------------------------------------------------

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-bench-probes-'));
fs.writeFileSync(path.join(dir, `${ZONE}.zone`), `$ORIGIN ${ZONE}.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n`);
fs.writeFileSync(path.join(dir, 'regions.yaml'), 'regions:\n  eu-central: { location: { lat: 50.11, lon: 8.68 } }\n  us-east: { location: { lat: 39.04, lon: -77.49 } }\n');
const lines = ['hostnames:'];
let n = 0;
for (let h = 0; h < HOSTNAMES; h++) {
  lines.push(`  h${h}:`, '    pools:');
  for (const [r, region] of ['eu-central', 'us-east'].entries()) {
    lines.push(`      ${region}:`);
    for (let e = 0; e < PER_REGION; e++, n++) {
      const address = `10.${r * 100 + Math.floor(n / 65536) % 100}.${Math.floor(n / 256) % 256}.${n % 256}`;
      lines.push(`        - { address: ${address}, checks: [{ type: http, url: "http://${HOST}:${targetPort(n)}/c/${n}", interval: ${INTERVAL_MS}ms, timeout: ${Math.min(2000, Math.floor(INTERVAL_MS / 2))}ms }] }`);
    }
  }
}
fs.writeFileSync(path.join(dir, `${ZONE}.steer.yaml`), `${lines.join('\n')}\n`);
const queries = path.join(dir, 'queries.txt');
fs.writeFileSync(queries, Array.from({ length: HOSTNAMES }, (_, h) => `h${h}.${ZONE} A`).join('\n') + '\n');

// ---- the server -------------------------------------------------------------------------------------

const freePort = () => sharedFreePort({ host: HOST });

async function startServer(probe) {
  const dnsPort = await freePort();
  const httpPort = await freePort();
  const args = ['bin/regiondns.js', 'serve', '--zones', dir, '--listen', `${HOST}:${dnsPort}`, '--http', `${HOST}:${httpPort}`,
    ...(WORKERS === null ? [] : ['--workers', String(WORKERS)]), '--no-geoip', '--state-dir', 'none', '--ops-open-reads', '--log-level', 'warn', ...(probe ? [] : ['--no-probe'])];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c) => { err += c; });
  child.stdout.resume();
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) fail(`server exited with ${child.exitCode}: ${err}`);
    try {
      const r = await fetch(`http://${HOST}:${httpPort}/readyz`);
      if (r.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) fail('server did not become ready within 120 s');
    await sleep(200);
  }
  return { child, dnsPort, httpPort, stop: () => new Promise((resolve) => { child.once('exit', resolve); child.kill('SIGTERM'); }) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds of a process and its children that have exited, from /proc (Linux). */
function cpuSeconds(pid) {
  const pids = [pid, ...childPids(pid)];
  let ticks = 0;
  for (const p of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch { /* gone */ }
  }
  return ticks / CLK_TCK;
}

function childPids(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function metric(httpPort, re) {
  const text = await (await fetch(`http://${HOST}:${httpPort}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(re)) sum += Number(m[1]);
  return sum;
}
const PROBES = /^regiondns_endpoint_probes_total\{[^}]*\} (\S+)$/gm;
const SKIPPED = /^regiondns_probes_skipped_total\{[^}]*check="endpoint"[^}]*\} (\S+)$/gm;
const DURATION_SUM = /^regiondns_probe_duration_seconds_sum\{[^}]*check="endpoint"[^}]*\} (\S+)$/gm;
const DURATION_COUNT = /^regiondns_probe_duration_seconds_count\{[^}]*check="endpoint"[^}]*\} (\S+)$/gm;

/** Paced dnsperf -v: latency per reply (ms). */
function dnsperf(port) {
  return new Promise((resolve) => {
    const args = ['-s', HOST, '-p', String(port), '-d', queries, '-l', String(SECS), '-Q', String(QPS), '-c', '4', '-v'];
    const child = spawn('timeout', ['-k', '5', String(SECS + 20), 'dnsperf', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c) => { out += c; });
    child.on('exit', () => {
      const lat = [];
      for (const m of out.matchAll(/^> \S+ .* ([\d.]+)$/gm)) lat.push(Number(m[1]) * 1000);
      lat.sort((a, b) => a - b);
      const at = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
      const lost = /Queries lost:\s+(\d+)/.exec(out)?.[1];
      resolve({ replies: lat.length, p50: at(0.5), p99: at(0.99), max: lat.at(-1) ?? NaN, lost: Number(lost ?? NaN) });
    });
  });
}

async function measure(probe) {
  const server = await startServer(probe);
  try {
    if (probe) {
      // Every check has had its first round (spread over the first interval) and the rate is steady.
      console.log(`  probing: waiting ${((INTERVAL_MS * 1.5) / 1000).toFixed(1)} s for every check to be in its cycle…`);
      await sleep(INTERVAL_MS * 1.5);
    } else {
      await sleep(1000);
    }
    const t0 = performance.now();
    const c0 = cpuSeconds(server.child.pid);
    const p0 = probe ? await metric(server.httpPort, PROBES) : 0;
    const s0 = probe ? await metric(server.httpPort, SKIPPED) : 0;
    const served0 = await served();
    const d0 = await metric(server.httpPort, DURATION_SUM);
    const n0 = await metric(server.httpPort, DURATION_COUNT);
    const dns = await dnsperf(server.dnsPort);
    const secs = (performance.now() - t0) / 1000;
    const c1 = cpuSeconds(server.child.pid);
    const p1 = probe ? await metric(server.httpPort, PROBES) : 0;
    const s1 = probe ? await metric(server.httpPort, SKIPPED) : 0;
    const d1 = await metric(server.httpPort, DURATION_SUM);
    const n1 = await metric(server.httpPort, DURATION_COUNT);
    return {
      probe, secs, cpuPct: ((c1 - c0) / secs) * 100, probesPerSec: (p1 - p0) / secs, targetHitsPerSec: ((await served()) - served0) / secs,
      skipped: s1 - s0, probeMs: n1 > n0 ? ((d1 - d0) / (n1 - n0)) * 1000 : NaN, dns,
    };
  } finally {
    await server.stop();
  }
}

console.log(`bench:probes: ${ENDPOINTS} endpoints with HTTP checks every ${INTERVAL_MS} ms (${Math.round((ENDPOINTS * 1000) / INTERVAL_MS)} probes/s expected), ` +
  `${HOSTNAMES} hostnames, ${WORKERS ?? 'default'} worker(s), DNS paced at ${QPS} qps for ${SECS} s; node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg()[0].toFixed(2)}`);
const off = await measure(false);
const on = await measure(true);
child.disconnect();
fs.rmSync(dir, { recursive: true, force: true });

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const rows = [
  ['', 'probes off', 'probes on'],
  ['probes/s (server metric)', '-', fmt(on.probesPerSec, 0)],
  ['target hits/s', fmt(off.targetHitsPerSec, 0), fmt(on.targetHitsPerSec, 0)],
  ['skipped rounds', '-', String(on.skipped)],
  ['probe duration avg ms', '-', fmt(on.probeMs, 1)],
  ['server CPU (% of a core)', fmt(off.cpuPct, 0), fmt(on.cpuPct, 0)],
  ['DNS replies', String(off.dns.replies), String(on.dns.replies)],
  ['DNS lost', String(off.dns.lost), String(on.dns.lost)],
  ['DNS p50 ms', fmt(off.dns.p50, 3), fmt(on.dns.p50, 3)],
  ['DNS p99 ms', fmt(off.dns.p99, 3), fmt(on.dns.p99, 3)],
  ['DNS max ms', fmt(off.dns.max, 3), fmt(on.dns.max, 3)],
];
const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '));
console.log(`p99 ratio on/off: ${fmt(on.dns.p99 / off.dns.p99)}; expected probes/s ${Math.round((ENDPOINTS * 1000) / INTERVAL_MS)}, measured ${fmt(on.probesPerSec, 0)}`);
if (opt.json) fs.writeFileSync(opt.json, JSON.stringify({ endpoints: ENDPOINTS, intervalMs: INTERVAL_MS, qps: QPS, secs: SECS, workers: WORKERS, off, on }, null, 2));
}
