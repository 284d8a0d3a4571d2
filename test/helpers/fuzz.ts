// Helpers for the hostile-input and TCP end-to-end tests: seeded mutants of valid queries, DNS-over-TCP
// framing (RFC 1035 §4.2.2), a reader that splits a TCP stream back into replies, and /metrics values.
import type net from 'node:net';
import type { Rng } from '../../src/steering/rng.js';
import { buildQuery, ecsOption, parse } from './dns-client.js';

/** A uniform integer in [0, n). */
export const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)];

/** The 2-octet length prefix and the message; `claimed` lets a test lie about the length. */
export function frame(msg: Buffer, claimed = msg.length): Buffer {
  const out = Buffer.allocUnsafe(msg.length + 2);
  out.writeUInt16BE(claimed & 0xffff, 0);
  msg.copy(out, 2);
  return out;
}

// ── valid queries and their mutants ──────────────────────────────────────────────────────────────

const NAMES = ['www.e2e.test', 'alias.e2e.test', 'nope.e2e.test', 'x.wild.e2e.test', 'host.sub.e2e.test', 'big.e2e.test', 'e2e.test', 'example.org', '.'];
const TYPES = ['A', 'AAAA', 'TXT', 'MX', 'NS', 'SOA', 'ANY', 'CNAME'];
const SUBNETS = ['192.0.2.0/24', '198.51.100.7/32', '10.0.0.0/8', '0.0.0.0/0', '2001:db8::/32', '2001:db8:1234::/48', '::/0'];

/** A valid query: random name and type, with no EDNS, plain EDNS, or EDNS with a valid ECS option. */
export function validQuery(rng: Rng): Buffer {
  const id = int(rng, 0x10000);
  const name = pick(rng, NAMES);
  const type = pick(rng, TYPES);
  const r = rng();
  if (r < 0.3) return buildQuery(name, type, { id });
  if (r < 0.6) return buildQuery(name, type, { id, edns: { udpSize: pick(rng, [0, 512, 1232, 4096, 65535]) } });
  return buildQuery(name, type, { id, edns: { options: [ecsOption(pick(rng, SUBNETS))] } });
}

/** An ECS option that breaks one rule of RFC 7871 §6 (FORMERR per §7.1.1). */
function badEcsOption(rng: Rng): Buffer {
  const good = ecsOption(pick(rng, SUBNETS));
  const o = Buffer.from(good);
  switch (int(rng, 6)) {
    case 0: o.writeUInt16BE(pick(rng, [0, 3, 0xffff]), 4); break; // family
    case 1: o[6] = o[5] === 1 ? 33 + int(rng, 223) : 129 + int(rng, 127); break; // source prefix too long
    case 2: o[7] = 1 + int(rng, 255); break; // scope must be 0 in a query
    case 3: { // one address octet more than the prefix needs
      const long = Buffer.concat([o, Buffer.from([0])]);
      long.writeUInt16BE(long.length - 4, 2);
      return long;
    }
    case 4: return Buffer.from([0, 8, 0, 7, 0, 1, 23, 0, 192, 0, 3]); // host bits: /23 with the 24th bit set
    default: return Buffer.from([0, 8, 0, 2, 0, 1]); // option shorter than FAMILY/SOURCE/SCOPE
  }
  return o;
}

/** Offsets of the question's label-length octets. */
function labelOffsets(b: Buffer): number[] {
  const out: number[] = [];
  for (let p = 12; p < b.length && b[p] !== 0 && b[p] < 64; p += b[p] + 1) out.push(p);
  return out;
}

/** One to three mutations of `src`: the classic ways a query on the wire is broken. */
export function mutateQuery(rng: Rng, src: Buffer): Buffer {
  let b: Buffer = Buffer.from(src);
  const rounds = 1 + int(rng, 3);
  for (let r = 0; r < rounds; r++) {
    switch (int(rng, 12)) {
      case 0: { // bit flips
        const n = 1 + int(rng, 4);
        for (let i = 0; i < n && b.length; i++) b[int(rng, b.length)] ^= 1 << int(rng, 8);
        break;
      }
      case 1: // truncation
        b = b.subarray(0, int(rng, b.length + 1));
        break;
      case 2: // a header count
        if (b.length >= 12) b.writeUInt16BE(rng() < 0.7 ? int(rng, 4) : int(rng, 0x10000), 4 + 2 * int(rng, 4));
        break;
      case 3: { // a label length
        const offs = labelOffsets(b);
        if (offs.length) b[pick(rng, offs)] = rng() < 0.5 ? int(rng, 64) : int(rng, 256);
        break;
      }
      case 4: { // a compression pointer: to itself (a loop), forward, or past the end
        const at = 12 + int(rng, Math.max(1, b.length - 11));
        const target = pick(rng, [at, 12, int(rng, 0x4000)]);
        b = Buffer.concat([b.subarray(0, at), Buffer.from([0xc0 | (target >> 8), target & 0xff]), b.subarray(Math.min(b.length, at + int(rng, 3)))]);
        break;
      }
      case 5: // a giant ARCOUNT, with or without records behind it
        if (b.length >= 12) b.writeUInt16BE(0xff00 + int(rng, 256), 10);
        if (rng() < 0.5) b = Buffer.concat([b, ...Array.from({ length: int(rng, 20) }, () => Buffer.from([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]))]);
        break;
      case 6: { // an EDNS version other than 0 (BADVERS, RFC 6891 §6.1.3), on the OPT if any
        const opt = b.length >= 23 ? b.indexOf(Buffer.from([0, 0, 41])) : -1;
        if (opt >= 0 && opt + 6 < b.length) b[opt + 6] = pick(rng, [1, 2, 255]);
        else b = buildQuery(pick(rng, NAMES), 'A', { id: int(rng, 0x10000), edns: { version: 1 + int(rng, 255) } });
        break;
      }
      case 7: // a bad ECS option, or two ECS options
        b = buildQuery(pick(rng, NAMES), pick(rng, TYPES), {
          id: int(rng, 0x10000),
          edns: { options: rng() < 0.8 ? [badEcsOption(rng)] : [ecsOption('192.0.2.0/24'), ecsOption('2001:db8::/32')] },
        });
        break;
      case 8: // random octets appended
        b = Buffer.concat([b, randomBytes(rng, int(rng, 40))]);
        break;
      case 9: { // an octet overwritten with an edge value
        if (b.length) b[int(rng, b.length)] = pick(rng, [0, 1, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xff]);
        break;
      }
      case 10: // an OPT RRset with its RDLENGTH or an option length wrong
        b = buildQuery(pick(rng, NAMES), 'A', { id: int(rng, 0x10000), edns: { options: [Buffer.from([0, 10, 0xff, 0xff, 1, 2])] } });
        if (rng() < 0.5) b.writeUInt16BE(int(rng, 0x10000), b.length - 8);
        break;
      default: // QR and opcode cleared, so more mutants reach the deeper checks
        if (b.length > 3) b[2] &= 0x07;
    }
  }
  return b;
}

export function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(rng, 256);
  return b;
}

/** Mostly mutants of valid queries, some pure noise (a plausible header now and then), a few valid. */
export function hostilePacket(rng: Rng, maxRandom = 600): Buffer {
  const r = rng();
  if (r < 0.05) return validQuery(rng);
  if (r < 0.8) return mutateQuery(rng, validQuery(rng));
  const b = randomBytes(rng, int(rng, maxRandom + 1));
  if (rng() < 0.5 && b.length >= 12) { b[2] &= 0x07; b[4] = 0; b[5] = 1; }
  return b;
}

/** The e2e zone's www.e2e.test A answer (test/e2e/zones): right id, NOERROR, 192.0.2.1. */
export function answersWww(reply: Buffer, id: number): boolean {
  const p = parse(reply);
  return p.header.id === id && (reply[3] & 0x0f) === 0 && p.answers.some((a: { address?: string }) => a.address === '192.0.2.1');
}

// ── TCP stream reader ────────────────────────────────────────────────────────────────────────────

/** Collects length-prefixed replies from a socket; copes with replies split across reads. */
export class FrameReader {
  readonly replies: Buffer[] = [];
  closed = false;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiters: (() => void)[] = [];

  constructor(socket: net.Socket) {
    socket.on('data', (d: Buffer) => this.push(d));
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => undefined); // a reset is an outcome the test looks at, not a crash
  }

  private push(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    if (this.buffered < 2) return;
    let buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    let off = 0;
    while (buf.length - off >= 2 && buf.length - off - 2 >= buf.readUInt16BE(off)) {
      const len = buf.readUInt16BE(off);
      this.replies.push(buf.subarray(off + 2, off + 2 + len));
      off += 2 + len;
    }
    buf = buf.subarray(off);
    this.chunks = buf.length ? [buf] : [];
    this.buffered = buf.length;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `n` replies arrived or the socket closed; rejects after `timeoutMs`. */
  async waitFor(n: number, timeoutMs: number): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < n && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`TCP: ${this.replies.length}/${n} replies after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.replies;
  }
}

/** Resolves with the time it took the socket to close, or null when it is still open after `timeoutMs`. */
export function closedWithin(socket: net.Socket, timeoutMs: number): Promise<number | null> {
  const start = Date.now();
  if (socket.destroyed && socket.readyState === 'closed') return Promise.resolve(0);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), timeoutMs);
    socket.once('close', () => { clearTimeout(t); resolve(Date.now() - start); });
  });
}

// ── /metrics ─────────────────────────────────────────────────────────────────────────────────────

export async function scrape(httpPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  return res.text();
}

/** Every series of `name` in a Prometheus text page, keyed by its label set as written (`""` for none). */
export function series(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\S+?)(\{.*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

/** The value of one series (labels as written, e.g. `{reason="idle"}`), 0 when it is not there yet. */
export function metricValue(text: string, name: string, labels = ''): number {
  return series(text, name).get(labels) ?? 0;
}

/** Polls /metrics until `pred` holds for the value; returns the last value seen. */
export async function waitForMetric(httpPort: number, name: string, labels: string, pred: (v: number) => boolean, timeoutMs = 3000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = metricValue(await scrape(httpPort), name, labels);
    if (pred(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
