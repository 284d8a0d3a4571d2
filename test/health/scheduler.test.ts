// The scheduler with fake timers (exact rounds, skips, reloads) and with real timers, real probes
// and a target that counts the requests it serves at once.

import { afterEach, describe, expect, it } from 'vitest';
import type { CheckConfig, ProbeResult } from '../../src/health/check-config.js';
import { runProbe } from '../../src/health/prober.js';
import { Scheduler, type SchedulerOptions } from '../../src/health/scheduler.js';
import { deferred, FakeTimers, httpCheck, Target, tcpCheck, waitFor, type Deferred } from './fixtures.js';

const OK: ProbeResult = { ok: true, cause: 'HTTP 200', durationMs: 1 };

/** A scheduler on fake timers whose probes are deferreds the test settles. */
function harness(opts: Partial<SchedulerOptions> = {}) {
  const timers = new FakeTimers();
  const started: { check: CheckConfig; signal: AbortSignal; d: Deferred<ProbeResult>; at: number }[] = [];
  const results: { id: string; result: ProbeResult }[] = [];
  const skips: string[] = [];
  const scheduler = new Scheduler({
    run: (check, signal) => {
      const d = deferred<ProbeResult>();
      started.push({ check, signal, d, at: timers.now });
      return d.promise;
    },
    onResult: (check, result) => results.push({ id: check.id, result }),
    onSkip: (check) => skips.push(check.id),
    timers,
    random: () => 0.5, // no jitter: rounds exactly one interval apart, the first at 5% of it
    ...opts,
  });
  return { timers, started, results, skips, scheduler };
}

const check = (name: string, intervalMs = 1000) => tcpCheck('127.0.0.1', 1, { name, intervalMs, timeoutMs: intervalMs / 2 });

describe('Scheduler (fake timers)', () => {
  it('runs each check once per interval', async () => {
    const h = harness({ run: async () => OK });
    h.scheduler.update([check('a', 1000), check('b', 300)]);
    await h.timers.advance(3050);
    const count = (id: string) => h.results.filter((r) => r.id === id).length;
    // a: at 50, 1050, 2050, 3050; b: at 15, 315, … 2715, 3015
    expect(count('eu-central/a')).toBe(4);
    expect(count('eu-central/b')).toBe(11);
    h.scheduler.stop();
    expect(h.timers.count).toBe(0);
  });

  it('jitter keeps every wait within ±10% of the interval', async () => {
    let i = 0;
    const draws = [0, 0.999, 0.25, 0.75, 0, 0.999];
    const times: number[] = [];
    const h = harness({ random: () => draws[i++ % draws.length], run: async () => { times.push(h.timers.now); return OK; } });
    h.scheduler.update([check('a', 1000)]);
    await h.timers.advance(10_000);
    const gaps = times.slice(1).map((t, k) => t - times[k]);
    expect(gaps.length).toBeGreaterThan(5);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(900);
      expect(g).toBeLessThanOrEqual(1100);
    }
    expect(new Set(gaps).size).toBeGreaterThan(1);
    h.scheduler.stop();
  });

  it('never runs two probes of one check at once: a round due meanwhile is skipped and noted', async () => {
    const h = harness();
    h.scheduler.update([check('slow', 1000)]);
    await h.timers.advance(100);
    expect(h.started).toHaveLength(1);
    await h.timers.advance(2000); // two more rounds come due while the first probe runs
    expect(h.started).toHaveLength(1);
    expect(h.skips).toEqual(['eu-central/slow', 'eu-central/slow']);
    expect(h.scheduler.skipped('eu-central/slow')).toBe(2);
    h.started[0].d.resolve(OK);
    await h.timers.advance(1000);
    expect(h.started).toHaveLength(2);
    expect(h.results).toHaveLength(1);
    h.scheduler.stop();
  });

  it('bounds the probes in flight; the rest queue, first due first run', async () => {
    const h = harness({ concurrency: 3 });
    const checks = Array.from({ length: 10 }, (_, i) => check(`c${i}`, 10_000));
    h.scheduler.update(checks);
    await h.timers.advance(1000);
    expect(h.started).toHaveLength(3);
    expect(h.scheduler.load()).toEqual({ running: 3, queued: 7 });
    h.started[1].d.resolve(OK);
    await h.timers.advance(0);
    expect(h.started).toHaveLength(4);
    expect(h.scheduler.load()).toEqual({ running: 3, queued: 6 });
    for (let round = 0; round < 4; round++) {
      for (const s of h.started) s.d.resolve(OK);
      await h.timers.advance(0);
    }
    expect(h.started.map((s) => s.check.name)).toEqual(checks.map((c) => c.name));
    expect(h.results).toHaveLength(10);
    h.scheduler.stop();
  });

  it('a reload stops removed checks (dropping a result in flight), starts new ones, leaves unchanged ones alone', async () => {
    const h = harness();
    const a = check('a', 1000);
    const b = check('b', 1000);
    h.scheduler.update([a, b]);
    await h.timers.advance(100);
    expect(h.started.map((s) => s.check.name)).toEqual(['a', 'b']);
    h.started[0].d.resolve(OK); // a's probe ends; b's is still in flight

    const c = check('c', 1000);
    const summary = h.scheduler.update([{ ...a, line: 7 }, c]); // a moved in the file, b removed, c new
    expect(summary).toEqual({ added: ['eu-central/c'], removed: ['eu-central/b'], kept: ['eu-central/a'] });
    expect(h.started[1].signal.aborted).toBe(true);
    h.started[1].d.resolve(OK);
    await h.timers.advance(0);
    expect(h.results.map((r) => r.id)).toEqual(['eu-central/a']); // b's result was dropped

    // a keeps its timer (next round at 1050, not restarted); c starts at 100 + 50; b never runs again.
    await h.timers.advance(100);
    expect(h.started.map((s) => s.check.name)).toEqual(['a', 'b', 'c']);
    await h.timers.advance(900);
    expect(h.started.map((s) => [s.check.name, s.at])).toEqual([['a', 50], ['b', 50], ['c', 150], ['a', 1050]]);
    expect(h.started[3].check.line).toBe(7);
    h.scheduler.stop();
  });

  it('a changed check restarts under the same id', async () => {
    const h = harness({ run: async () => OK });
    h.scheduler.update([check('a', 1000)]);
    await h.timers.advance(500);
    const summary = h.scheduler.update([check('a', 2000)]);
    expect(summary).toEqual({ added: ['eu-central/a'], removed: [], kept: [] });
    await h.timers.advance(2500);
    expect(h.results).toHaveLength(3); // 50; then restarted at 500: 600, 2600
    h.scheduler.stop();
  });

  it('a probe that throws counts as a failure', async () => {
    const h = harness({ run: () => { throw new Error('boom'); } });
    h.scheduler.update([check('a')]);
    await h.timers.advance(100);
    expect(h.results[0].result).toMatchObject({ ok: false, cause: 'error: boom' });
    h.scheduler.stop();
  });
});

describe('Scheduler (real timers, real probes)', () => {
  const targets: Target[] = [];
  let scheduler: Scheduler | null = null;
  afterEach(async () => {
    scheduler?.stop();
    for (const t of targets.splice(0)) await t.close();
  });

  it('at most `concurrency` requests reach the target at once', async () => {
    const target = await new Target().listen();
    targets.push(target);
    target.behaviour = { status: 200, body: 'ok', delayMs: 60 };
    const results: ProbeResult[] = [];
    scheduler = new Scheduler({ run: runProbe, onResult: (_c, r) => results.push(r), concurrency: 3 });
    scheduler.update(Array.from({ length: 12 }, (_, i) => httpCheck(target.url(`/c${i}`), { name: `c${i}`, intervalMs: 200, timeoutMs: 150 })));
    await waitFor(() => results.length >= 24, 5000, '24 probes');
    expect(target.maxInFlight).toBe(3);
    expect(results.every((r) => r.ok)).toBe(true);
  });

  it('runs every 100 ms and stops when the check is removed', async () => {
    const target = await new Target().listen();
    targets.push(target);
    const seen: number[] = [];
    scheduler = new Scheduler({ run: runProbe, onResult: () => seen.push(Date.now()) });
    scheduler.update([httpCheck(target.url(), { intervalMs: 100, timeoutMs: 50 })]);
    await new Promise((r) => setTimeout(r, 560));
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.length).toBeLessThanOrEqual(7);
    scheduler.update([]);
    const after = target.seen.length;
    await new Promise((r) => setTimeout(r, 250));
    expect(target.seen.length).toBe(after);
  });
});
