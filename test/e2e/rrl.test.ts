// Response rate limiting end to end: a bounded burst of identical queries over a real UDP socket,
// counted from the replies and from /metrics; TCP exempt; off unless configured.
import dgram from 'node:dgram';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery, flagsOf, parse, tcpExchange } from '../helpers/dns-client.js';
import { scrape, series } from '../helpers/fuzz.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const ZONES = path.resolve(import.meta.dirname, 'zones');
const RATE = 20;
const SLIP = 3;
const BURST = 2000;
const BATCH = 50;
const TIME_BUDGET_MS = 60_000;

/** Per-kind rates for `perKind` (BIND's nxdomains-, nodata-, referrals-, errors-per-second); answers are not limited there. */
const KIND_RATES = { nxdomain: 4, nodata: 6, referral: 8, error: 3 } as const;

let limited: ServerProcess;
let open: ServerProcess;
let perKind: ServerProcess;
let twoWorkers: ServerProcess;

beforeAll(async () => {
  [limited, open, perKind, twoWorkers] = await Promise.all([
    startServer(['--zones', ZONES, '--no-geoip', '--rrl-rate', String(RATE), '--rrl-slip', String(SLIP), '--rrl-window', '30']),
    startServer(['--zones', ZONES, '--no-geoip']),
    startServer(['--zones', ZONES, '--no-geoip', '--rrl-rate', '0', '--rrl-slip', '0',
      '--rrl-nxdomain-rate', String(KIND_RATES.nxdomain), '--rrl-nodata-rate', String(KIND_RATES.nodata),
      '--rrl-referral-rate', String(KIND_RATES.referral), '--rrl-error-rate', String(KIND_RATES.error)]),
    startServer(['--zones', ZONES, '--no-geoip', '--rrl-rate', String(RATE), '--rrl-slip', '0', '--rrl-window', '30', '--workers', '2', '--nsid', 'auto']),
  ]);
});
afterAll(async () => {
  await Promise.all([limited?.stop(), open?.stop(), perKind?.stop(), twoWorkers?.stop()]);
});

const sum = (m: Map<string, number>, pred: (labels: string) => boolean = () => true) =>
  [...m].filter(([l]) => pred(l)).reduce((t, [, v]) => t + v, 0);

interface Counts { udpReplies: number; suppressed: number; slipped: number; truncatedMetric: number }
async function counts(s: ServerProcess): Promise<Counts> {
  const text = await scrape(s.httpPort);
  return {
    udpReplies: sum(series(text, 'regiondns_queries_total'), (l) => l.includes('transport="udp"')),
    suppressed: sum(series(text, 'regiondns_rrl_suppressed_total')),
    slipped: sum(series(text, 'regiondns_rrl_slipped_total')),
    truncatedMetric: sum(series(text, 'regiondns_truncated_responses_total')),
  };
}

/**
 * Sends `total` copies of `query` from one UDP socket in batches; after each batch waits (polling
 * /metrics) until the server has handled all of it, so no socket buffer overflows and nothing is
 * lost to the kernel. Returns the replies.
 */
async function burst(s: ServerProcess, query: Buffer | ((i: number) => Buffer), total: number, given?: dgram.Socket[]): Promise<{ replies: Buffer[]; elapsedMs: number }> {
  // Several sockets (source ports) spread the queries over the workers of a multi-core server (SO_REUSEPORT).
  const socks = given ?? [await udpSocket()];
  const sockets = socks.length;
  const replies: Buffer[] = [];
  const collect = (m: Buffer) => replies.push(m);
  for (const sock of socks) sock.on('message', collect);
  const start = Date.now();
  const base = await counts(s);
  try {
    for (let sent = 0; sent < total; ) {
      const n = Math.min(BATCH, total - sent);
      for (let i = 0; i < n; i++) socks[(sent + i) % sockets].send(typeof query === 'function' ? query(sent + i) : query, s.port, '127.0.0.1');
      sent += n;
      for (;;) {
        const c = await counts(s);
        const handled = c.udpReplies - base.udpReplies + (c.suppressed - base.suppressed) - (c.slipped - base.slipped);
        if (handled >= sent) break;
        if (Date.now() - start > TIME_BUDGET_MS) throw new Error(`server handled ${handled} of ${sent} queries in time`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    // Replies handled are sent at once; give the last ones a moment to be read off the socket.
    const until = Date.now() + 5_000;
    const want = (await counts(s)).udpReplies - base.udpReplies;
    while (replies.length < want && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  } finally {
    for (const sock of socks) if (given) sock.off('message', collect); else sock.close();
  }
  return { replies, elapsedMs: Date.now() - start };
}

async function udpSocket(): Promise<dgram.Socket> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return sock;
}

/** The NSID (RFC 5001) a reply carries: which worker answered. */
function nsidOf(reply: Buffer): string {
  const at = reply.lastIndexOf(Buffer.from([0, 3]));
  return at > 0 ? reply.subarray(at + 4, at + 4 + reply.readUInt16BE(at + 2)).toString() : '';
}

describe('response rate limiting', () => {
  it(`${BURST} identical queries: about ${RATE} answered, the rest suppressed, every ${SLIP}rd suppressed one truncated`, async () => {
    const before = await counts(limited);
    const { replies, elapsedMs } = await burst(limited, buildQuery('www.e2e.test', 'A', { id: 7, edns: true }), BURST);
    const after = await counts(limited);
    const full = replies.filter((r) => !flagsOf(r).tc);
    const tc = replies.filter((r) => flagsOf(r).tc);
    for (const r of full) expect(parse(r).answers.map((a: { address: string }) => a.address)).toEqual(['192.0.2.1']);
    for (const r of tc) expect(parse(r).answers).toHaveLength(0);

    // `RATE` a second at first; a flood that stays above the rate then stays limited (BIND's window),
    // but the burst may straddle second boundaries while the debt is still small.
    const seconds = Math.ceil(elapsedMs / 1000) + 1;
    expect(full.length).toBeGreaterThanOrEqual(RATE);
    expect(full.length).toBeLessThanOrEqual(RATE * seconds);
    const suppressed = after.suppressed - before.suppressed;
    const slipped = after.slipped - before.slipped;
    expect(suppressed).toBe(BURST - full.length);
    // One account: its limited responses are numbered, and every SLIP-th one slips.
    expect(slipped).toBe(Math.floor(suppressed / SLIP));
    expect(tc.length).toBe(slipped);
    expect(after.udpReplies - before.udpReplies).toBe(full.length + slipped);
    // Slips are not "too big for UDP" truncations.
    expect(after.truncatedMetric).toBe(before.truncatedMetric);
    // Labelled by response kind.
    const text = await scrape(limited.httpPort);
    expect(series(text, 'regiondns_rrl_suppressed_total').get('{kind="answer"}')).toBe(after.suppressed);
  });

  it('with --workers 2, the rate holds for the instance: the workers share one table of accounts', async () => {
    const nsid = Buffer.from([0, 3, 0, 0]);
    const socks = await Promise.all(Array.from({ length: 16 }, udpSocket));
    try {
      // Which worker each socket reaches (SO_REUSEPORT keeps a source port on one socket): asked for
      // AAAA, a NODATA account of its own, 16 replies under the rate.
      const probe = buildQuery('www.e2e.test', 'AAAA', { id: 8, edns: { options: [nsid] } });
      const { replies: probes } = await burst(twoWorkers, probe, socks.length, socks);
      expect(new Set(probes.map(nsidOf)).size).toBe(2); // the flood below reaches both workers
      const { replies } = await burst(twoWorkers, buildQuery('www.e2e.test', 'A', { id: 9, edns: { options: [nsid] } }), 1000, socks);
      // One account for both: RATE, not a RATE per worker (a flood above the rate stays in debt, so a
      // second boundary during the burst adds nothing unless it comes within its first RATE queries).
      expect(replies.length).toBeGreaterThanOrEqual(RATE);
      expect(replies.length).toBeLessThan(2 * RATE);
    } finally {
      for (const s of socks) s.close();
    }
  });

  it('TCP is never limited, while the same account over UDP still is', async () => {
    const q = buildQuery('www.e2e.test', 'A', { edns: true });
    const replies = await tcpExchange(limited.port, Array.from({ length: 50 }, () => q), 50, '127.0.0.1', 10_000);
    for (const r of replies) {
      expect(flagsOf(r).tc).toBe(false);
      expect(parse(r).answers).toHaveLength(1);
    }
    const before = await counts(limited);
    const { replies: udp } = await burst(limited, q, SLIP * 2);
    const after = await counts(limited);
    expect(udp.filter((r) => !flagsOf(r).tc)).toHaveLength(0);
    expect(after.suppressed - before.suppressed).toBe(SLIP * 2);
  });

  it('NXDOMAIN is charged to the zone: random names share one account', async () => {
    const before = await counts(limited);
    const sock = dgram.createSocket('udp4');
    const got: Buffer[] = [];
    sock.on('message', (m) => got.push(m));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const n = RATE * 3;
    for (let i = 0; i < n; i++) sock.send(buildQuery(`nx${i}-${Math.random().toString(36).slice(2)}.e2e.test`, 'A', { edns: true }), limited.port, '127.0.0.1');
    const deadline = Date.now() + 20_000;
    let c = before;
    while (Date.now() < deadline) {
      c = await counts(limited);
      if (c.udpReplies - before.udpReplies + (c.suppressed - before.suppressed) - (c.slipped - before.slipped) >= n) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    sock.close();
    const text = await scrape(limited.httpPort);
    expect(series(text, 'regiondns_rrl_suppressed_total').get('{kind="nxdomain"}') ?? 0).toBeGreaterThanOrEqual(n - RATE * 2);
  });

  it('an answer synthesised from a wildcard is charged to the wildcard: random names under it share one account', async () => {
    const before = await counts(limited);
    const n = RATE * 4;
    const tag = Math.random().toString(36).slice(2);
    const { replies, elapsedMs } = await burst(limited, (i) => buildQuery(`r${i}-${tag}.wild.e2e.test`, 'A', { edns: true }), n);
    const after = await counts(limited);
    const full = replies.filter((r) => !flagsOf(r).tc);
    for (const r of full) expect(parse(r).answers.map((a: { address: string }) => a.address)).toEqual(['192.0.2.99']);
    // Each name on its own account would have been answered in full.
    expect(full.length).toBeLessThanOrEqual(RATE * (Math.ceil(elapsedMs / 1000) + 1));
    expect(after.suppressed - before.suppressed).toBe(n - full.length);
    expect(after.suppressed - before.suppressed).toBeGreaterThan(0);
  });

  it('is off unless configured: the same burst is answered in full', async () => {
    const { replies } = await burst(open, buildQuery('www.e2e.test', 'A', { edns: true }), 500);
    expect(replies).toHaveLength(500);
    expect(replies.filter((r) => flagsOf(r).tc)).toHaveLength(0);
    expect((await counts(open)).suppressed).toBe(0);
  });
});

describe('a rate per kind of response (--rrl-nxdomain-rate, --rrl-nodata-rate, --rrl-referral-rate, --rrl-error-rate)', () => {
  const N = 60;
  const tag = Math.random().toString(36).slice(2);
  const cases: [keyof typeof KIND_RATES, (i: number) => Buffer][] = [
    ['nxdomain', (i) => buildQuery(`nx${i}-${tag}.e2e.test`, 'A', { edns: true })],
    ['nodata', () => buildQuery('www.e2e.test', 'MX', { edns: true })],
    ['referral', () => buildQuery('host.sub.e2e.test', 'A', { edns: true, rd: false })],
    ['error', () => buildQuery('not-ours.example', 'A', { edns: true })], // REFUSED
  ];
  for (const [kind, query] of cases) {
    it(`${N} ${kind} replies: about ${KIND_RATES[kind]} a second go out, the rest are dropped under "${kind}"`, async () => {
      const kindSuppressed = async () => series(await scrape(perKind.httpPort), 'regiondns_rrl_suppressed_total').get(`{kind="${kind}"}`) ?? 0;
      const before = await kindSuppressed();
      const { replies, elapsedMs } = await burst(perKind, query, N);
      const rate = KIND_RATES[kind];
      expect(replies.length).toBeGreaterThanOrEqual(rate);
      expect(replies.length).toBeLessThanOrEqual(rate * (Math.ceil(elapsedMs / 1000) + 1));
      expect(replies.filter((r) => flagsOf(r).tc)).toHaveLength(0); // slip 0
      expect((await kindSuppressed()) - before).toBe(N - replies.length);
    });
  }

  it('answers, with the main rate 0, are not limited there', async () => {
    const { replies } = await burst(perKind, buildQuery('www.e2e.test', 'A', { edns: true }), 200);
    expect(replies).toHaveLength(200);
    expect(series(await scrape(perKind.httpPort), 'regiondns_rrl_suppressed_total').get('{kind="answer"}') ?? 0).toBe(0);
  });
});
