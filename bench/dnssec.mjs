#!/usr/bin/env node
// npm run bench:dnssec: what online signing costs.
//  1. Cold signing rate: RRSIGs per second on one core, in process, every RRset new to the cache
//     (algorithm 13 and 15).
//  2. Warm steered answers: www.gslb.test A with ECS 193.0.0.0/24, with and without DO, against one
//     server (one worker) serving a signed copy of bench/zones. Runs alternate DO=0 / DO=1 so both see
//     the same machine load; the ratio of medians is the figure to read on a shared machine.
// Usage: node bench/dnssec.mjs [--runs N] [--secs S] [--sign N]. Needs dist/ (npm run build) and dnsperf.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, secs: { type: 'string', default: '8' }, sign: { type: 'string', default: '4000' } } });
const runs = Number(values.runs);
const secs = Number(values.secs);

const { generateKey } = await import(path.join(ROOT, 'dist/dnssec/keys.js'));
const { ZoneSigner } = await import(path.join(ROOT, 'dist/dnssec/signer.js'));
const { nameToWire } = await import(path.join(ROOT, 'dist/dns/name.js'));

function coldRate(alg, n) {
  const signer = new ZoneSigner('gslb.test.', [generateKey('gslb.test.', alg, 257)], { maxEntries: n + 1 });
  const owner = 'www.gslb.test.';
  const ownerWire = nameToWire(owner);
  const reqs = Array.from({ length: n }, (_, i) => ({
    owner, ownerWire, signedOwner: owner, signedOwnerWire: ownerWire, labels: 3, type: 1, ttl: 30,
    records: [{ owner, ownerWire, type: 1, klass: 1, ttl: 30, rdata: Uint8Array.of(10, (i >> 16) & 255, (i >> 8) & 255, i & 255) }],
  }));
  const t0 = process.hrtime.bigint();
  const now = Date.now();
  for (const r of reqs) signer.sign(r, now);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return Math.round(n / s);
}

const n = Number(values.sign);
console.log(`cold signing (${n} distinct RRsets, one core, in process):`);
console.log(`  algorithm 13 ECDSA P-256: ${coldRate(13, n)} signatures/s`);
console.log(`  algorithm 15 Ed25519:     ${coldRate(15, n)} signatures/s`);

// ---- warm steered answers over UDP ----
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-bench-dnssec-'));
const zones = path.join(work, 'zones');
fs.cpSync(path.join(ROOT, 'bench/zones'), zones, { recursive: true });
execFileSync(process.execPath, [path.join(ROOT, 'bin/regiondns.js'), 'dnssec', 'keygen', 'gslb.test', '--zones', zones], { stdio: 'ignore' });
const port = 20000 + Math.floor(Math.random() * 20000);
const server = spawn(process.execPath, [path.join(ROOT, 'bin/regiondns.js'), 'serve', '--zones', zones, '--listen', `127.0.0.1:${port}`,
  '--http', 'off', '--workers', '1', '--state-dir', 'none', '--geoip', path.join(ROOT, 'geo/fixtures/world-flat.mmdb')], { stdio: 'ignore' });
const ECS = '8:00011800c10000';
try {
  for (let i = 0; ; i++) {
    const r = spawnSync('dig', ['@127.0.0.1', '-p', String(port), '+dnssec', '+time=1', '+tries=1', 'www.gslb.test', 'A'], { encoding: 'utf8' });
    if (/RRSIG/.test(r.stdout)) break;
    if (i > 60) throw new Error('server did not answer with signatures');
    await new Promise((res) => setTimeout(res, 250));
  }
  const qps = (dnssecOk) => {
    const args = ['-s', '127.0.0.1', '-p', String(port), '-d', path.join(ROOT, 'bench/queries/www.txt'), '-l', String(secs),
      '-c', '4', '-T', '1', '-t', '2', '-Q', '500000', '-E', ECS, ...(dnssecOk ? ['-D'] : [])];
    const out = execFileSync('dnsperf', args, { encoding: 'utf8' });
    return Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  };
  qps(true); // warm: the steered RRset's signature is cached after its first query
  const plain = [];
  const signed = [];
  for (let r = 0; r < runs; r++) {
    plain.push(qps(false));
    signed.push(qps(true));
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(`\nwww.gslb.test A, ECS 193.0.0.0/24, UDP, one worker, ${runs} alternating runs x ${secs} s:`);
  console.log(`  DO=0 (unsigned): ${plain.map(Math.round).join(', ')} qps, median ${Math.round(median(plain))}`);
  console.log(`  DO=1 (signed):   ${signed.map(Math.round).join(', ')} qps, median ${Math.round(median(signed))}`);
  console.log(`  signed / unsigned: ${(median(signed) / median(plain)).toFixed(2)}`);
} finally {
  server.kill('SIGTERM');
  fs.rmSync(work, { recursive: true, force: true });
}
