// DNS over TCP against the live server (RFC 7766): idle connections are closed, slow clients are
// bounded, the connection cap holds, pipelined and byte-split queries are answered, and a client
// that stops reading costs bounded memory yet loses no reply.
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery, tcpExchange, udpExchange } from '../helpers/dns-client.js';
import { answersWww, closedWithin, FrameReader, frame, metricValue, scrape, waitForMetric } from '../helpers/fuzz.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const IDLE_MS = 500;
const MAX_CONNECTIONS = 5;
/** DEFAULT_TCP_OPTIONS.messageTimeoutMs: the CLI has no flag for it, so the slow tests wait it out. */
const MESSAGE_TIMEOUT_MS = 10_000;

const ZONES = path.resolve(import.meta.dirname, 'zones');
let server: ServerProcess;

beforeAll(async () => {
  server = await startServer(['--zones', ZONES, '--no-geoip', '--tcp-idle-timeout', String(IDLE_MS), '--tcp-max-connections', String(MAX_CONNECTIONS)]);
});
afterAll(async () => {
  await server?.stop();
});
// Each test starts with no connection open: the cap is small and the gauge is asserted on.
afterEach(async () => {
  expect(await waitForMetric(server.httpPort, 'regiondns_tcp_connections', '', (v) => v === 0, 5000)).toBe(0);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function connect(): Promise<net.Socket> {
  const sock = net.connect(server.port, '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  return sock;
}

async function metric(name: string, labels = ''): Promise<number> {
  return metricValue(await scrape(server.httpPort), name, labels);
}
const closedFor = (reason: string) => metric('regiondns_tcp_closed_total', `{reason="${reason}"}`);
const openGauge = (pred: (v: number) => boolean) => waitForMetric(server.httpPort, 'regiondns_tcp_connections', '', pred);

describe('RFC 7766 §6.2.3: idle and slow connections are closed', () => {
  it('an idle connection that sends nothing is closed after the idle timeout', async () => {
    const idleBefore = await closedFor('idle');
    const sock = await connect();
    const closed = closedWithin(sock, 2000);
    let ended = false;
    sock.on('end', () => { ended = true; });
    expect(await openGauge((v) => v === 1)).toBe(1);
    const after = await closed;
    expect(after).not.toBeNull();
    expect(after!).toBeGreaterThanOrEqual(IDLE_MS - 100); // not before the timeout (the server's clock starts at accept)
    expect(ended).toBe(true); // a FIN: nothing was left unread, so no reset
    expect(await openGauge((v) => v === 0)).toBe(0);
    expect(await closedFor('idle')).toBe(idleBefore + 1);
  });

  it(`a slow-drip client and a client that never reads are closed at the ${MESSAGE_TIMEOUT_MS / 1000} s deadline, not kept forever`, async () => {
    const before = { idle: await closedFor('idle'), message: await closedFor('message-timeout'), stall: await closedFor('write-stall') };

    // 4,000 pipelined queries for a ~2 KB RRset and never a read: ~8.5 MB of replies, more than the
    // kernel buffers hold, so the server's writes stall. Each TXT query is tiny; the reply is not.
    // Sent first: building them blocks this event loop, which would stretch the drip's gaps below.
    const queries = Buffer.concat(Array.from({ length: 4000 }, (_, i) => frame(buildQuery('big.e2e.test', 'TXT', { id: i }))));
    const stalled = await connect();
    stalled.on('error', () => undefined);
    stalled.pause();
    stalled.write(queries);

    // One byte every 200 ms of a frame claiming 200 octets: each byte resets the idle timer, and the
    // message would take 40 s to arrive, so only the per-message deadline can end it.
    const drip = await connect();
    drip.on('error', () => undefined);
    const dripped = Buffer.alloc(202, 0x41);
    dripped.writeUInt16BE(200, 0);
    let sent = 0;
    const timer = setInterval(() => { if (!drip.destroyed && sent < dripped.length) drip.write(dripped.subarray(sent, ++sent)); }, 200);

    const started = Date.now();
    try {
      // A paused client does not watch its socket, so the server's close of the stalled one is read
      // from /metrics; resuming afterwards shows the reset.
      const [dripClosed, stallCount] = await Promise.all([
        closedWithin(drip, MESSAGE_TIMEOUT_MS + 3000),
        waitForMetric(server.httpPort, 'regiondns_tcp_closed_total', '{reason="write-stall"}', (v) => v > before.stall, MESSAGE_TIMEOUT_MS + 3000),
      ]);
      const stallClosed = Date.now() - started;
      expect(dripClosed).not.toBeNull();
      expect(dripClosed!, 'drip closed after (ms)').toBeGreaterThan(MESSAGE_TIMEOUT_MS - 500);
      expect(sent).toBeLessThan(dripped.length);
      expect(stallCount).toBe(before.stall + 1);
      expect(stallClosed, 'stalled reader closed after (ms)').toBeGreaterThan(MESSAGE_TIMEOUT_MS - 500); // not idle after 500 ms
      stalled.resume();
      expect(await closedWithin(stalled, 2000)).not.toBeNull();
    } finally {
      clearInterval(timer);
      drip.destroy();
      stalled.destroy();
    }
    expect(await openGauge((v) => v === 0)).toBe(0);
    expect(await closedFor('message-timeout')).toBe(before.message + 1);
    expect(await closedFor('write-stall')).toBe(before.stall + 1);
    expect(await closedFor('idle')).toBe(before.idle);
  }, MESSAGE_TIMEOUT_MS + 10_000);
});

describe('connection cap', () => {
  it(`refuses a connection past ${MAX_CONNECTIONS} open ones; once they close a new one is served`, async () => {
    const overBefore = await closedFor('over-capacity');
    const open: { sock: net.Socket; reader: FrameReader }[] = [];
    for (let i = 0; i < MAX_CONNECTIONS; i++) {
      const sock = await connect();
      const reader = new FrameReader(sock);
      sock.write(frame(buildQuery('www.e2e.test', 'A', { id: i })));
      await reader.waitFor(1, 2000); // answered: the server has counted it
      open.push({ sock, reader });
    }
    // Keep them busy, well inside the idle timeout, while the next one knocks.
    let n = 0;
    const keepAlive = setInterval(() => { for (const c of open) c.sock.write(frame(buildQuery('www.e2e.test', 'A', { id: 100 + n++ }))); }, IDLE_MS / 4);
    try {
      expect(await openGauge((v) => v === MAX_CONNECTIONS)).toBe(MAX_CONNECTIONS);
      const extra = net.connect(server.port, '127.0.0.1');
      const extraReader = new FrameReader(extra);
      extra.on('connect', () => extra.write(frame(buildQuery('www.e2e.test', 'A', { id: 999 }))));
      expect(await closedWithin(extra, 1000)).not.toBeNull();
      expect(extraReader.replies).toEqual([]);
      expect(await closedFor('over-capacity')).toBe(overBefore + 1);
      expect(open.every((c) => !c.sock.destroyed)).toBe(true);
    } finally {
      clearInterval(keepAlive);
    }
    await Promise.all(open.map((c) => { c.sock.end(); return closedWithin(c.sock, 2000); }));
    expect(await openGauge((v) => v === 0)).toBe(0);
    const [reply] = await tcpExchange(server.port, [buildQuery('www.e2e.test', 'A', { id: 4242 })]);
    expect(answersWww(reply, 4242)).toBe(true);
  });
});

describe('RFC 7766 §6.2.1.1: pipelining and framing', () => {
  it('200 queries in one write get 200 replies with matching ids', async () => {
    const names = ['www.e2e.test', 'alias.e2e.test', 'nope.e2e.test', 'x.wild.e2e.test', 'example.org'];
    const replies = await tcpExchange(server.port, Array.from({ length: 200 }, (_, i) => buildQuery(names[i % names.length], 'A', { id: 1000 + i })));
    expect(replies).toHaveLength(200);
    expect(replies.map((r) => r.readUInt16BE(0)).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => 1000 + i));
    for (const r of replies) {
      const id = r.readUInt16BE(0);
      expect(r[3] & 0x0f, `rcode of ${id}`).toBe([0, 0, 3, 0, 5][(id - 1000) % names.length]);
    }
  });

  it('a query split byte by byte over many writes is answered', async () => {
    const sock = await connect();
    const reader = new FrameReader(sock);
    const bytes = frame(buildQuery('www.e2e.test', 'A', { id: 77, edns: true }));
    for (let i = 0; i < bytes.length; i++) {
      sock.write(bytes.subarray(i, i + 1));
      await sleep(5);
    }
    const [reply] = await reader.waitFor(1, 2000);
    expect(answersWww(reply, 77)).toBe(true);
    sock.end();
    await closedWithin(sock, 2000);
  });
});

describe('backpressure', () => {
  it('a client that does not read for a while gets all 2,000 replies; others are served meanwhile', async () => {
    // 2,000 replies of ~2.1 KB: ~4.3 MB, more than the kernel buffers take, so the server must hold
    // back. The pause is three idle timeouts long: writes pending on a slow reader are not idleness.
    const N = 2000;
    const PAUSE_MS = 3 * IDLE_MS;
    const queries = Buffer.concat(Array.from({ length: N }, (_, i) => frame(buildQuery('big.e2e.test', 'TXT', { id: i }))));
    const slow = await connect();
    const reader = new FrameReader(slow);
    slow.pause();
    slow.write(queries);

    // Meanwhile another client is answered promptly over TCP and UDP.
    const slowest: number[] = [];
    const until = Date.now() + PAUSE_MS;
    for (let i = 0; Date.now() < until; i++) {
      const t0 = Date.now();
      const [viaTcp] = await tcpExchange(server.port, [buildQuery('www.e2e.test', 'A', { id: 5000 + i })], 1, '127.0.0.1', 1000);
      expect(answersWww(viaTcp, 5000 + i)).toBe(true);
      expect(answersWww(await udpExchange(server.port, buildQuery('www.e2e.test', 'A', { id: 6000 + i }), '127.0.0.1', 1000), 6000 + i)).toBe(true);
      slowest.push(Date.now() - t0);
      await sleep(50);
    }
    expect(Math.max(...slowest)).toBeLessThan(500);
    expect(reader.replies.length).toBeLessThan(N); // it really was not reading
    expect(slow.destroyed).toBe(false);

    slow.resume();
    const replies = await reader.waitFor(N, 10_000);
    expect(replies).toHaveLength(N);
    const ids = new Set(replies.map((r) => r.readUInt16BE(0)));
    expect(ids.size).toBe(N);
    expect([...ids].every((id) => id < N)).toBe(true);
    for (const r of replies) {
      expect(r[3] & 0x0f).toBe(0);
      expect(r.readUInt16BE(6)).toBe(9); // ANCOUNT: the whole RRset, never truncated over TCP
    }
    slow.end();
    await closedWithin(slow, 2000);
    expect(server.proc.exitCode).toBeNull();
  });
});
