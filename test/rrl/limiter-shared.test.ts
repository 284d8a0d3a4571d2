// The rate limiter's table shared by worker threads (as the DNS workers of one instance share it):
// two threads charging one account at the same time pass the rate, not twice it, though no lock is
// taken. Real threads run the built limiter (vitest's global setup builds dist/) in tight loops, on
// one simulated clock that ticks a second every 50,000 charges, so second boundaries (where credit
// is added) are crossed while both threads charge.
import { once } from 'node:events';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { newRrlTable, ResponseRateLimiter, RrlAction, type RrlOptions, type RrlTable } from '../../src/rrl/limiter.js';

const LIMITER = pathToFileURL(path.join(import.meta.dirname, '../../dist/rrl/limiter.js')).href;
const RATE = 2000;
// window 0: no debt, so each second passes exactly RATE of a flood that never stops.
const OPTS: RrlOptions = { rate: RATE, slip: 0, window: 0, ipv4Prefix: 24, ipv6Prefix: 56, tableSize: 1 << 12 };
const SECONDS = 20;
const PER_SECOND = 50_000;
const T0 = 1_767_225_600_000;
const ACCOUNT = { kind: 0, name: 'www.example.', qtype: 1 };

/** Two threads charge one account (one /24, one name) on `tables[i]` until the clock has run SECONDS; returns the responses passed. */
async function flood(tables: [RrlTable, RrlTable]): Promise<number> {
  const clock = new Int32Array(new SharedArrayBuffer(4)); // charges made so far, by both threads
  const code = `
    const { parentPort, workerData: w } = require('node:worker_threads');
    import(w.limiter).then(({ ResponseRateLimiter, RrlAction }) => {
      const l = new ResponseRateLimiter(w.opts, () => {}, w.table);
      const client = new Uint8Array([192, 0, 2, w.index + 1]);
      parentPort.postMessage('ready');
      parentPort.once('message', () => {
        let passed = 0;
        for (;;) {
          const tick = Atomics.add(w.clock, 0, 1);
          if (tick >= w.seconds * w.perSecond) break;
          if (l.decide(client, w.account, w.t0 + Math.floor(tick / w.perSecond) * 1000) === RrlAction.PASS) passed++;
        }
        parentPort.postMessage(passed);
      });
    });`;
  const workerData = { limiter: LIMITER, opts: OPTS, clock, seconds: SECONDS, perSecond: PER_SECOND, t0: T0, account: ACCOUNT };
  const workers = tables.map((table, index) => new Worker(code, { eval: true, workerData: { ...workerData, table, index } }));
  await Promise.all(workers.map((w) => once(w, 'message')));
  const results = workers.map((w) => once(w, 'message'));
  for (const w of workers) w.postMessage('go');
  const passed = (await Promise.all(results)).reduce((sum, [n]) => sum + (n as number), 0);
  await Promise.all(workers.map((w) => w.terminate()));
  return passed;
}

/** A table whose account for the flood exists already (made by one thread, as the first query of it would). */
function tableWithAccount(): RrlTable {
  const table = newRrlTable(OPTS, true);
  new ResponseRateLimiter(OPTS, () => undefined, table).decide(new Uint8Array([192, 0, 2, 9]), ACCOUNT, T0);
  return table;
}

describe('a rate limiter table shared by threads', () => {
  it('holds the rate per instance: two threads on one table pass the rate each second; on a table each, twice it', async () => {
    expect(newRrlTable(OPTS, true).stamp.buffer).toBeInstanceOf(SharedArrayBuffer);
    const shared = tableWithAccount();
    const together = await flood([shared, shared]);
    // Every second's credit is added once and every charge is counted: the rate, to within a few
    // responses (less the one charged up front); unlocked updates that raced would show as thousands.
    expect(together).toBeGreaterThan(RATE * SECONDS - 10);
    expect(together).toBeLessThan(RATE * SECONDS + 10);
    // A table each: more, up to twice the rate (how much more depends on how the threads are scheduled).
    const apart = await flood([tableWithAccount(), tableWithAccount()]);
    expect(apart).toBeGreaterThan(together);
    expect(apart).toBeLessThanOrEqual(2 * RATE * SECONDS);
  });

  it('a table of its own by default, as a single process has', () => {
    const l = new ResponseRateLimiter({ ...OPTS, rate: 2 }, () => undefined);
    const client = new Uint8Array([198, 51, 100, 1]);
    expect([1, 2, 3].map(() => l.decide(client, ACCOUNT, T0))).toEqual([RrlAction.PASS, RrlAction.PASS, RrlAction.DROP]);
  });
});
