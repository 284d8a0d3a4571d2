#!/usr/bin/env node
// npm run bench:tenants — data residency at scale: a tenants file of N tenants (default 1,000,000),
// how long the server takes to load it and how much more memory it holds than the same zones
// without tenants, then dnsperf qps on random tenant subdomains against two static names of the
// same zone: a short one, and one shaped like the tenant names (same labels and lengths, so the
// codec does the same work). Runs rotate between the workloads; medians are reported.
//   node bench/tenants.mjs [--tenants 1000000] [--names 10000] [--secs 5] [--runs 3] [--workers 1]
//                          [--source file|api] [--keep]
// --source api: the server starts without the file and the tenants go in through
// POST /v1/tenants:import (as a fleet on Redis would hold them); the load time is then the import's.
// Needs dist/ (npm run build), dnsperf and timeout. Loopback only; bounded: each server start 120 s,
// each dnsperf run SECS + 10 s.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseDnsperf } from './lib/dnsperf.mjs';

const REPO = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: {
  tenants: { type: 'string', default: '1000000' },
  secs: { type: 'string', default: '5' },
  runs: { type: 'string', default: '3' },
  workers: { type: 'string', default: '1' },
  names: { type: 'string', default: '10000' },
  source: { type: 'string', default: 'file' },
  keep: { type: 'boolean', default: false },
} });
const N = Number(values.tenants);
const SECS = Number(values.secs);
const RUNS = Number(values.runs);
if (!fs.existsSync(path.join(REPO, 'dist/cli.js'))) { console.error('run `npm run build` first'); process.exit(2); }
if (!(N > 0 && SECS > 0 && RUNS > 0 && RUNS <= 20) || !['file', 'api'].includes(values.source)) {
  console.error('--tenants, --secs > 0; --runs 1..20; --source file or api');
  process.exit(2);
}
const VIA_API = values.source === 'api';
const TOKEN = 'bench-tenants-token-0123456789';

const REGIONS = ['us-east', 'eu-central', 'eu-west'];
const freePort = () => new Promise((resolve) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const slug = (i) => `t${String(i).padStart(7, '0')}`;

/** The zones folder: two static names, and `*.app` with (or without) the tenants file. */
function writeZones(dir, withTenants) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'bench.test.zone'), '$ORIGIN bench.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\nstatic A 192.0.2.7\nh0000042.www A 192.0.2.8\n');
  fs.writeFileSync(path.join(dir, 'regions.yaml'), 'regions:\n  us-east: { location: { lat: 39.04, lon: -77.49 } }\n  eu-central: { location: { lat: 50.11, lon: 8.68 } }\n  eu-west: { location: { lat: 53.35, lon: -6.26 } }\n');
  fs.writeFileSync(path.join(dir, 'bench.test.steer.yaml'), [
    'hostnames:',
    '  "*.app":',
    '    ttl: 60',
    '    pools: { us-east: [192.0.2.20], eu-central: [198.51.100.20], eu-west: [198.51.100.40] }',
    '    tenants:',
    ...(withTenants ? ['      source: tenants.csv'] : []),
    '      residency: { eu-central: [eu-west], us-east: [] }',
    '',
  ].join('\n'));
}

function writeTenants(file) {
  const fd = fs.openSync(file, 'w');
  let buf = 'slug,region\n';
  for (let i = 0; i < N; i++) {
    buf += `${slug(i)},${REGIONS[i % 3]}\n`;
    if (buf.length > 1 << 20) { fs.writeSync(fd, buf); buf = ''; }
  }
  fs.writeSync(fd, buf);
  fs.closeSync(fd);
}

/** --names random tenant names (default 10,000); the static names. */
function writeQueries(dir) {
  let q = '';
  for (let i = 0; i < Number(values.names); i++) q += `${slug(Math.floor(Math.random() * N))}.app.bench.test A\n`;
  fs.writeFileSync(path.join(dir, 'tenants.txt'), q);
  fs.writeFileSync(path.join(dir, 'static.txt'), 'static.bench.test A\n');
  fs.writeFileSync(path.join(dir, 'static-shaped.txt'), 'h0000042.www.bench.test A\n');
}

async function start(zones) {
  const port = await freePort();
  const httpPort = await freePort();
  const tokens = path.join(zones, '..', 'tokens');
  fs.writeFileSync(tokens, `bench:${TOKEN}\n`);
  const t0 = performance.now();
  const proc = spawn(process.execPath, [path.join(REPO, 'bin/regiondns.js'), 'serve', '--zones', zones, '--listen', `127.0.0.1:${port}`,
    '--http', `127.0.0.1:${httpPort}`, '--workers', values.workers, '--state-dir', 'none', '--log-level', 'warn', '--ops-tokens', tokens], { stdio: ['ignore', 'ignore', 'inherit'] });
  let ready = false;
  while (!ready && performance.now() - t0 < 120_000 && proc.exitCode === null) {
    await new Promise((r) => setTimeout(r, 50));
    ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.ok, () => false);
  }
  const loadS = (performance.now() - t0) / 1000;
  if (!ready) { proc.kill('SIGKILL'); throw new Error(`server not ready after ${loadS.toFixed(1)} s`); }
  return { proc, port, httpPort, loadS };
}

/** Resident memory of the server (its primary and workers), MB, from /proc. */
function rssMB(proc) {
  const pids = [proc.pid];
  try { pids.push(...execFileSync('pgrep', ['-P', String(proc.pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number)); } catch { /* no workers */ }
  let kb = 0;
  for (const pid of pids) kb += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

async function stop(s) {
  s.proc.kill('SIGTERM');
  const t = setTimeout(() => s.proc.kill('SIGKILL'), 5_000);
  await new Promise((r) => s.proc.once('exit', r));
  clearTimeout(t);
}

function dnsperf(port, file, secs) {
  const out = execFileSync('timeout', [String(secs + 10), 'dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(secs), '-c', '4', '-T', '1', '-t', '2', '-Q', '500000'], { encoding: 'utf8' });
  const r = parseDnsperf(out);
  return { qps: r?.qps ?? NaN, lost: r?.lost ?? NaN };
}

function dig(port, name) {
  return execFileSync('dig', ['@127.0.0.1', '-p', String(port), '+short', '+time=2', '+tries=1', name, 'A'], { encoding: 'utf8' }).trim();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-bench-tenants-'));
let running = null;
process.on('SIGINT', () => { running?.proc.kill('SIGKILL'); process.exit(130); });
try {
  const plain = path.join(dir, 'plain');
  const tenants = path.join(dir, 'tenants');
  writeZones(plain, false);
  writeZones(tenants, !VIA_API);
  let t = performance.now();
  const csv = path.join(VIA_API ? dir : tenants, 'tenants.csv');
  writeTenants(csv);
  const csvMB = fs.statSync(csv).size / 2 ** 20;
  console.log(`tenants: ${N.toLocaleString('en')} in ${csvMB.toFixed(1)} MB of CSV (written in ${((performance.now() - t) / 1000).toFixed(1)} s); ${values.workers} worker(s); node ${process.version}; ${os.cpus().length} CPUs`);
  writeQueries(dir);

  running = await start(plain);
  const base = { loadS: running.loadS, rss: rssMB(running.proc) };
  await stop(running);

  running = await start(tenants);
  if (VIA_API) {
    t = performance.now();
    const res = await fetch(`http://127.0.0.1:${running.httpPort}/v1/tenants:import`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv' }, body: fs.readFileSync(csv), signal: AbortSignal.timeout(300_000),
    });
    if (!res.ok) throw new Error(`import: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
    running.loadS = (performance.now() - t) / 1000;
    console.log(`import through the API: ${running.loadS.toFixed(2)} s`);
  }
  const withT = { loadS: running.loadS, rss: rssMB(running.proc) };
  // Answers are right before they are timed: tenant i's home is REGIONS[i % 3].
  const expect = { 'us-east': '192.0.2.20', 'eu-central': '198.51.100.20', 'eu-west': '198.51.100.40' };
  for (const i of [0, 1, 2, N - 1]) {
    const got = dig(running.port, `${slug(i)}.app.bench.test`);
    if (got !== expect[REGIONS[i % 3]]) throw new Error(`${slug(i)}: got ${got}, expected ${expect[REGIONS[i % 3]]}`);
  }
  if (dig(running.port, 'static.bench.test') !== '192.0.2.7') throw new Error('static.bench.test: wrong answer');
  if (dig(running.port, 'h0000042.www.bench.test') !== '192.0.2.8') throw new Error('h0000042.www.bench.test: wrong answer');

  if (VIA_API) console.log(`\nload: POST /v1/tenants:import of ${N.toLocaleString('en')} tenants took ${withT.loadS.toFixed(2)} s (server start without the file: ${base.loadS.toFixed(2)} s)`);
  else console.log(`\nload (spawn → /readyz ok): ${withT.loadS.toFixed(2)} s with tenants, ${base.loadS.toFixed(2)} s without: +${(withT.loadS - base.loadS).toFixed(2)} s for the tenants`);
  console.log(`RSS after load: ${withT.rss.toFixed(0)} MB with tenants, ${base.rss.toFixed(0)} MB without: +${(withT.rss - base.rss).toFixed(0)} MB`);

  const files = { static: 'static.txt', 'static-shaped': 'static-shaped.txt', tenant: 'tenants.txt' };
  for (const f of Object.values(files)) dnsperf(running.port, path.join(dir, f), 1); // warm-up
  const runs = { static: [], 'static-shaped': [], tenant: [] };
  const names = Object.keys(files);
  for (let r = 0; r < RUNS; r++) {
    // Rotate the order so drift (CPU frequency, other load) does not favour one.
    for (let k = 0; k < names.length; k++) {
      const w = names[(r + k) % names.length];
      const res = dnsperf(running.port, path.join(dir, files[w]), SECS);
      runs[w].push(res.qps);
      console.log(`  run ${r + 1} ${w.padEnd(13)} ${res.qps.toFixed(0).padStart(8)} qps (lost ${res.lost})`);
    }
  }
  const [s, sh, tq] = names.map((w) => median(runs[w]));
  const pct = (x, y) => `${x / y >= 1 ? '+' : ''}${((x / y - 1) * 100).toFixed(1)}%`;
  console.log(`\nqps (median of ${RUNS} x ${SECS} s, dnsperf -c 4 -T 1 -t 2 -Q 500000):`);
  console.log(`  static.bench.test        ${s.toFixed(0).padStart(8)}`);
  console.log(`  h0000042.www.bench.test  ${sh.toFixed(0).padStart(8)}   (static, shaped like the tenant names)`);
  console.log(`  tenant subdomains        ${tq.toFixed(0).padStart(8)}   (${pct(tq, sh)} vs the shaped static name, ${pct(tq, s)} vs the short one)`);
  console.log(`(the server with tenants answers both; ${Number(values.names).toLocaleString('en')} random tenant names; RSS read from /proc, primary and workers)`);
} finally {
  if (running) await stop(running).catch(() => undefined);
  if (values.keep) console.log(`kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}
