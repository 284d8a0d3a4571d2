// Multi-core: every state change (zone reload, health, drain) reaches every worker, and a worker
// that dies is replaced. Workers are told apart by NSID (RFC 5001), which each reply carries.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, startServer, type ServerProcess } from '../helpers/server-process.js';
import { steerZonesWithCheck } from '../helpers/steer-zones.js';
import { killWorker, untilEveryWorker as everyWorker, workerFaultEnv } from '../helpers/workers.js';

const WORKERS = 2;
const TOKEN = 'ops-test-token-0123456789';
let server: ServerProcess;
let zones: string;
let target: http.Server;
let targetStatus = 200;
const fault = workerFaultEnv();

/** Asks until every worker has answered `expected` (bounded: 2,000 queries or 10 s), and returns the workers seen. */
const untilEveryWorker = (name: string, subnet: string, expected: string[]) => everyWorker(server.port, WORKERS, name, subnet, expected);

beforeAll(async () => {
  target = http.createServer((_req, res) => { res.statusCode = targetStatus; res.end(targetStatus === 200 ? 'ok' : 'no'); });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const tport = (target.address() as AddressInfo).port;
  zones = steerZonesWithCheck('regiondns-workers-', `http://127.0.0.1:${tport}/healthz`, 'interval: 200ms, timeout: 100ms, rise: 1, fall: 1');
  const tokens = path.join(zones, '..', `tokens-${process.pid}`);
  fs.writeFileSync(tokens, `test:${TOKEN}\n`);
  server = await startServer(['--zones', zones, '--geoip', path.join(REPO, 'geo/fixtures/world-geoip2.mmdb'),
    '--workers', String(WORKERS), '--nsid', 'auto', '--ops-tokens', tokens, '--worker-stall-timeout', '2s'], { env: fault });
});
afterAll(async () => {
  await server?.stop();
  target?.close();
  if (zones) fs.rmSync(zones, { recursive: true, force: true });
  fs.rmSync(fault.REGIONDNS_TEST_FAULT_DIR, { recursive: true, force: true });
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

  it('a zone reload (SIGHUP) reaches every worker, the folder read once', async () => {
    const file = path.join(zones, 'steer.test.zone');
    const logsBefore = server.logs.length;
    const reloadsBefore = server.logs.filter((l) => l.msg === 'reload done').length;
    fs.appendFileSync(file, 'new  A   192.0.2.123\n');
    server.proc.kill('SIGHUP');
    expect((await untilEveryWorker('new.steer.test', '193.0.0.0/24', ['192.0.2.123'])).size).toBe(WORKERS);
    // The folder is read once, by the primary's reload process; the workers take what it validated.
    const rolled = (l: Record<string, unknown>) => l.msg === 'workers reloaded' && l.workers === WORKERS && l.failed === 0;
    if (!server.logs.slice(logsBefore).some(rolled)) await server.waitForLog(rolled);
    expect(server.logs.filter((l) => l.msg === 'reload done').length).toBe(reloadsBefore + 1);
  });

  it('endpoint checks added by a reload reach every worker: a failing endpoint leaves their answers', async () => {
    let status = 200;
    const endpoint = http.createServer((_req, res) => { res.statusCode = status; res.end(); });
    await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
    try {
      const check = `{ type: http, url: "http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/", interval: 200ms, timeout: 100ms, rise: 1, fall: 1 }`;
      fs.appendFileSync(path.join(zones, 'steer.test.steer.yaml'), [
        '  pair:',
        '    pools:',
        `      eu-central: [{ address: 198.51.100.21, checks: [${check}] }, 198.51.100.22]`,
        '      us-east: [192.0.2.21]',
        '',
      ].join('\n'));
      server.proc.kill('SIGHUP');
      const both = ['198.51.100.21', '198.51.100.22'];
      expect((await untilEveryWorker('pair.steer.test', '193.0.0.0/24', both)).size).toBe(WORKERS);
      status = 500;
      expect((await untilEveryWorker('pair.steer.test', '193.0.0.0/24', ['198.51.100.22'])).size).toBe(WORKERS);
      status = 200;
      expect((await untilEveryWorker('pair.steer.test', '193.0.0.0/24', both)).size).toBe(WORKERS);
    } finally {
      endpoint.close();
    }
  });

  it('a worker that dies is replaced, and the others keep serving', async () => {
    const thread = await killWorker(server, fault.REGIONDNS_TEST_FAULT_DIR, 0);
    expect(server.logs.some((l) => l.msg === 'worker failed' && l.thread === thread && String((l.err as { message?: string })?.message).includes('fault injected'))).toBe(true);
    expect(server.logs.some((l) => l.msg === 'worker died: starting a new one' && l.thread === thread)).toBe(true);
    // One process: the worker's thread ended, not the instance.
    expect(server.proc.exitCode).toBeNull();
    expect((await untilEveryWorker('api.steer.test', '193.0.0.0/24', ['198.51.100.10'])).size).toBe(WORKERS);
    const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    expect(text).toMatch(/regiondns_worker_restarts_total 1/);
  });

  it('a worker whose event loop is stuck is ended by the heartbeat and replaced', async () => {
    const restarts = async () => Number(/regiondns_worker_restarts_total (\d+)/.exec(await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text())?.[1]);
    const before = await restarts();
    const thread = await killWorker(server, fault.REGIONDNS_TEST_FAULT_DIR, 1, 'stall');
    const stalled = server.logs.find((l) => l.msg === 'worker stalled: ending it' && l.thread === thread);
    expect(stalled).toBeDefined();
    expect(Number(stalled!.silentMs)).toBeGreaterThan(2000);
    expect((await untilEveryWorker('api.steer.test', '193.0.0.0/24', ['198.51.100.10'])).size).toBe(WORKERS);
    expect(await restarts()).toBe(before + 1);
  });
});
