#!/usr/bin/env node
// npm run bench:ops-flood — what unauthenticated callers cost the ops listener: N posts of S MiB to
// POST /v1/tenants:import without a token (each whole body sent, as an attacker would, on one raw
// keep-alive connection), and the server's resident memory (VmRSS) before, after each post and at
// the end, with each answer's status.
//   node bench/ops-flood.mjs [--posts 6] [--mib 60] [--parallel] [--server DIR]
// --parallel: every post at once, each on its own connection.
// --server: another build's checkout (its bin/ and dist/), e.g. an older release, for a before/after.
// Needs dist/ (npm run build). Loopback only; bounded: each post 60 s.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from './lib/ports.mjs';

const REPO = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { posts: { type: 'string', default: '6' }, mib: { type: 'string', default: '60' }, server: { type: 'string' }, parallel: { type: 'boolean', default: false } } });
const SERVER = path.resolve(values.server ?? REPO);
const POSTS = Number(values.posts);
const MIB = Number(values.mib);
if (!(POSTS >= 1 && POSTS <= 100 && MIB >= 1 && MIB <= 1024)) { console.error('--posts 1..100, --mib 1..1024'); process.exit(2); }
if (!fs.existsSync(path.join(SERVER, 'dist/cli.js'))) { console.error(`no ${path.join(SERVER, 'dist/cli.js')}: run \`npm run build\` first`); process.exit(2); }

const rssMB = (pid) => Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024);

const dnsPort = await freePort();
const httpPort = await freePort();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-flood-'));
fs.writeFileSync(path.join(dir, 'tokens'), 'bench:bench-flood-token-0123456789\n');
const proc = spawn(process.execPath, [path.join(SERVER, 'bin/regiondns.js'), 'serve', '--zones', path.join(REPO, 'zones'), '--no-geoip', '--workers', '1',
  '--listen', `127.0.0.1:${dnsPort}`, '--http', `127.0.0.1:${httpPort}`, '--state-dir', 'none', '--ops-tokens', path.join(dir, 'tokens')], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((resolve, reject) => {
  let out = '';
  proc.stdout.on('data', (c) => { out += c; if (out.includes('"msg":"listening"')) resolve(); });
  proc.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
});
proc.stdout.resume();

function post(bytes) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(httpPort, '127.0.0.1');
    const chunk = Buffer.alloc(1 << 20, 'a');
    let sent = 0;
    let text = '';
    let written = false;
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('post took over 60 s')); }, 60_000);
    const done = () => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(text);
      if (!m || !written) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(m[1]) });
    };
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!socket.write(chunk)) { socket.once('drain', pump); return; }
      }
      written = true;
      done();
    };
    socket.setEncoding('utf8').on('data', (d) => { text += d; done(); });
    socket.on('error', () => undefined);
    socket.on('close', () => { written = true; done(); });
    socket.on('connect', () => {
      socket.write(`POST /v1/tenants:import HTTP/1.1\r\nHost: bench\r\ncontent-type: text/csv\r\ncontent-length: ${bytes}\r\n\r\n`);
      pump();
    });
  });
}

const before = rssMB(proc.pid);
console.log(`server RSS before: ${before} MB`);
let peak = before;
const sample = setInterval(() => { peak = Math.max(peak, rssMB(proc.pid)); }, 50);
const one = async (i) => {
  const t0 = Date.now();
  const r = await post(MIB * 1048576);
  console.log(`post ${i}: HTTP ${r.status}, connection closed after ${Date.now() - t0} ms; RSS ${rssMB(proc.pid)} MB`);
};
const numbers = Array.from({ length: POSTS }, (_, i) => i + 1);
if (values.parallel) await Promise.all(numbers.map(one));
else for (const i of numbers) await one(i);
clearInterval(sample);
await new Promise((r) => setTimeout(r, 1000));
const after = rssMB(proc.pid);
console.log(`server RSS after ${POSTS} unauthenticated ${MIB} MiB posts${values.parallel ? ' at once' : ''}: ${before} → ${after} MB (+${after - before} MB; peak ${Math.max(peak, after)} MB)`);
proc.kill('SIGTERM');
fs.rmSync(dir, { recursive: true, force: true });
