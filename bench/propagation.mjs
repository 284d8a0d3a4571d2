#!/usr/bin/env node
// npm run bench:propagation: how long a change made through the ops API of one instance takes to
// steer the DNS answers of a whole fleet. Starts a private redis-server and three compiled
// `regiondns serve --redis` instances on free loopback ports (bench/zones), then alternates
// drain / undrain of eu-central (one instance's API after another) and, from the moment the API
// call returns, polls all three instances over UDP (ECS 193.0.0.0/24, Amsterdam) every ~1 ms until
// each answers the new way. Prints p50 / p95 / max over the trials against the target p95 < 100 ms.
// With --workers N every instance runs N DNS workers, and an instance counts as switched once each
// of its workers (told apart by NSID, RFC 5001) has answered the new way.
// Plain Node ESM, no dependencies. See bench/README.md.

import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort as sharedFreePort } from './lib/ports.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const ZONES = path.join(ROOT, 'bench/zones');
// The fixture database: small, loads in milliseconds, places 193.0.0.0/24 in Amsterdam.
const GEOIP = path.join(ROOT, 'geo/fixtures/world-flat.mmdb');
const QNAME = 'www.gslb.test';
const REGION = 'eu-central';
const ANSWER = { undrained: '198.51.100.1', drained: '192.0.2.1' }; // eu-central, else us-east
const TARGET_P95_MS = 100;
const INSTANCES = 3;
const POLL_MS = 1;
/** A poll not answered within this long is given up, and the next one goes out. */
const LOST_MS = 200;
const TRIAL_TIMEOUT_MS = 5_000;
const RUN_BUDGET_MS = 110_000; // the whole run, start-up included; then everything is killed
const TOKEN = `bench-${Math.random().toString(16).slice(2)}${Math.random().toString(16).slice(2)}`;

const { values: opts } = parseArgs({
  options: {
    trials: { type: 'string', default: '20' },
    workers: { type: 'string', default: '1' },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (opts.help) {
  console.log('usage: npm run bench:propagation [-- --trials N (20; 2-200)] [--workers N (1; 1-8)] [--json FILE]');
  process.exit(0);
}
const TRIALS = Number(opts.trials);
const WORKERS = Number(opts.workers);
if (!Number.isInteger(TRIALS) || TRIALS < 2 || TRIALS > 200) usage('--trials takes an integer from 2 to 200');
if (!Number.isInteger(WORKERS) || WORKERS < 1 || WORKERS > 8) usage('--workers takes an integer from 1 to 8');

function usage(message) {
  console.error(message);
  process.exit(2);
}

// ---- processes, and cleaning up after them whatever happens -----------------------------------

const children = new Set();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-propagation-'));
let cleaned = false;

async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await Promise.all([...children].map((c) => stopChild(c)));
  fs.rmSync(tmp, { recursive: true, force: true });
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

process.once('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => { void cleanup().finally(() => process.exit(130)); });
}
const watchdog = setTimeout(() => {
  console.error(`!!! the run took longer than ${RUN_BUDGET_MS / 1000} s: stopping`);
  void cleanup().finally(() => process.exit(1));
}, RUN_BUDGET_MS);
watchdog.unref();

function track(child, what) {
  children.add(child);
  let output = '';
  const keep = (c) => { output = (output + c.toString()).slice(-4_000); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', (code, signal) => {
    children.delete(child);
    if (!cleaned) console.error(`!!! ${what} exited (${code ?? signal}) during the run:\n${output}`);
  });
  return { output: () => output };
}

/** A port free for both TCP and UDP on 127.0.0.1 (the server binds both on one port). */
const freePort = () => sharedFreePort({ host: HOST });

async function waitFor(what, check, timeoutMs, everyMs = 25) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function redisPing(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: HOST });
    let buf = '';
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (c) => { buf += c; if (buf.includes('\r\n')) done(buf.startsWith('+PONG')); });
  });
}

/** A private redis-server: its own port and data dir, no persistence, never 6379. */
async function startRedis() {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(tmp, 'redis-'));
    const child = spawn('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const spawnError = new Promise((resolve) => child.once('error', resolve));
    const t = track(child, 'redis-server');
    try {
      await Promise.race([
        waitFor(`redis-server on port ${port}`, () => redisPing(port), 10_000),
        spawnError.then((err) => { throw new Error(`cannot start redis-server (is it installed?): ${err.message}`); }),
      ]);
      return { port, url: `redis://${HOST}:${port}` };
    } catch (err) {
      await stopChild(child);
      if (attempt >= 3) throw new Error(`${err.message}\n${t.output()}`);
    }
  }
}

async function startInstance(n, redisUrl, tokensFile) {
  const port = await freePort();
  const httpPort = await freePort();
  const args = [
    path.join(ROOT, 'bin/regiondns.js'), 'serve', '--zones', ZONES, '--geoip', GEOIP,
    '--listen', `${HOST}:${port}`, '--http', `${HOST}:${httpPort}`, '--workers', String(WORKERS),
    ...(WORKERS > 1 ? ['--reuse-port', '--nsid', 'auto'] : []),
    '--redis', redisUrl, '--instance-id', `bench-${n}`, '--ops-tokens', tokensFile, '--log-level', 'warn',
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const t = track(child, `instance ${n}`);
  try {
    await waitFor(`instance ${n} ready`, async () => {
      if (child.exitCode !== null) throw new Error('exited');
      const res = await fetch(`http://${HOST}:${httpPort}/readyz`, { signal: AbortSignal.timeout(1_000) });
      return res.ok && (await res.json()).status === 'ok';
    }, 20_000, 50);
  } catch (err) {
    throw new Error(`instance ${n} did not start: ${err.message}\n${t.output()}`);
  }
  return { n, port, httpPort };
}

// ---- DNS over UDP, bytes written by hand --------------------------------------------------------

const QUESTION = Buffer.from([...QNAME.split('.').flatMap((l) => [l.length, ...Buffer.from(l, 'ascii')]), 0, 0, 1, 0, 1]);
// ECS 193.0.0.0/24 (RFC 7871 §6: family 1, source 24, scope 0, 3 address bytes); NSID request (RFC 5001: empty).
const ECS = [0, 8, 0, 7, 0, 1, 24, 0, 193, 0, 0];
const NSID = WORKERS > 1 ? [0, 3, 0, 0] : [];
const OPT = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, ECS.length + NSID.length, ...ECS, ...NSID]); // udp 1232

/** An A query with the OPT above (QD 1, AR 1, RD clear). */
function query(id) {
  return Buffer.concat([Buffer.from([id >> 8, id & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]), QUESTION, OPT]);
}

function skipName(buf, o) {
  for (;;) {
    const len = buf[o];
    if (len === undefined) throw new Error('truncated name');
    if ((len & 0xc0) === 0xc0) return o + 2;
    if (len === 0) return o + 1;
    o += len + 1;
  }
}

/** The first A record of a reply and its NSID (or ''), by walking every section. */
function readReply(buf) {
  let a = null;
  let nsid = '';
  if (buf.length < 12 || (buf[3] & 0x0f) !== 0) return { a, nsid };
  const counts = [buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)];
  let o = skipName(buf, 12) + 4;
  for (let section = 0; section < 3; section++) {
    for (let i = 0; i < counts[section]; i++) {
      o = skipName(buf, o);
      const type = buf.readUInt16BE(o);
      const rdlen = buf.readUInt16BE(o + 8);
      o += 10;
      if (type === 1 && rdlen === 4 && section === 0 && a === null) a = `${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}`;
      if (type === 41) {
        for (let p = o; p + 4 <= o + rdlen;) {
          const code = buf.readUInt16BE(p);
          const len = buf.readUInt16BE(p + 2);
          if (code === 3) nsid = buf.subarray(p + 4, p + 4 + len).toString('utf8');
          p += 4 + len;
        }
      }
      o += rdlen;
    }
  }
  return { a, nsid };
}

/** A UDP client socket on 127.0.0.1, tagged with its index. */
function openSocket(index) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, HOST, () => resolve(Object.assign(s, { index })));
  });
}

/** One query and its reply (or null after LOST_MS). */
function ask(sock, port, id) {
  return new Promise((resolve) => {
    const onMessage = (msg, rinfo) => {
      if (rinfo.port !== port || msg.length < 2 || msg.readUInt16BE(0) !== id) return;
      clearTimeout(timer);
      sock.off('message', onMessage);
      resolve(readReply(msg));
    };
    const timer = setTimeout(() => { sock.off('message', onMessage); resolve(null); }, LOST_MS);
    sock.on('message', onMessage);
    sock.send(query(id), port, HOST);
  });
}

/**
 * For each instance, a client socket that reaches each of its workers. SO_REUSEPORT sends a given
 * source port to the same worker every time, so a trial can poll every worker directly. Opens more
 * sockets until every worker has one (bounded).
 */
async function discoverWorkers(sockets, instances) {
  const routes = new Map(instances.map((i) => [i.port, new Map()])); // port → nsid → socket
  let id = 1;
  for (let k = 0; k < 256; k++) {
    if (instances.every((i) => routes.get(i.port).size >= WORKERS)) break;
    if (k >= sockets.length) sockets.push(await openSocket(k));
    const sock = sockets[k];
    for (const i of instances) {
      const r = await ask(sock, i.port, id++ & 0xffff);
      if (r && !routes.get(i.port).has(r.nsid)) routes.get(i.port).set(r.nsid, sock);
    }
  }
  for (const i of instances) {
    if (routes.get(i.port).size < WORKERS) throw new Error(`instance ${i.n}: reached ${routes.get(i.port).size} of ${WORKERS} workers from 256 source ports`);
  }
  return instances.flatMap((i) => [...routes.get(i.port)].map(([nsid, sock]) => ({ instance: i, nsid, sock })));
}

/**
 * Polls every worker of every instance every POLL_MS until each answers `expected`; returns per
 * instance the ms from `t0` to the reply that completed it (its last worker to switch) and how many
 * replies still had the old answer. One poll per worker is in flight at a time (given up after
 * LOST_MS), so a slow instance is not flooded.
 */
function pollUntil(sockets, targets, instances, expected, t0, timeoutMs) {
  return new Promise((resolve, reject) => {
    const done = new Map(); // target → ms
    const stale = new Map(); // instance port → count
    const inflight = new Map(); // `${socket}:${port}` → { id, sentAt, target }
    let nextId = Math.floor(Math.random() * 0xffff);
    const handlers = sockets.map((sock) => (msg, rinfo) => {
      const key = `${sock.index}:${rinfo.port}`;
      const pending = inflight.get(key);
      if (!pending || msg.length < 2 || msg.readUInt16BE(0) !== pending.id) return;
      inflight.delete(key);
      if (done.has(pending.target)) return;
      if (readReply(msg).a === expected) done.set(pending.target, performance.now() - t0);
      else stale.set(rinfo.port, (stale.get(rinfo.port) ?? 0) + 1);
    });
    sockets.forEach((s, k) => s.on('message', handlers[k]));
    const finish = (err) => {
      clearInterval(timer);
      sockets.forEach((s, k) => s.off('message', handlers[k]));
      if (err) return reject(err);
      resolve(instances.map((i) => ({
        ms: Math.max(...targets.filter((t) => t.instance === i).map((t) => done.get(t))),
        stale: stale.get(i.port) ?? 0,
      })));
    };
    const tick = () => {
      const now = performance.now();
      if (done.size === targets.length) return finish();
      if (now - t0 > timeoutMs) {
        const late = targets.filter((t) => !done.has(t)).map((t) => `instance ${t.instance.n}${t.nsid ? ` worker ${t.nsid}` : ''}`);
        return finish(new Error(`${late.join(', ')} still not answering ${expected} after ${timeoutMs} ms`));
      }
      for (const t of targets) {
        if (done.has(t)) continue;
        const key = `${t.sock.index}:${t.instance.port}`;
        const p = inflight.get(key);
        if (p && now - p.sentAt < LOST_MS) continue;
        nextId = (nextId + 1) & 0xffff;
        inflight.set(key, { id: nextId, sentAt: now, target: t });
        t.sock.send(query(nextId), t.instance.port, HOST);
      }
    };
    const timer = setInterval(tick, POLL_MS);
    tick();
  });
}

async function opsCall(instance, method, body) {
  const res = await fetch(`http://${HOST}:${instance.httpPort}/v1/regions/${REGION}/drain`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} drain via instance ${instance.n}: HTTP ${res.status} ${text}`);
}

// ---- the run ------------------------------------------------------------------------------------

/** Nearest rank: the smallest sample with at least p% of the samples at or below it. */
function percentile(sorted, p) {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

const fmt = (ms) => ms.toFixed(1).padStart(7);

async function main() {
  if (!fs.existsSync(path.join(ROOT, 'dist/cli.js'))) throw new Error('dist/cli.js not found: run `npm run build` first (the bench measures dist/)');
  const tokensFile = path.join(tmp, 'tokens');
  fs.writeFileSync(tokensFile, `bench:${TOKEN}\n`);

  const startedAt = Date.now();
  const redis = await startRedis();
  const instances = await Promise.all(Array.from({ length: INSTANCES }, (_, i) => startInstance(i + 1, redis.url, tokensFile)));
  console.log(`redis-server ${redis.url}; ${INSTANCES} instances x ${WORKERS} DNS worker${WORKERS > 1 ? 's' : ''} (dns ports ${instances.map((i) => i.port).join(', ')}) up in ${Date.now() - startedAt} ms; ${os.availableParallelism()} cores`);
  console.log(`${TRIALS} trials: drain/undrain ${REGION} through instance 1, 2, 3, 1, ...; poll ${QNAME} A with ECS 193.0.0.0/24 on all ${INSTANCES}${WORKERS > 1 ? ` (every worker, by NSID)` : ''} every ${POLL_MS} ms\n`);

  const sockets = [await openSocket(0)];
  try {
    const targets = await discoverWorkers(sockets, instances);
    // Every instance (and worker) answers the undrained way before the first trial.
    await pollUntil(sockets, targets, instances, ANSWER.undrained, performance.now(), 10_000).catch((err) => { throw new Error(`before the first trial: ${err.message}`); });

    const trials = [];
    let writerStaleTrials = 0;
    console.log('trial  action   via   call ms  from return: inst1   inst2   inst3     all');
    for (let t = 0; t < TRIALS; t++) {
      const drain = t % 2 === 0;
      const via = instances[t % INSTANCES];
      const sent = performance.now();
      await opsCall(via, drain ? 'POST' : 'DELETE', { reason: `propagation bench trial ${t + 1}` });
      const returned = performance.now();
      const polled = await pollUntil(sockets, targets, instances, drain ? ANSWER.drained : ANSWER.undrained, returned, TRIAL_TIMEOUT_MS);
      const per = polled.map((x) => x.ms);
      const all = Math.max(...per);
      // In one process the instance that took the call swapped its snapshot before answering it; with
      // workers, the primary tells them after, so an old answer from them can follow the call.
      const writerStale = polled[via.n - 1].stale;
      if (writerStale) writerStaleTrials++;
      trials.push({ trial: t + 1, action: drain ? 'drain' : 'undrain', via: via.n, callMs: returned - sent, perInstanceMs: per, staleReplies: polled.map((x) => x.stale), allMs: all });
      console.log(`${String(t + 1).padStart(5)}  ${(drain ? 'drain' : 'undrain').padEnd(7)}  ${String(via.n).padStart(3)}  ${fmt(returned - sent)}  ${' '.repeat(11)}${per.map(fmt).join(' ')} ${fmt(all)}` +
        (writerStale ? `   (instance ${via.n} gave the old answer ${writerStale}x after its own call returned)` : ''));
      await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 50)));
    }

    const sorted = trials.map((x) => x.allMs).sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    const p95 = percentile(sorted, 95);
    const max = sorted[sorted.length - 1];
    const calls = trials.map((x) => x.callMs).sort((a, b) => a - b);
    const staleReplies = trials.reduce((n, x) => n + x.staleReplies.reduce((a, b) => a + b, 0), 0);
    const pass = p95 < TARGET_P95_MS;
    console.log(`\nfrom the API call returning to all ${INSTANCES} instances answering the new way (${TRIALS} trials, nearest-rank percentiles):`);
    console.log(`  p50 ${p50.toFixed(1)} ms   p95 ${p95.toFixed(1)} ms   max ${max.toFixed(1)} ms`);
    console.log(`  the API call itself: p50 ${percentile(calls, 50).toFixed(1)} ms, p95 ${percentile(calls, 95).toFixed(1)} ms`);
    console.log(`  replies with the old answer after the call returned: ${staleReplies}; trials where the instance that took the call gave one: ${writerStaleTrials}`);
    console.log(`target p95 < ${TARGET_P95_MS} ms: ${pass ? 'PASS' : 'MISS'}`);
    if (opts.json) {
      fs.writeFileSync(opts.json, JSON.stringify({ trials, p50, p95, max, targetP95Ms: TARGET_P95_MS, pass, workers: WORKERS, pollMs: POLL_MS, node: process.version, cores: os.availableParallelism() }, null, 2));
    }
    return pass ? 0 : 1;
  } finally {
    for (const s of sockets) s.close();
  }
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(`!!! ${err instanceof Error ? err.message : String(err)}`);
  code = 1;
} finally {
  await cleanup();
  clearTimeout(watchdog);
}
process.exit(code);
