// The two UDP engines side by side, on bench/zones: CPU and system calls per query over a fixed
// number of queries, latency percentiles from a paced run, and the resident memory of `npm start`.
//
//   npm run build && node bench/udp-engine.mjs [--engines batch,dgram] [--workers 2] [--queries 200000]
//
// Per engine it starts `regiondns serve --udp-engine E --workers N` on free loopback ports, then:
//   1. cpu: dnsperf sends --queries `www.gslb.test A` at a fixed rate (--rate, default 40,000/s, so both
//      engines do the same work at the same pace); the server's CPU (utime + stime of the primary and
//      its workers, /proc/PID/stat) over the run, divided by the replies.
//   2. syscalls: `strace -c -f` attached to the server (every thread) during --strace-queries queries at
//      --strace-rate/s (default 5,000: strace slows every call), total calls / replies. Batches grow
//      with the rate, so the batch engine's figure falls as load rises; try --strace-rate 40000.
//   3. latency: dnsperf -v paced at 20,000 qps for 4 s, p50 / p99 of the per-reply latencies.
//   4. rss: the sum of VmRSS over the server's processes, once after 1) (warm).
// And once: the RSS of `npm start` (its command line: zones/, default workers, bundled DB-IP), at
// rest (the reload process gone) and right after start-up.
// Everything on 127.0.0.1; every child is stopped by its pid. Needs dnsperf and strace.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort as sharedFreePort } from './lib/ports.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');
const HOST = '127.0.0.1';
const { values: o } = parseArgs({
  options: {
    engines: { type: 'string', default: 'batch,dgram' },
    workers: { type: 'string', default: '2' },
    queries: { type: 'string', default: '200000' },
    rate: { type: 'string', default: '40000' },
    'strace-queries': { type: 'string', default: '20000' },
    'strace-rate': { type: 'string', default: '5000' },
    'skip-npm-start': { type: 'boolean', default: false },
  },
});
const QUERIES = Number(o.queries);
const RATE = Number(o.rate);
const STRACE_QUERIES = Number(o['strace-queries']);
const STRACE_RATE = Number(o['strace-rate']);
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function pidsOf(root) {
  const out = [root];
  for (const p of out) {
    try {
      for (const t of fs.readdirSync(`/proc/${p}/task`)) {
        const kids = fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch { /* gone */ }
  }
  return [...new Set(out)];
}
const cpuSeconds = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / TICK; // utime, stime
};
const treeCpu = (pid) => pidsOf(pid).reduce((s, p) => { try { return s + cpuSeconds(p); } catch { return s; } }, 0);
const treeRssMb = (pid) => pidsOf(pid).reduce((s, p) => {
  try { return s + Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))[1]) / 1024; } catch { return s; }
}, 0);

const freePort = () => sharedFreePort({ host: HOST, avoid: new Set([15401, 15402, 15410]) });

async function startServer(args) {
  const port = await freePort();
  const http = await freePort();
  const child = spawn(process.execPath, ['bin/regiondns.js', 'serve', '--listen', `${HOST}:${port}`, '--http', `${HOST}:${http}`, '--state-dir', 'none', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const deadline = Date.now() + 30_000;
  while (!/"msg":"listening"/.test(log)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start: ${log.slice(-500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const engines = [...log.matchAll(/"msg":"UDP engine: (\w+)"/g)].map((m) => m[1]);
  return {
    port, child, engines,
    stop: () => new Promise((resolve) => { child.once('exit', resolve); child.kill('SIGTERM'); setTimeout(() => child.kill('SIGKILL'), 5000).unref(); }),
  };
}

/** dnsperf over `n` queries of www.gslb.test A at `rate`/s; returns replies and its output. */
function dnsperf(port, n, rate, extra = []) {
  const secs = Math.ceil(n / rate) + 5;
  const r = spawnSync('timeout', [String(secs + 20), 'dnsperf', '-s', HOST, '-p', String(port), '-d', path.join(ROOT, 'bench/queries/www.txt'),
    '-n', String(n), '-l', String(secs), '-c', '4', '-T', '1', '-t', '2', '-Q', String(rate), ...extra], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const completed = Number(/Queries completed:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  return { completed, out: r.stdout };
}

async function measure(engine) {
  const s = await startServer(['--zones', 'bench/zones', '--workers', o.workers, '--udp-engine', engine]);
  try {
    dnsperf(s.port, 20000, RATE); // warm-up: JIT
    const c0 = treeCpu(s.child.pid);
    const cpuRun = dnsperf(s.port, QUERIES, RATE);
    const cpu = treeCpu(s.child.pid) - c0;
    const rss = treeRssMb(s.child.pid);

    // The workers are threads of the server process: `strace -f -p` attaches every thread (the
    // reload process, a child, is idle and leaves after 5 s).
    const targets = ['-p', String(s.child.pid)];
    const summary = path.join(fs.mkdtempSync('/tmp/regiondns-strace-'), 'strace.txt');
    const st = spawn('strace', ['-c', '-f', '-o', summary, ...targets], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1000)); // attached
    const traced = dnsperf(s.port, STRACE_QUERIES, STRACE_RATE);
    st.kill('SIGINT');
    await new Promise((r) => st.once('exit', r));
    const text = fs.readFileSync(summary, 'utf8');
    fs.rmSync(path.dirname(summary), { recursive: true, force: true });
    // strace -c: "% time  seconds  usecs/call  calls  errors  syscall"; the last line is the total.
    const totalLine = text.split('\n').find((l) => /\stotal\s*$/.test(l)) ?? '';
    const total = Number(totalLine.trim().split(/\s+/)[3]);
    const top = text.split('\n').filter((l) => /^\s*\d/.test(l) && !/total/.test(l)).slice(0, 4).map((l) => { const f = l.trim().split(/\s+/); return `${f[f.length - 1]} ${f[3]}`; });

    const paced = dnsperf(s.port, 80000, 20000, ['-v']);
    const lat = [...paced.out.matchAll(/^> \S+ .* ([\d.]+)$/gm)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
    const at = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    return {
      engine, running: s.engines.join('/'), replies: cpuRun.completed,
      cpuUsPerQuery: (cpu / cpuRun.completed) * 1e6,
      syscallsPerQuery: total / traced.completed, straceTop: top,
      p50: at(0.5), p99: at(0.99), pacedReplies: lat.length, rssMb: rss,
    };
  } finally {
    await s.stop();
  }
}

const results = [];
for (const e of o.engines.split(',')) {
  const r = await measure(e);
  results.push(r);
  console.log(`${e.padEnd(6)} engine ${r.running}: ${r.cpuUsPerQuery.toFixed(1)} µs CPU/query over ${r.replies} replies at ${RATE}/s; `
    + `${r.syscallsPerQuery.toFixed(2)} syscalls/query (strace -c -f, ${STRACE_QUERIES} queries at ${STRACE_RATE}/s; top: ${r.straceTop.join(', ')}); `
    + `paced 20000 qps: p50 ${r.p50?.toFixed(3)} ms, p99 ${r.p99?.toFixed(3)} ms (${r.pacedReplies} replies); RSS ${r.rssMb.toFixed(0)} MB (--workers ${o.workers}, bench/zones)`);
}
if (!o['skip-npm-start']) {
  for (const e of o.engines.split(',')) {
    // `npm start` is `node bin/regiondns.js serve --zones zones --listen 127.0.0.1:5353`: the same here, on a free port.
    const s = await startServer(['--zones', 'zones', '--udp-engine', e]);
    dnsperf(s.port, 20000, 20000);
    const early = `${treeRssMb(s.child.pid).toFixed(0)} MB over ${pidsOf(s.child.pid).length} processes`;
    // At rest: the reload process that loaded the zones ends after 5 s idle (config-process.ts).
    await new Promise((r) => setTimeout(r, 6_000));
    console.log(`npm start (${e}, default workers, bundled DB-IP): RSS at rest ${treeRssMb(s.child.pid).toFixed(0)} MB over ${pidsOf(s.child.pid).length} processes (right after start-up: ${early})`);
    await s.stop();
  }
}
console.log(`load average: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
