#!/usr/bin/env node
// npm run bench:store — the local state database (--state-dir) at scale, with N API tenants
// (default 1,000,000):
//   1. import: a server (one process, empty state directory) takes N tenants through
//      POST /v1/tenants:import; the import's time and the server's RSS growth (RSS settled after it,
//      minus RSS before it);
//   2. start-up: the server restarted on that directory, time to `listening` (and the store's own
//      load time from its log line);
//   3. one write: the store opened in this process on the same directory, W single-tenant writes
//      (each a transaction with fsync), p50/p99/max; and the longest event-loop stall seen meanwhile.
//   node bench/store.mjs [--tenants 1000000] [--writes 500] [--keep]
// Needs dist/ (npm run build). Loopback only; bounded: each server start 120 s, the import 300 s.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const REPO = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: {
  tenants: { type: 'string', default: '1000000' },
  writes: { type: 'string', default: '500' },
  keep: { type: 'boolean', default: false },
} });
const N = Number(values.tenants);
const W = Number(values.writes);
if (!fs.existsSync(path.join(REPO, 'dist/cli.js'))) { console.error('run `npm run build` first'); process.exit(2); }
if (!(N > 0 && W > 0 && W <= 100_000)) { console.error('--tenants > 0, --writes 1..100000'); process.exit(2); }
const { MemoryStore } = await import(path.join(REPO, 'dist/state/memory-store.js'));

const TOKEN = 'bench-store-token-0123456789abcdef';
const REGIONS = ['us-east', 'eu-central', 'eu-west'];
const slug = (i) => `t${String(i).padStart(7, '0')}`;
const freePort = () => new Promise((resolve) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-bench-store-'));
const zones = path.join(work, 'zones');
const stateDir = path.join(work, 'state');
fs.mkdirSync(zones);
fs.writeFileSync(path.join(zones, 'bench.test.zone'), '$ORIGIN bench.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n');
fs.writeFileSync(path.join(zones, 'regions.yaml'), 'regions:\n  us-east: { location: { lat: 39.04, lon: -77.49 } }\n  eu-central: { location: { lat: 50.11, lon: 8.68 } }\n  eu-west: { location: { lat: 53.35, lon: -6.26 } }\n');
fs.writeFileSync(path.join(zones, 'bench.test.steer.yaml'), 'hostnames:\n  "*.app":\n    ttl: 60\n    pools: { us-east: [192.0.2.20], eu-central: [198.51.100.20], eu-west: [198.51.100.40] }\n    tenants:\n      residency: { eu-central: [eu-west], us-east: [] }\n');
const tokens = path.join(work, 'tokens');
fs.writeFileSync(tokens, `bench:${TOKEN}\n`);

async function start() {
  const port = await freePort();
  const httpPort = await freePort();
  const t0 = performance.now();
  const proc = spawn(process.execPath, [path.join(REPO, 'bin/regiondns.js'), 'serve', '--zones', zones, '--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`,
    '--workers', '1', '--no-geoip', '--no-probe', '--state-dir', stateDir, '--ops-tokens', tokens], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let listeningMs = null;
  let loadMs = null;
  proc.stdout.setEncoding('utf8').on('data', (c) => {
    out += c;
    for (let nl; (nl = out.indexOf('\n')) >= 0; out = out.slice(nl + 1)) {
      try {
        const l = JSON.parse(out.slice(0, nl));
        if (l.msg === 'local state loaded') loadMs = l.ms;
        if (l.msg === 'listening') listeningMs = performance.now() - t0;
      } catch { /* not a log line */ }
    }
  });
  while (listeningMs === null && performance.now() - t0 < 120_000 && proc.exitCode === null) await sleep(20);
  if (listeningMs === null) { proc.kill('SIGKILL'); throw new Error('server did not start'); }
  return { proc, httpPort, listeningMs, loadMs: () => loadMs };
}

/** V8 heap used and total of the server, MB, from its /metrics. */
async function heapMB(httpPort) {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const v = (name) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 1048576;
  return `heap ${v('regiondns_nodejs_heap_size_used_bytes').toFixed(0)} MB used of ${v('regiondns_nodejs_heap_size_total_bytes').toFixed(0)} MB`;
}

/** CPU seconds (user + system) a process has used: beside wall times, which a busy machine stretches. */
function cpuS(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function rssMB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

async function stop(s) {
  s.proc.kill('SIGTERM');
  const t = setTimeout(() => s.proc.kill('SIGKILL'), 30_000);
  await new Promise((r) => s.proc.once('exit', r));
  clearTimeout(t);
}

/** RSS once it stops moving (V8 gives the import's garbage back when idle): after 5 s, then stable over 2 s; at most 30 s. */
async function settledRss(pid) {
  await sleep(5_000);
  let last = rssMB(pid);
  for (let i = 0; i < 12; i++) {
    await sleep(2_000);
    const now = rssMB(pid);
    if (Math.abs(now - last) < 2) return now;
    last = now;
  }
  return last;
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const results = [];
try {
  // 1. The import.
  let csv = '';
  for (let i = 0; i < N; i++) csv += `${slug(i)},${REGIONS[i % 3]}\n`;
  const s1 = await start();
  await sleep(1000);
  const rssBefore = await settledRss(s1.proc.pid);
  const cpu0 = cpuS(s1.proc.pid);
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${s1.httpPort}/v1/tenants:import`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv' }, body: csv, signal: AbortSignal.timeout(300_000),
  });
  const importS = (performance.now() - t0) / 1000;
  const importCpu = cpuS(s1.proc.pid) - cpu0;
  const body = await res.json();
  if (res.status !== 200) throw new Error(`import answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  csv = '';
  const rssAfter = await settledRss(s1.proc.pid);
  results.push(['API import of N tenants', `${importS.toFixed(2)} s (server CPU ${importCpu.toFixed(2)} s)`, '≤ 10 s']);
  results.push(['RSS growth after the import', `${(rssAfter - rssBefore).toFixed(0)} MB (${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MB; ${await heapMB(s1.httpPort)})`, '≤ 300 MB']);
  await stop(s1);

  // 2. Start-up with N stored.
  const s2 = await start();
  results.push(['start-up with N stored (spawn → listening)', `${(s2.listeningMs / 1000).toFixed(2)} s (store load ${s2.loadMs()} ms; CPU ${cpuS(s2.proc.pid).toFixed(2)} s)`, '≤ 3 s']);
  await sleep(2000);
  results.push(['RSS after start-up with N stored', `${rssMB(s2.proc.pid).toFixed(0)} MB (${await heapMB(s2.httpPort)})`, '']);
  await stop(s2);

  // 3. Single-row writes, in this process, with N stored.
  const store = new MemoryStore({ stateDir });
  await store.start();
  if (store.get('tenant').size !== N) throw new Error(`store holds ${store.get('tenant').size} tenants, not ${N}`);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const times = [];
  const cpuTimes = [];
  for (let i = 0; i < W; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    await store.write([{ ns: 'tenant', key: slug((i * 7919) % N), value: { region: REGIONS[(i + 1) % 3], by: 'bench', at: Date.now() } }],
      { actor: 'bench', action: 'tenant.set', target: slug(i), reason: null, before: null, after: null });
    times.push(performance.now() - t);
    const cu = process.cpuUsage(c);
    cpuTimes.push((cu.user + cu.system) / 1000);
    if (i % 10 === 0) await sleep(1); // let the loop monitor see turns between writes
  }
  loop.disable();
  await store.close();
  times.sort((a, b) => a - b);
  cpuTimes.sort((a, b) => a - b);
  results.push([`one write (W = ${W}, fsync each)`, `p50 ${pct(times, 0.5).toFixed(2)} ms, p99 ${pct(times, 0.99).toFixed(2)} ms, max ${times[times.length - 1].toFixed(2)} ms`, 'p99 ≤ 5 ms']);
  results.push(['CPU per write (this process)', `p50 ${pct(cpuTimes, 0.5).toFixed(2)} ms, p99 ${pct(cpuTimes, 0.99).toFixed(2)} ms`, '']);
  results.push(['longest event-loop stall during the writes', `${(loop.max / 1e6).toFixed(2)} ms`, '']);
} finally {
  if (!values.keep) fs.rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}

const w = Math.max(...results.map((r) => r[0].length));
console.log(`\nlocal state database, N = ${N.toLocaleString('en')} API tenants (${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}: on a busy machine read the CPU figures)`);
for (const [what, value, goal] of results) console.log(`  ${what.padEnd(w)}  ${value}${goal ? `   (goal ${goal})` : ''}`);
