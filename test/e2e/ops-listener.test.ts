// The HTTP (ops) listener under abuse, through real sockets: callers without a token cost no body
// buffer however large the body they announce; partial-body and idle connections past the caps are
// refused or timed out; and meanwhile DNS (UDP and TCP), health probes and an authorized drain keep
// working. Clients come from several loopback addresses (127.0.0.2, .3 …) to be told apart.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery, ecsOption, parse, tcpExchange } from '../helpers/dns-client.js';
import { metricValue, scrape } from '../helpers/fuzz.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { GEOIP_FIXTURE, zonesWithHealthyTarget } from '../helpers/steer-zones.js';
import { askWithNsid } from '../helpers/workers.js';

const TOKEN = 'ops-listener-token-0123456789';
const MAX = 16;
const PER_CLIENT = 6;
const REQUEST_TIMEOUT_MS = 2_000;
const EU = '198.51.100.10'; // api.steer.test for Amsterdam while eu-central is up (and not drained)
const US = '192.0.2.10';
let server: ServerProcess;
let target: http.Server;
let zones: string;

beforeAll(async () => {
  ({ target, zones } = await zonesWithHealthyTarget('regiondns-ops-listener-'));
  const tokens = path.join(zones, 'tokens');
  fs.writeFileSync(tokens, `test:${TOKEN}\n`);
  server = await startServer(['--zones', zones, '--geoip', GEOIP_FIXTURE, '--ops-tokens', tokens,
    '--http-max-connections', String(MAX), '--http-max-connections-per-client', String(PER_CLIENT), '--http-request-timeout', String(REQUEST_TIMEOUT_MS)]);
});
afterAll(async () => {
  await server?.stop();
  target?.close();
  if (zones) fs.rmSync(zones, { recursive: true, force: true });
});

const url = (p: string) => `http://127.0.0.1:${server.httpPort}${p}`;
const auth = { authorization: `Bearer ${TOKEN}` };

/** Resident memory of the server process, in bytes. */
function rss(): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${server.proc.pid}/status`, 'utf8'))?.[1]);
  return kb * 1024;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** POSTs a body of `bytes` (announced in content-length, sent in 1 MiB chunks until the server answers). */
function bigPost(pathname: string, bytes: number, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // Keep-alive, as curl and browsers send: with "connection: close" the server may close before the client reads the answer.
    const req = http.request(url(pathname), { method: 'POST', agent: keepAlive, headers: { 'content-type': 'text/csv', 'content-length': String(bytes), ...headers } });
    const chunk = Buffer.alloc(1 << 20, 'a');
    let sent = 0;
    let answered = false;
    const pump = () => {
      while (!answered && sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { req.once('drain', pump); return; }
      }
      if (!answered) req.end();
    };
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => { req.destroy(); resolve({ status: res.statusCode ?? 0, body }); });
    });
    req.on('error', (e) => { if (!answered) reject(e); });
    pump();
  });
}

/**
 * What an attacker does: headers, then the whole announced body whatever the answer, on one raw
 * keep-alive connection. Resolves with the answer once every byte is written (or the server closed).
 */
function rawPost(pathname: string, bytes: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.httpPort, '127.0.0.1');
    const chunk = Buffer.alloc(1 << 20, 'a');
    let sent = 0;
    let text = '';
    let written = false;
    const done = () => {
      const m = /^HTTP\/1\.1 (\d+)([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
      if (!m || !written) return;
      // The first answer only: what the server says after it (to the bytes it did not read) is not it.
      const length = /\r\ncontent-length: *(\d+)/i.exec(m[2]);
      const body = length ? m[3].slice(0, Number(length[1])) : m[3];
      socket.destroy();
      resolve({ status: Number(m[1]), body });
    };
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!socket.write(chunk)) { socket.once('drain', pump); return; }
      }
      written = true;
      done();
    };
    socket.setEncoding('utf8').on('data', (d: string) => { text += d; done(); });
    socket.on('error', (e) => { if (!text) reject(e); });
    socket.on('close', () => { written = true; done(); });
    socket.on('connect', () => {
      socket.write(`POST ${pathname} HTTP/1.1\r\nHost: x\r\ncontent-type: text/csv\r\ncontent-length: ${bytes}\r\n\r\n`);
      pump();
    });
  });
}

/** An API answer's error code. */
const codeOf = (body: string): string => (JSON.parse(body) as { error: { code: string } }).error.code;

async function drain(method: 'POST' | 'DELETE'): Promise<number> {
  const res = await fetch(url('/v1/regions/eu-central/drain'), {
    method, headers: { ...auth, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
    body: method === 'POST' ? JSON.stringify({ reason: 'test' }) : undefined,
  });
  await res.text();
  return res.status;
}

/** The A answer for api.steer.test from Amsterdam over UDP and over TCP. */
async function dnsAnswers(): Promise<{ udp: string[]; tcp: string[] }> {
  const udp = (await askWithNsid(server.port, 'api.steer.test', '193.0.0.0/24')).answer;
  const [reply] = await tcpExchange(server.port, [buildQuery('api.steer.test', 'A', { edns: { options: [ecsOption('193.0.0.0/24')] } })]);
  const tcp = parse(reply).answers.map((a: { address: string }) => a.address);
  return { udp, tcp };
}

interface Held { socket: net.Socket; closed: Promise<number | null>; data: string }

/** Connections from `from`: idle (nothing sent) or with a partial body (headers and 5 of 1,000 body bytes, a valid token). */
async function open(from: string, count: number, kind: 'idle' | 'partial'): Promise<Held[]> {
  const out: Held[] = [];
  for (let i = 0; i < count; i++) {
    const socket = net.connect({ port: server.httpPort, host: '127.0.0.1', localAddress: from });
    const held: Held = { socket, closed: new Promise((r) => socket.once('close', () => r(Date.now()))), data: '' };
    socket.on('error', () => undefined);
    socket.setEncoding('utf8').on('data', (d: string) => { held.data += d; });
    await new Promise<void>((resolve) => { socket.once('connect', resolve); socket.once('close', () => resolve()); });
    if (kind === 'partial' && !socket.destroyed) {
      socket.write(`POST /v1/regions/eu-central/drain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"rea`);
    }
    out.push(held);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stillOpen = (held: Held[]) => held.filter((h) => !h.socket.destroyed).length;

describe('an ops listener no one can exhaust', () => {
  it('six unauthenticated 60 MiB posts: each 401 before the body is read, and RSS stays flat', async () => {
    const before = rss();
    for (let i = 0; i < 6; i++) {
      const r = await rawPost('/v1/tenants:import', 60 * 1024 * 1024);
      expect(r.status).toBe(401);
      expect(codeOf(r.body)).toBe('REGIONDNS_ERR_UNAUTHORIZED');
    }
    const growth = rss() - before;
    // One buffered body alone would be 60 MiB (the import route's limit is 64 MiB).
    expect(growth).toBeLessThan(40 * 1024 * 1024);
  }, 60_000);

  it('bodies: 64 KiB elsewhere, the large limit only for an authorized import; fastify errors carry our codes', async () => {
    const big = await bigPost('/v1/regions/eu-central/drain', 100 * 1024, { ...auth, 'content-type': 'application/json' });
    expect(big.status).toBe(413);
    expect(codeOf(big.body)).toBe('REGIONDNS_ERR_BODY_TOO_LARGE');
    // Past auth and the 64 KiB limit: refused by the route itself (no hostname here routes tenants).
    const imp = await bigPost('/v1/tenants:import', 100 * 1024, auth);
    expect(imp.status).toBe(404);
    expect(codeOf(imp.body)).toBe('REGIONDNS_ERR_NOT_FOUND');
    const badJson = await fetch(url('/v1/regions/eu-central/drain'), { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"reason":' });
    expect(badJson.status).toBe(400);
    expect(codeOf(await badJson.text())).toBe('REGIONDNS_ERR_BAD_REQUEST');
    // A small body refused before it was read does not cost the connection: the next call on it works.
    const refused = await fetch(url('/v1/regions/eu-central/drain'), { method: 'POST', headers: { authorization: 'Bearer not-a-valid-token-at-all', 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'no' }) });
    expect(refused.status).toBe(401);
    await refused.text();
    expect(await drain('POST')).toBe(200);
    expect(await drain('DELETE')).toBe(200);
    const nowhere = await fetch(url('/nowhere'));
    expect(nowhere.status).toBe(404);
    expect(codeOf(await nowhere.text())).toBe('REGIONDNS_ERR_NOT_FOUND');
  });

  it('past the per-client cap: the excess is refused; DNS, probes and an authorized drain from elsewhere keep working', async () => {
    const refusedBefore = metricValue(await scrape(server.httpPort), 'regiondns_http_connections_refused_total', '{reason="client-over-capacity"}');
    const held = [...await open('127.0.0.2', 10, 'idle'), ...await open('127.0.0.2', 10, 'partial')];
    await sleep(300);
    expect(stillOpen(held)).toBeLessThanOrEqual(PER_CLIENT);
    expect(stillOpen(held)).toBeGreaterThan(0);
    expect(await dnsAnswers()).toEqual({ udp: [EU], tcp: [EU] });
    expect(await drain('POST')).toBe(200);
    expect((await askWithNsid(server.port, 'api.steer.test', '193.0.0.0/24')).answer).toEqual([US]);
    expect(await drain('DELETE')).toBe(200);
    expect(await dnsAnswers()).toEqual({ udp: [EU], tcp: [EU] });
    const text = await scrape(server.httpPort);
    expect(metricValue(text, 'regiondns_http_connections_refused_total', '{reason="client-over-capacity"}')).toBeGreaterThanOrEqual(refusedBefore + 20 - PER_CLIENT);
    for (const h of held) h.socket.destroy();
  });

  it('past the global cap: the excess is refused, DNS and probes keep working, and the timeouts free every slot', async () => {
    const held: Held[] = [];
    for (const from of ['127.0.0.3', '127.0.0.4', '127.0.0.5']) {
      held.push(...await open(from, 3, 'idle'), ...await open(from, 3, 'partial'));
    }
    await sleep(300);
    expect(stillOpen(held)).toBeLessThanOrEqual(MAX);
    expect(stillOpen(held)).toBeLessThan(held.length); // 18 asked, at most 16 held
    // Probes run (fall: 3: a second of failures would show as the US answer) and DNS answers on both transports.
    for (let i = 0; i < 5; i++) {
      expect(await dnsAnswers()).toEqual({ udp: [EU], tcp: [EU] });
      await sleep(200);
    }
    // Idle sockets meet the header timeout, partial bodies the request timeout: a 408 with our code.
    const closedAt = await Promise.all(held.map((h) => Promise.race([h.closed, sleep(REQUEST_TIMEOUT_MS + 8_000).then(() => null)])));
    expect(closedAt.every((t) => t !== null)).toBe(true);
    const timedOut = held.filter((h) => h.data.startsWith('HTTP/1.1 408'));
    expect(timedOut.length).toBeGreaterThan(0);
    expect(timedOut[0].data).toContain('REGIONDNS_ERR_REQUEST_TIMEOUT');
    const text = await scrape(server.httpPort);
    expect(metricValue(text, 'regiondns_http_connections_refused_total', '{reason="over-capacity"}')).toBeGreaterThan(0);
    expect(metricValue(text, 'regiondns_check_transitions_total', '{region="eu-central",check="http#0",to="down"}')).toBe(0);
    expect(await drain('POST')).toBe(200);
    expect(await drain('DELETE')).toBe(200);
  });
});
