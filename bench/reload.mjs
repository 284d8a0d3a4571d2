#!/usr/bin/env node
// npm run bench:reload — a large zone reloaded again and again under a paced UDP query stream:
// every query must be answered, and the slowest answer is what a reload costs DNS.
//   node bench/reload.mjs [--records 1000000] [--reloads 10] [--qps 2000] [--workers 1]
// Each reload changes the SOA serial (the file is rewritten aside and renamed in), so nothing is
// skipped as unchanged. The query stream runs in its own thread, so writing the zone file here
// does not delay it. Prints p50/p99/max latency, lost queries and each reload's duration.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { freePort } from './lib/ports.mjs';
import { encodeQuery } from './lib/dns-query.mjs';

const REPO = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: {
  records: { type: 'string', default: '1000000' },
  reloads: { type: 'string', default: '10' },
  qps: { type: 'string', default: '2000' },
  workers: { type: 'string', default: '1' },
  timeout: { type: 'string', default: '2000' },
} });
if (!fs.existsSync(path.join(REPO, 'dist/cli.js'))) { console.error('run `npm run build` first'); process.exit(2); }
const RECORDS = Number(values.records);
const RELOADS = Number(values.reloads);


function writeZone(dir, serial) {
  const file = path.join(dir, 'big.test.zone');
  const tmp = path.join(dir, '.big.test.zone.tmp'); // not *.zone: never read half-written
  const fd = fs.openSync(tmp, 'w');
  fs.writeSync(fd, `$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster ${serial} 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n`);
  let buf = '';
  for (let i = 0; i < RECORDS - 3; i++) {
    buf += `h${i} A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}\n`;
    if (buf.length > 1 << 20) { fs.writeSync(fd, buf); buf = ''; }
  }
  fs.writeSync(fd, buf);
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

// The query stream: paced sends, one socket, latency per answered id.
const STREAM = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const { port, qps, names, timeoutMs } = workerData;
const sock = dgram.createSocket('udp4');
const sent = new Map(); // id -> [hrtime ns, seq]
const lat = [];
let seq = 0, lost = 0, stopping = false, nextId = 0;
const query = (id, name) => encodeQuery({ id, name });
sock.on('message', (m) => {
  const id = m.readUInt16BE(0);
  const s = sent.get(id);
  if (!s) return;
  sent.delete(id);
  lat.push([s.wall, Number(process.hrtime.bigint() - s.at) / 1e6]);
});
const perTick = qps / 1000;
let credit = 0;
let last = performance.now();
const timer = setInterval(() => {
  const now = performance.now();
  credit += (now - last) * perTick; last = now;
  const t = process.hrtime.bigint();
  for (const [id, s] of sent) if (Number(t - s.at) / 1e6 > timeoutMs) { sent.delete(id); lost++; }
  if (stopping) { if (sent.size === 0) { clearInterval(timer); sock.close(); parentPort.postMessage({ lat, lost, sent: seq }); } return; }
  while (credit >= 1) {
    credit--;
    let id = nextId; nextId = (nextId + 1) & 0xffff;
    if (sent.has(id)) { lost++; sent.delete(id); } // wrapped onto a query still unanswered
    sent.set(id, { at: process.hrtime.bigint(), wall: Date.now() });
    seq++;
    sock.send(query(id, names[Math.floor(Math.random() * names.length)]), port, '127.0.0.1');
  }
}, 1);
parentPort.on('message', () => { stopping = true; });
`;

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-reload-'));
try {
  writeZone(dir, 1);
  const port = await freePort();
  const httpPort = await freePort();
  const proc = spawn(process.execPath, ['--max-old-space-size=6144', path.join(REPO, 'bin/regiondns.js'), 'serve', '--zones', dir, '--listen', `127.0.0.1:${port}`,
    '--http', `127.0.0.1:${httpPort}`, '--workers', values.workers, '--state-dir', 'none', '--no-geoip', '--no-probe'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  const waiters = [];
  readline.createInterface({ input: proc.stdout }).on('line', (l) => {
    let j; try { j = JSON.parse(l); } catch { return; }
    lines.push(j);
    for (const w of [...waiters]) if (w.pred(j)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(j); }
  });
  const waitLog = (pred, ms) => new Promise((resolve, reject) => {
    const hit = lines.find(pred);
    if (hit) return resolve(hit);
    const t = setTimeout(() => reject(new Error('timed out waiting for the server')), ms);
    waiters.push({ pred, resolve: (j) => { clearTimeout(t); resolve(j); } });
  });
  const t0 = Date.now();
  await waitLog((j) => j.msg === 'listening', 300_000);
  console.log(`reload: ${RECORDS} records, ${RELOADS} reloads, ${values.qps} qps UDP, ${values.workers} worker(s); started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const names = Array.from({ length: 10_000 }, () => `h${Math.floor(Math.random() * (RECORDS - 3))}.big.test`);
  const stream = new Worker(STREAM, { eval: true, workerData: { port, qps: Number(values.qps), names, timeoutMs: Number(values.timeout) } });
  const result = new Promise((resolve) => stream.once('message', resolve));
  // A quiet period first: the same stream on the same (busy) machine without a reload, to compare with.
  await new Promise((r) => setTimeout(r, 5000));
  const reloadsFrom = Date.now();
  const durations = [];
  const stalls = []; // the server's own figure: longest event-loop delay during each reload
  for (let i = 0; i < RELOADS; i++) {
    const serial = i + 2;
    writeZone(dir, serial);
    const start = Date.now();
    const done = (values.workers === '1')
      // (a server that does not log the serial: the first reload logged after the signal)
      ? waitLog((j) => j.msg === 'zones reloaded' && (j.zones?.[0]?.serial === undefined ? j.time >= start : j.zones[0].serial === serial), 300_000)
      : waitLog((j) => j.msg === 'workers reloaded' && j.time >= start, 300_000);
    proc.kill('SIGHUP');
    await done;
    durations.push((Date.now() - start) / 1000);
    if (values.workers === '1') await waitLog((j) => j.msg === 'reload done' && j.time >= start, 10_000).catch(() => undefined);
    const costs = lines.filter((j) => j.msg === 'reload done' && j.time >= start && typeof j.eventLoopDelayMaxMs === 'number');
    if (costs.length) stalls.push(Math.max(...costs.map((j) => j.eventLoopDelayMaxMs)));
  }
  const reloadsTo = Date.now();
  await new Promise((r) => setTimeout(r, 1000));
  stream.postMessage('stop');
  const { lat, lost, sent } = await result;
  await stream.terminate();
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  console.log(`queries ${sent}, answered ${lat.length}, lost ${lost}`);
  const show = (label, xs) => {
    xs.sort((a, b) => a - b);
    console.log(`${label.padEnd(16)} n ${String(xs.length).padStart(6)}  latency ms: p50 ${pct(xs, 0.5).toFixed(2)}  p99 ${pct(xs, 0.99).toFixed(2)}  p99.9 ${pct(xs, 0.999).toFixed(2)}  max ${xs[xs.length - 1].toFixed(2)}`);
  };
  show('before reloads', lat.filter(([t]) => t < reloadsFrom).map(([, ms]) => ms));
  show('during reloads', lat.filter(([t]) => t >= reloadsFrom && t <= reloadsTo).map(([, ms]) => ms));
  console.log(`reload s (SIGHUP to new serial in force): ${durations.map((d) => d.toFixed(1)).join(' ')}`);
  if (stalls.length) console.log(`server event-loop delay max per reload, ms: ${stalls.join(' ')}`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
