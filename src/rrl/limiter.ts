// Response rate limiting (RRL) as BIND and Knot define it: each account (client prefix, response
// kind, name) earns its kind's rate of responses a second, holds at most one second of credit and at most
// `window` seconds of debt, so a flood that keeps above the rate keeps being limited until it has
// been below it for a while. Every `slip`th limited response is sent truncated (TC=1) instead of
// dropped, so a real resolver behind a spoofed prefix retries over TCP and is answered there.
//
// The table has a fixed number of slots (typed arrays allocated once, like Knot's): a decision
// does no allocation; when the slots a key may use are all live, the stalest is taken over, so a
// flood of distinct keys costs accuracy, never memory.
//
// The DNS worker threads of one instance share one table (in SharedArrayBuffers, see RrlTable), so
// the rate holds per instance, not per worker. No lock (one held by a thread ended mid-update
// would stop the others): charges are atomic subtractions, and a second's credit is added once, by
// the thread whose compare-and-swap moves the account's stamp on. Two threads that take over one
// free slot at the same instant can still mix two accounts for a moment, as an eviction does.
// Two threads flooding one account for 20 (simulated) seconds passed the rate to within a response
// or two; without the atomic steps, up to 1.5 times it (test/rrl/limiter-shared.test.ts).

import { randomBytes } from 'node:crypto';
import { fmix32 } from '../core/fmix32.js';
import { clientIntoBytes, ipIntoBytes } from '../dns/address.js';
import { ResponseKind, type Account } from './classify.js';

export interface RrlOptions {
  /** Responses per second per account; 0 turns rate limiting off (unless a kind has its own rate). */
  rate: number;
  /**
   * BIND's per-kind rates (nxdomains-, nodata-, referrals-, errors-per-second): absent, the kind
   * earns `rate`; 0, the kind is not limited.
   */
  nxdomainRate?: number;
  nodataRate?: number;
  referralRate?: number;
  errorRate?: number;
  /** Every slip-th limited response is sent truncated; 0: drop them all; 1: truncate them all. */
  slip: number;
  /** Seconds of debt an account can run up (BIND's "window"). */
  window: number;
  /** Client prefix lengths that share an account (BIND and Knot: /24 and /56). */
  ipv4Prefix: number;
  ipv6Prefix: number;
  /** Slots in the table (rounded up to a power of two). */
  tableSize: number;
}

export const DEFAULT_RRL: RrlOptions = { rate: 0, slip: 2, window: 15, ipv4Prefix: 24, ipv6Prefix: 56, tableSize: 1 << 18 };

/** The rate of each response kind, indexed by ResponseKind. */
export function kindRates(o: RrlOptions): number[] {
  const rates: number[] = [];
  rates[ResponseKind.ANSWER] = o.rate;
  rates[ResponseKind.NODATA] = o.nodataRate ?? o.rate;
  rates[ResponseKind.NXDOMAIN] = o.nxdomainRate ?? o.rate;
  rates[ResponseKind.REFERRAL] = o.referralRate ?? o.rate;
  rates[ResponseKind.ERROR] = o.errorRate ?? o.rate;
  return rates;
}

/** True when some kind of response is limited. */
export function rrlEnabled(o: RrlOptions): boolean {
  return kindRates(o).some((r) => r > 0);
}

export const RrlAction = { PASS: 0, DROP: 1, SLIP: 2 } as const;
export type RrlAction = (typeof RrlAction)[keyof typeof RrlAction];

/** Slots a key may live in, from its home slot on. */
const PROBE = 8;

/** The accounts: one entry a slot in each array, and the hash seeds; shareable between threads. */
export interface RrlTable {
  keyA: Uint32Array;
  keyB: Uint32Array;
  /** Unix second of the last response charged; 0: empty slot. */
  stamp: Uint32Array;
  balance: Int32Array;
  /** Limited responses since the account was created, for the slip count. */
  limited: Uint32Array;
  /** Hash seeds drawn at start-up, so nobody can aim a flood at one slot. */
  seedA: number;
  seedB: number;
}

/** A table of `opts.tableSize` slots (rounded up to a power of two); `shared`: in SharedArrayBuffers, for worker threads. */
export function newRrlTable(opts: Pick<RrlOptions, 'tableSize'>, shared = false): RrlTable {
  let size = 1;
  while (size < opts.tableSize) size *= 2;
  const bytes = (n: number) => (shared ? new SharedArrayBuffer(n * 4) : new ArrayBuffer(n * 4));
  const seed = randomBytes(8);
  return {
    keyA: new Uint32Array(bytes(size)),
    keyB: new Uint32Array(bytes(size)),
    stamp: new Uint32Array(bytes(size)),
    balance: new Int32Array(bytes(size)),
    limited: new Uint32Array(bytes(size)),
    seedA: seed.readUInt32LE(0),
    seedB: seed.readUInt32LE(4),
  };
}

export class ResponseRateLimiter {
  private readonly mask: number;
  // The table's arrays and seeds, as fields (the hot path reads them without an indirection).
  private readonly keyA: Uint32Array;
  private readonly keyB: Uint32Array;
  private readonly stamp: Uint32Array;
  private readonly balance: Int32Array;
  private readonly limited: Uint32Array;
  private readonly seedA: number;
  private readonly seedB: number;
  private readonly addr = new Uint8Array(16);
  /** hash()'s two results (fields, not a returned pair: no allocation). */
  private hashA = 0;
  private hashB = 0;
  /** The address last parsed into addr, and its length. */
  private lastClient = '';
  private lastLen = 0;
  /** Rate and most debt of each kind, indexed by ResponseKind. */
  private readonly rates: Int32Array;
  private readonly maxDebts: Int32Array;
  /** Live accounts taken over because every slot of their key was in use (the table is too small). */
  evictions = 0;

  /**
   * `onEvict`: told each time a live account is taken over (the table is too small). `table`: one
   * shared with other threads (newRrlTable(opts, true)); by default a table of this limiter's own.
   */
  constructor(readonly opts: RrlOptions, private readonly onEvict: () => void = () => undefined, table: RrlTable = newRrlTable(opts)) {
    this.mask = table.stamp.length - 1;
    ({ keyA: this.keyA, keyB: this.keyB, stamp: this.stamp, balance: this.balance, limited: this.limited, seedA: this.seedA, seedB: this.seedB } = table);
    this.rates = Int32Array.from(kindRates(opts));
    this.maxDebts = this.rates.map((r) => r * opts.window);
  }

  /** Charges one response of `account` to `client` at `nowMs` and says whether it may go out. */
  decide(client: string | Uint8Array, account: Account, nowMs: number): RrlAction {
    const rate = this.rates[account.kind];
    if (rate === 0) return RrlAction.PASS; // this kind is not limited: nothing to account
    const now = Math.floor(nowMs / 1000) >>> 0;
    this.hash(client, account);
    const a = this.hashA;
    const b = this.hashB;
    const slot = this.slotFor(a, b, now);
    const stamp = this.stamp;
    const balance = this.balance;
    const st = stamp[slot];
    if (st === 0) {
      balance[slot] = rate;
      this.limited[slot] = 0;
      this.keyA[slot] = a;
      this.keyB[slot] = b;
      stamp[slot] = now === 0 ? 1 : now;
    } else if (now > st && Atomics.compareExchange(stamp, slot, st, now) === st) {
      // The thread that moves the stamp on adds the credit, as a difference, so a charge another
      // thread makes meanwhile is kept. One second's credit at most: a quiet account cannot save up for a burst.
      const was = balance[slot];
      Atomics.add(balance, slot, Math.min(rate, was + (now - st) * rate) - was);
    }
    const bal = Atomics.sub(balance, slot, 1) - 1;
    if (bal >= 0) return RrlAction.PASS;
    if (bal < -this.maxDebts[account.kind]) Atomics.add(balance, slot, 1); // at most `window` seconds of debt
    const n = Atomics.add(this.limited, slot, 1) + 1;
    const slip = this.opts.slip;
    return slip > 0 && n % slip === 0 ? RrlAction.SLIP : RrlAction.DROP;
  }

  /** The key's slot; else a free or expired one among its PROBE slots; else the stalest (evicted). */
  private slotFor(a: number, b: number, now: number): number {
    const home = a & this.mask;
    let free = -1;
    let oldest = home;
    for (let i = 0; i < PROBE; i++) {
      const s = (home + i) & this.mask;
      const st = this.stamp[s];
      if (st === 0) { if (free < 0) free = s; continue; }
      if (this.keyA[s] === a && this.keyB[s] === b) return s;
      // Debt is repaid at `rate` a second: after window + 1 quiet seconds the account is as new.
      if (free < 0 && now - st > this.opts.window) free = s;
      if (st < this.stamp[oldest]) oldest = s;
    }
    if (free >= 0) {
      this.stamp[free] = 0;
      return free;
    }
    this.evictions++;
    this.onEvict();
    this.stamp[oldest] = 0;
    return oldest;
  }

  /** Two 32-bit hashes of (client prefix, kind, qtype, name) under the two seeds (murmur3's mixing), in hashA and hashB. */
  private hash(client: string | Uint8Array, account: Account): void {
    const k = (account.kind * 0x9e3779b1) ^ (account.qtype << 8);
    let a = this.seedA ^ k;
    let b = this.seedB ^ k;
    // Traffic comes in runs from one resolver: parse its address only when it changes.
    if (typeof client !== 'string') {
      this.lastLen = clientIntoBytes(client, this.addr);
      this.lastClient = '';
    } else if (client !== this.lastClient) {
      this.lastLen = ipIntoBytes(client, this.addr);
      this.lastClient = client;
    }
    const len = this.lastLen;
    const bits = len === 4 ? this.opts.ipv4Prefix : len === 16 ? this.opts.ipv6Prefix : 0;
    a = mix(a, len);
    b = mix(b, len);
    for (let i = 0; i < len; i += 4) {
      const left = bits - i * 8;
      const keep = left >= 32 ? 0xffffffff : left <= 0 ? 0 : (0xffffffff << (32 - left)) >>> 0;
      const w = ((this.addr[i] << 24) | (this.addr[i + 1] << 16) | (this.addr[i + 2] << 8) | this.addr[i + 3]) & keep;
      a = mix(a, w);
      b = mix(b, w);
    }
    const name = account.name;
    let i = 0;
    for (; i + 1 < name.length; i += 2) {
      const w = name.charCodeAt(i) | (name.charCodeAt(i + 1) << 16);
      a = mix(a, w);
      b = mix(b, w);
    }
    if (i < name.length) {
      a = mix(a, name.charCodeAt(i));
      b = mix(b, name.charCodeAt(i));
    }
    this.hashA = fmix32(a ^ name.length);
    this.hashB = fmix32(b ^ name.length);
  }
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}
