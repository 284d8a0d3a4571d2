#!/usr/bin/env node
// npm run bench:scale — zones of 10,000, 100,000 and 1,000,000 records with 10,000 steered
// hostnames: load time, RSS, and dnsperf qps on random static and steered names.
//   node bench/scale.mjs [--sizes 10000,100000,1000000] [--secs 5] [--workers 1]
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseDnsperf } from './lib/dnsperf.mjs';
import { freePort } from './lib/ports.mjs';

const REPO = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: {
  sizes: { type: 'string', default: '10000,100000,1000000' },
  secs: { type: 'string', default: '5' },
  workers: { type: 'string', default: '1' },
  steered: { type: 'string', default: '10000' },
} });
if (!fs.existsSync(path.join(REPO, 'dist/cli.js'))) { console.error('run `npm run build` first'); process.exit(2); }


function generate(dir, records, steered) {
  const zone = fs.createWriteStream(path.join(dir, 'scale.test.zone'));
  zone.write('$ORIGIN scale.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n');
  let buf = '';
  for (let i = 0; i < records - 3; i++) {
    buf += `h${i} A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}\n`;
    if (buf.length > 1 << 20) { zone.write(buf); buf = ''; }
  }
  zone.end(buf);
  fs.writeFileSync(path.join(dir, 'regions.yaml'), 'regions:\n  us-east: { location: { lat: 39.04, lon: -77.49 } }\n  eu-central: { location: { lat: 50.11, lon: 8.68 } }\n  ap-south: { location: { lat: 19.08, lon: 72.88 } }\n');
  let y = 'hostnames:\n';
  for (let i = 0; i < steered; i++) y += `  s${i}: { pools: { us-east: [192.0.2.1], eu-central: [198.51.100.1], ap-south: [203.0.113.1] } }\n`;
  fs.writeFileSync(path.join(dir, 'scale.test.steer.yaml'), y);
  const rnd = (n) => Math.floor(Math.random() * n);
  let qs = ''; let qsSteered = '';
  for (let i = 0; i < 10000; i++) { qs += `h${rnd(records - 3)}.scale.test A\n`; qsSteered += `s${rnd(steered)}.scale.test A\n`; }
  fs.writeFileSync(path.join(dir, 'static.txt'), qs);
  fs.writeFileSync(path.join(dir, 'steered.txt'), qsSteered);
  return new Promise((r) => zone.on('finish', r));
}

function dnsperf(port, file, secs) {
  const out = execFileSync('timeout', [String(secs + 10), 'dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(secs), '-c', '4', '-T', '1', '-t', '2', '-Q', '500000'], { encoding: 'utf8' });
  const r = parseDnsperf(out);
  return { qps: r?.qps ?? NaN, lost: r?.lost ?? NaN, avgMs: r?.avgMs ?? NaN };
}

async function measure(records) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-scale-'));
  await generate(dir, records, Number(values.steered));
  const port = await freePort(); const httpPort = await freePort();
  const t0 = Date.now();
  const proc = spawn(process.execPath, ['--max-old-space-size=4096', path.join(REPO, 'bin/regiondns.js'), 'serve', '--zones', dir, '--listen', `127.0.0.1:${port}`,
    '--http', `127.0.0.1:${httpPort}`, '--workers', values.workers, '--state-dir', 'none', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Ready when /readyz says so (bounded: 120 s).
  let ready = false;
  while (!ready && Date.now() - t0 < 120_000) {
    await new Promise((r) => setTimeout(r, 100));
    ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.ok, () => false);
  }
  const loadS = (Date.now() - t0) / 1000;
  if (!ready) { proc.kill('SIGKILL'); throw new Error(`not ready after ${loadS} s`); }
  const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const rssMB = Number(/regiondns_process_resident_memory_bytes (\d+)/.exec(metrics)?.[1]) / 2 ** 20;
  dnsperf(port, path.join(dir, 'static.txt'), 1); // warm-up
  const st = dnsperf(port, path.join(dir, 'static.txt'), Number(values.secs));
  const sd = dnsperf(port, path.join(dir, 'steered.txt'), Number(values.secs));
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });
  return { records, loadS, rssMB, static: st, steered: sd };
}

console.log(`scale: ${values.steered} steered hostnames, ${values.workers} worker(s), dnsperf ${values.secs} s per workload`);
console.log('records     load s   RSS MB   static qps (lost)    steered qps (lost)');
for (const n of values.sizes.split(',').map(Number)) {
  const r = await measure(n);
  console.log(`${String(n).padEnd(11)} ${r.loadS.toFixed(1).padStart(6)}   ${r.rssMB.toFixed(0).padStart(6)}   ${r.static.qps.toFixed(0).padStart(8)} (${r.static.lost})    ${r.steered.qps.toFixed(0).padStart(8)} (${r.steered.lost})`);
}
