// Hostile input against the live server: seeded random and mutated packets over UDP and over TCP
// (several connections, lying length prefixes, zero-length frames, giant frames, half messages, resets),
// then checks that it still answers, is alive, counted the malformed kinds and did not keep what it read.
// HOSTILE_SEED explores other seeds; a failure names the seed it ran with.
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32, type Rng } from '../../src/steering/rng.js';
import { dig } from '../helpers/dig.js';
import { buildQuery, tcpExchange, udpExchange } from '../helpers/dns-client.js';
import { answersWww, closedWithin, FrameReader, frame, hostilePacket, int, metricValue, randomBytes, scrape, series, waitForMetric } from '../helpers/fuzz.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const SEED = process.env.HOSTILE_SEED ? Number(process.env.HOSTILE_SEED) : 0x40571e;
const UDP_PACKETS = 5000;
const TCP_FRAMES = 5000;
const UDP_BATCH = 50;
const TCP_WORKERS = 4;
const TIME_BUDGET_MS = 30_000;
const MiB = 1024 * 1024;
// Memory: RSS is noisy. V8 grows its heap in steps and malloc keeps pages it has freed, so the first
// burst of hostile traffic leaves the server ~50 MB larger with nothing leaked (measured). The baseline
// is therefore read after a smaller warm-up round; the main round then adds 0-25 MB whether it sends
// 96 or 384 MiB (measured). 64 MB is over twice that noise, yet below the ≥ 96 MiB the main round
// pushes through TCP (most in giant frames and half-sent 64 KB messages), so a server that kept what
// it read, per connection or per message (a pinned chunk, a partial buffer never freed), would fail.
const RSS_GROWTH_BOUND = 64 * MiB;
const MIN_TCP_BYTES = 96 * MiB;

interface Targets { udpPackets: number; tcpFrames: number; tcpBytes: number }
const TARGETS: Targets = { udpPackets: UDP_PACKETS, tcpFrames: TCP_FRAMES, tcpBytes: MIN_TCP_BYTES };
/** A first, smaller round: RSS is read after it, so the baseline already holds the heap such traffic grows. */
const WARM_UP: Targets = { udpPackets: 1000, tcpFrames: 1000, tcpBytes: 24 * MiB };

const ZONES = path.resolve(import.meta.dirname, 'zones');
let server: ServerProcess;

beforeAll(async () => {
  server = await startServer(['--zones', ZONES, '--no-geoip']);
});
afterAll(async () => {
  await server?.stop();
});

interface Tally {
  sent: number;
  bytes: number;
  replies: number;
  /** Replies that are not a DNS response (shorter than a header, or QR clear): never acceptable. */
  notResponses: number;
}

const newTally = (): Tally => ({ sent: 0, bytes: 0, replies: 0, notResponses: 0 });
const isResponse = (m: Buffer): boolean => m.length >= 12 && (m[2] & 0x80) !== 0;

/**
 * Batches of UDP_BATCH packets from one socket; after each, a valid probe from another socket. The
 * server reads its socket in order, so the probe's answer means the batch was handled: the send
 * rate stays bounded by the server's pace and no socket buffer overflows.
 */
async function udpBarrage(rng: Rng, target: number, deadline: number): Promise<Tally & { probesLost: number }> {
  const t = { ...newTally(), probesLost: 0 };
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m) => { t.replies++; if (!isResponse(m)) t.notResponses++; });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  try {
    for (let batch = 0; t.sent < target && Date.now() < deadline; batch++) {
      const packets = Array.from({ length: UDP_BATCH }, () => hostilePacket(rng, rng() < 0.05 ? 8000 : 600));
      await Promise.all(packets.map((p) => new Promise((r) => sock.send(p, server.port, '127.0.0.1', r))));
      t.sent += packets.length;
      t.bytes += packets.reduce((n, p) => n + p.length, 0);
      const id = 0xa000 + (batch & 0xfff);
      const reply = await udpExchange(server.port, buildQuery('www.e2e.test', 'A', { id }), '127.0.0.1', 1000).catch(() => null);
      if (!reply || !answersWww(reply, id)) t.probesLost++;
    }
    await new Promise((r) => setTimeout(r, 100)); // replies to the last batch
  } finally {
    sock.close();
  }
  return t;
}

// A pool of noise for giant frames: cheap to slice, so the run's bytes cost no per-byte draws.
const POOL_SIZE = 1 << 20;

/** One TCP connection's worth of hostile frames, as one stream of bytes. */
function hostileStream(rng: Rng, pool: Buffer, t: Tally): { bytes: Buffer; ending: 'end' | 'half' | 'reset' } {
  const parts: Buffer[] = [];
  const frames = 10 + int(rng, 70);
  for (let i = 0; i < frames; i++) {
    const r = rng();
    if (r < 0.05) {
      parts.push(Buffer.from([0, 0])); // a zero-length frame
    } else if (r < 0.1) {
      // A lying length prefix: the rest of the stream is read out of step.
      const m = hostilePacket(rng);
      const lies = [m.length + 1 + int(rng, 100), Math.max(0, m.length - 1 - int(rng, m.length)), 0xffff, int(rng, 0x10000)];
      parts.push(frame(m, lies[int(rng, lies.length)]));
    } else if (r < 0.35) {
      // A giant frame: noise, or a valid-looking header and question followed by noise.
      const len = 16_384 + int(rng, 65_536 - 16_384);
      const at = int(rng, POOL_SIZE - len);
      const body = Buffer.from(pool.subarray(at, at + len));
      if (rng() < 0.5) hostilePacket(rng).copy(body);
      parts.push(frame(body));
    } else {
      parts.push(frame(hostilePacket(rng)));
    }
    t.sent++;
  }
  const r = rng();
  let ending: 'end' | 'half' | 'reset' = 'end';
  if (r < 0.25) {
    // Half a message, then close: a 64 KB one half the time, so the server buffers a lot for nothing.
    const m = rng() < 0.5 ? frame(randomBytes(rng, 200)) : frame(pool.subarray(0, 0xffff));
    parts.push(m.subarray(0, 1 + int(rng, m.length - 1)));
    t.sent++;
    ending = 'half';
  } else if (r < 0.35) {
    ending = 'reset';
  }
  return { bytes: Buffer.concat(parts), ending };
}

/** Connections one after another until both the frame and the byte targets are met. */
async function tcpWorker(rng: Rng, pool: Buffer, target: Targets, deadline: number, t: Tally, hung: string[]): Promise<void> {
  while ((t.sent < target.tcpFrames || t.bytes < target.tcpBytes) && Date.now() < deadline) {
    const { bytes, ending } = hostileStream(rng, pool, t);
    const sock = net.connect(server.port, '127.0.0.1');
    sock.setNoDelay(true);
    const reader = new FrameReader(sock);
    const connected = await new Promise<boolean>((r) => { sock.once('connect', () => r(true)); sock.once('error', () => r(false)); });
    if (!connected) { hung.push('connect failed'); continue; }
    // Writes of random sizes, tiny ones now and then, so frames and length prefixes straddle segments.
    for (let off = 0; off < bytes.length;) {
      const size = rng() < 0.2 ? 1 + int(rng, 16) : 1 + int(rng, 16_384);
      sock.write(bytes.subarray(off, off + size));
      off += size;
    }
    t.bytes += bytes.length;
    if (ending === 'reset') {
      await new Promise((r) => setTimeout(r, int(rng, 5)));
      sock.resetAndDestroy();
    } else {
      // The server must finish (or drop) what it read and close once we do: allowHalfOpen is off.
      sock.end();
      if ((await closedWithin(sock, 5000)) === null) { hung.push(`${bytes.length} bytes, ${ending}`); sock.destroy(); }
    }
    t.replies += reader.replies.length;
    t.notResponses += reader.replies.filter((m) => !isResponse(m)).length;
  }
}

/** UDP batches and TCP_WORKERS TCP connections at once, each from its own seeded stream, until the targets or the deadline. */
async function barrage(seed: number, pool: Buffer, target: Targets, deadline: number) {
  const started = Date.now();
  const tcp = newTally();
  const hung: string[] = [];
  const [udp] = await Promise.all([
    udpBarrage(mulberry32(seed ^ 0x75647000), target.udpPackets, deadline),
    ...Array.from({ length: TCP_WORKERS }, (_, w) => tcpWorker(mulberry32(seed ^ (0x74637000 + w)), pool, target, deadline, tcp, hung)),
  ]);
  // Only the server's own closes are left to count down.
  await waitForMetric(server.httpPort, 'regiondns_tcp_connections', '', (v) => v === 0);
  return { udp, tcp, hung, elapsed: Date.now() - started };
}

describe(`hostile traffic (seed ${SEED.toString(16)})`, () => {
  it(`survives ${UDP_PACKETS} UDP packets and ${TCP_FRAMES} TCP frames, still answering, within bounded memory`, async () => {
    const deadline = Date.now() + TIME_BUDGET_MS; // both rounds: the sends stop there, the counts say if enough went
    const pool = randomBytes(mulberry32(SEED), POOL_SIZE);
    await barrage(SEED + 1, pool, WARM_UP, deadline);
    const before = await scrape(server.httpPort);
    const rssBefore = metricValue(before, 'regiondns_process_resident_memory_bytes');
    expect(rssBefore).toBeGreaterThan(0);

    const { udp, tcp, hung, elapsed } = await barrage(SEED, pool, TARGETS, deadline);
    console.log(`hostile: ${udp.sent} UDP packets (${udp.replies} replies), ${tcp.sent} TCP frames, ` +
      `${(tcp.bytes / MiB).toFixed(0)} MiB over TCP (${tcp.replies} replies) in ${elapsed} ms`);

    // The counts were reached inside the time budget.
    expect(udp.sent).toBeGreaterThanOrEqual(UDP_PACKETS);
    expect(tcp.sent).toBeGreaterThanOrEqual(TCP_FRAMES);
    expect(tcp.bytes).toBeGreaterThanOrEqual(MIN_TCP_BYTES);
    // Every batch was followed by a correct answer to a valid query.
    expect(udp.probesLost).toBe(0);
    // The server only ever sends responses, and answers at least the valid share of what it got.
    expect(udp.notResponses + tcp.notResponses).toBe(0);
    expect(udp.replies).toBeGreaterThan(UDP_PACKETS * 0.2);
    expect(tcp.replies).toBeGreaterThan(0);
    // Every connection was closed by the server once the client closed its side.
    expect(hung).toEqual([]);

    // Still serving: UDP, TCP and dig over both.
    expect(server.proc.exitCode).toBeNull();
    expect(server.proc.signalCode).toBeNull();
    expect(answersWww(await udpExchange(server.port, buildQuery('www.e2e.test', 'A', { id: 7 })), 7)).toBe(true);
    const [viaTcp] = await tcpExchange(server.port, [buildQuery('www.e2e.test', 'A', { id: 8 })]);
    expect(answersWww(viaTcp, 8)).toBe(true);
    expect(dig(server.port, ['www.e2e.test', 'A']).answer).toEqual([['www.e2e.test.', '300', 'IN', 'A', '192.0.2.1']]);
    expect(dig(server.port, ['www.e2e.test', 'A', '+tcp']).answer).toEqual([['www.e2e.test.', '300', 'IN', 'A', '192.0.2.1']]);

    // Connections all accounted for, and the memory they used given back.
    expect(await waitForMetric(server.httpPort, 'regiondns_tcp_connections', '', (v) => v === 0)).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    const after = await scrape(server.httpPort);
    const rssAfter = metricValue(after, 'regiondns_process_resident_memory_bytes');
    console.log(`hostile: RSS ${(rssBefore / MiB).toFixed(1)} MiB → ${(rssAfter / MiB).toFixed(1)} MiB`);
    expect(rssAfter - rssBefore).toBeLessThan(RSS_GROWTH_BOUND);

    // Malformed packets were counted by kind; no query hit an internal error.
    const kinds = series(after, 'regiondns_malformed_packets_total');
    const counted = (kind: string) => kinds.get(`{kind="${kind}"}`) ?? 0;
    for (const kind of ['short_header', 'response_bit', 'truncated_question', 'bad_opcode', 'qdcount', 'bad_counts', 'bad_question', 'bad_additional', 'bad_edns', 'bad_ecs', 'two_ecs', 'badvers']) {
      expect(counted(kind), kind).toBeGreaterThan(0);
    }
    expect(metricValue(after, 'regiondns_internal_errors_total')).toBe(0);
    const errors = server.logs.filter((l) => Number(l.level) >= 50);
    expect(errors.map((l) => l.msg)).toEqual([]);
  }, 60_000);
});
