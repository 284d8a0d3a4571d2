#!/usr/bin/env node
// npm run bench:rrl: what response rate limiting and DNS cookies cost, as ratios measured in one run
// (the machine is shared, so absolute numbers drift between runs; A and B are interleaved).
//   1. In process, no sockets: the query handler without a guard, with RRL on (a rate too high to
//      limit), and with RRL on answering a valid cookie (SipHash per query). ns/query and ratios.
//   2. Over UDP with dnsperf: `bench/run.mjs` alternately without and with --rrl-rate 1000000, on
//      the static and steered workloads; the ratio of the medians.
// Options: --rounds N (2), --secs S (5), --skip-dnsperf. Needs npm run build (dist/) and dnsperf.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../dist/server/load-config.js';
import { parseCookieSecrets } from '../dist/cookies/secret.js';
import { CookieJar } from '../dist/cookies/server-cookie.js';
import { createLogger } from '../dist/obs/logger.js';
import { DEFAULT_RRL } from '../dist/rrl/limiter.js';
import { QueryHandler } from '../dist/server/query-handler.js';
import { ResponseGuard } from '../dist/server/response-guard.js';
import { buildSnapshot } from '../dist/state/snapshot.js';
const LOCAL = Uint8Array.of(127, 0, 0, 1); // the resolver's address, as the socket edge hands it over

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: { rounds: { type: 'string', default: '2' }, secs: { type: 'string', default: '5' }, 'skip-dnsperf': { type: 'boolean', default: false } },
});
const ROUNDS = Number(opts.rounds);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const RATE = 1_000_000; // far above what one machine can send: the limiter runs, never limits

// --- 1. in process ------------------------------------------------------------------------------

const cfg = loadConfig(path.join(ROOT, 'bench/zones'));
if (cfg.errors.length) throw new Error(JSON.stringify(cfg.errors));
const snap = buildSnapshot({ version: 1, zones: cfg.zones, steering: cfg.steering, geo: null, latencyTable: null });
const log = createLogger({ level: 'error' });
const base = { udpLimit: 1232, rng: Math.random, log };
const jar = () => new CookieJar(parseCookieSecrets('e5e973e5a6b2a43f48e7dc849e37bfcf', 'bench'));
const handlers = {
  off: new QueryHandler(() => snap, base),
  rrl: new QueryHandler(() => snap, { ...base, guard: new ResponseGuard({ cookies: jar(), rrl: { ...DEFAULT_RRL, rate: RATE } }) }),
};

function query(name, cookieHex) {
  const parts = [Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, cookieHex ? 1 : 0])];
  for (const l of name.split('.')) parts.push(Buffer.from([l.length]), Buffer.from(l));
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  if (cookieHex) {
    const c = Buffer.from(cookieHex, 'hex');
    parts.push(Buffer.from([0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 4 + c.length, 0, 10, 0, c.length]), c);
  }
  return Buffer.concat(parts);
}

// A valid server cookie for 127.0.0.1 now: ask once with a client cookie, read the reply's option.
const probe = handlers.rrl.handle(query('static.gslb.test', '0102030405060708'), LOCAL, 'udp', Date.now());
const validCookie = Buffer.from(probe.subarray(probe.length - 24)).toString('hex');

function nsPerQuery(h, msg, n) {
  const now = Date.now();
  for (let i = 0; i < 20_000; i++) h.handle(msg, LOCAL, 'udp', now);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) h.handle(msg, LOCAL, 'udp', now);
  return Number(process.hrtime.bigint() - t) / n;
}

const cases = [
  ['static, RRL on / off', handlers.rrl, query('static.gslb.test')],
  ['steered, RRL on / off', handlers.rrl, query('www.gslb.test')],
  ['static, valid cookie (exempt) / off', handlers.rrl, query('static.gslb.test', validCookie)],
];
const MICRO_ROUNDS = 11;
console.log(`in process (${os.cpus().length} cpus, load ${os.loadavg()[0].toFixed(1)}), medians of ${MICRO_ROUNDS} interleaved rounds of 100,000 queries:`);
for (const [label, h, msg] of cases) {
  const plain = query(label.startsWith('steered') ? 'www.gslb.test' : 'static.gslb.test');
  const offs = [];
  const ons = [];
  for (let r = 0; r < MICRO_ROUNDS; r++) {
    offs.push(nsPerQuery(handlers.off, plain, 100_000));
    ons.push(nsPerQuery(h, msg, 100_000));
  }
  const off = median(offs);
  const on = median(ons);
  console.log(`  ${label.padEnd(38)} ${on.toFixed(0).padStart(5)} / ${off.toFixed(0).padStart(5)} ns/query  = ${(on / off).toFixed(2)}x time, ${(off / on).toFixed(2)}x throughput`);
}

// --- 2. dnsperf over UDP ------------------------------------------------------------------------

if (!opts['skip-dnsperf']) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-bench-rrl-'));
  const qps = { off: {}, on: {} };
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of r % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
      const json = path.join(tmp, `${mode}-${r}.json`);
      const args = ['bench/run.mjs', '--workloads', 'static,steered', '--runs', '1', '--secs', String(opts.secs), '--warmup', '1', '--workers', '1', '--json', json,
        ...(mode === 'on' ? [`--server-args=--rrl-rate ${RATE}`] : [])];
      const res = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
      if (!fs.existsSync(json)) { console.error(res.stdout, res.stderr); process.exit(1); }
      for (const w of JSON.parse(fs.readFileSync(json, 'utf8')).workloads) (qps[mode][w.id] ??= []).push(w.summary?.qps ?? NaN);
    }
  }
  console.log(`\ndnsperf over UDP, one worker, ${ROUNDS} rounds x ${opts.secs} s per mode, off/on interleaved:`);
  for (const id of Object.keys(qps.off)) {
    const off = median(qps.off[id]);
    const on = median(qps.on[id]);
    console.log(`  ${id.padEnd(10)} RRL off ${Math.round(off).toLocaleString().padStart(8)} qps, on ${Math.round(on).toLocaleString().padStart(8)} qps  = ${(on / off).toFixed(2)}x`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
