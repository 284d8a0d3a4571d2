// Multi-core: every state change (zone reload, health, drain) reaches every worker, and a worker
// that dies is replaced. Workers are told apart by NSID (RFC 5001), which each reply carries.
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery, ecsOption, parse } from '../helpers/dns-client.js';
import { REPO, startServer, type ServerProcess } from '../helpers/server-process.js';

const WORKERS = 2;
const TOKEN = 'ops-test-token-0123456789';
let server: ServerProcess;
let zones: string;
let target: http.Server;
let targetStatus = 200;

/** The A answer and the NSID of one reply, from a fresh socket (so the kernel may pick any worker). */
async function ask(port: number, name: string, subnet: string): Promise<{ nsid: string; answer: string[] }> {
  const nsidOpt = Buffer.from([0, 3, 0, 0]);
  const msg = buildQuery(name, 'A', { edns: { options: [ecsOption(subnet), nsidOpt] } });
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => { s.close(); reject(new Error('timeout')); }, 1000);
    s.once('message', (m) => { clearTimeout(t); s.close(); resolve(m); });
    s.send(msg, port, '127.0.0.1');
  });
  const at = reply.lastIndexOf(Buffer.from([0, 3]));
  const nsid = at > 0 ? reply.subarray(at + 4, at + 4 + reply.readUInt16BE(at + 2)).toString() : '';
  return { nsid, answer: parse(reply).answers.map((a: { address: string }) => a.address) };
}

/** Asks until every worker has answered `expected` (bounded: 2,000 queries or 10 s), and returns the workers seen. */
async function untilEveryWorker(name: string, subnet: string, expected: string[]): Promise<Set<string>> {
  const good = new Set<string>();
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < 2000 && good.size < WORKERS && Date.now() < deadline; i++) {
    if (i > 0 && i % 20 === 0) await new Promise((r) => setTimeout(r, 25));
    const r = await ask(server.port, name, subnet);
    if (JSON.stringify(r.answer) === JSON.stringify(expected)) good.add(r.nsid);
    else good.delete(r.nsid);
  }
  return good;
}

beforeAll(async () => {
  target = http.createServer((_req, res) => { res.statusCode = targetStatus; res.end(targetStatus === 200 ? 'ok' : 'no'); });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const tport = (target.address() as AddressInfo).port;
  zones = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-workers-'));
  fs.cpSync(path.join(REPO, 'test/e2e/steer-zones'), zones, { recursive: true });
  fs.writeFileSync(path.join(zones, 'regions.yaml'), `regions:
  us-east:    { location: { lat: 39.04, lon: -77.49 } }
  eu-central:
    location: { lat: 50.11, lon: 8.68 }
    checks:
      - { type: http, url: "http://127.0.0.1:${tport}/healthz", interval: 200ms, timeout: 100ms, rise: 1, fall: 1 }
  ap-south:   { location: { lat: 19.08, lon: 72.88 } }
`);
  const tokens = path.join(zones, '..', `tokens-${process.pid}`);
  fs.writeFileSync(tokens, `test:${TOKEN}\n`);
  server = await startServer(['--zones', zones, '--geoip', path.join(REPO, 'geo/fixtures/world-geoip2.mmdb'),
    '--workers', String(WORKERS), '--reuse-port', '--nsid', 'auto', '--ops-tokens', tokens]);
});
afterAll(async () => {
  await server?.stop();
  target?.close();
  if (zones) fs.rmSync(zones, { recursive: true, force: true });
});

describe(`${WORKERS} workers`, () => {
  it('every worker serves, and /metrics adds up their queries', async () => {
    expect((await untilEveryWorker('api.steer.test', '193.0.0.0/24', ['198.51.100.10'])).size).toBe(WORKERS);
    const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    const n = Number(/regiondns_queries_total\{transport="udp",qtype="A",rcode="NOERROR"\} (\d+)/.exec(text)?.[1]);
    expect(n).toBeGreaterThanOrEqual(WORKERS);
  });

  it('a health change reaches every worker', async () => {
    targetStatus = 500;
    expect((await untilEveryWorker('api.steer.test', '193.0.0.0/24', ['192.0.2.10'])).size).toBe(WORKERS);
    targetStatus = 200;
    expect((await untilEveryWorker('api.steer.test', '193.0.0.0/24', ['198.51.100.10'])).size).toBe(WORKERS);
  });

  it('a drain through the ops API reaches every worker', async () => {
    const call = (method: string) => fetch(`http://127.0.0.1:${server.httpPort}/v1/regions/eu-central/drain`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
      body: method === 'POST' ? JSON.stringify({ reason: 'maintenance' }) : undefined,
    });
    expect((await call('POST')).status).toBe(200);
    expect((await untilEveryWorker('api.steer.test', '193.0.0.0/24', ['192.0.2.10'])).size).toBe(WORKERS);
    expect((await call('DELETE')).status).toBe(200);
    expect((await untilEveryWorker('api.steer.test', '193.0.0.0/24', ['198.51.100.10'])).size).toBe(WORKERS);
  });

  it('a zone reload (SIGHUP) reaches every worker', async () => {
    const file = path.join(zones, 'steer.test.zone');
    fs.appendFileSync(file, 'new  A   192.0.2.123\n');
    server.proc.kill('SIGHUP');
    expect((await untilEveryWorker('new.steer.test', '193.0.0.0/24', ['192.0.2.123'])).size).toBe(WORKERS);
  });

  it('a worker that dies is replaced', async () => {
    const serving = server.logs.filter((l) => l.msg === 'worker serving' && l.worker === 0);
    const pid = Number(serving[serving.length - 1].pid);
    const replaced = server.waitForLog((l) => l.msg === 'worker serving' && l.worker === 0 && l.pid !== pid, 15_000);
    process.kill(pid, 'SIGKILL');
    await replaced;
    expect(server.logs.some((l) => l.msg === 'worker died: starting a new one' && l.pid === pid)).toBe(true);
    expect((await untilEveryWorker('api.steer.test', '193.0.0.0/24', ['198.51.100.10'])).size).toBe(WORKERS);
    const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    expect(text).toMatch(/regiondns_worker_restarts_total 1/);
  });
});
