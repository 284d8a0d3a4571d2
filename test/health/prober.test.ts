// The Prober end to end with real timers and a real HTTP target: rise/fall honoured, no flapping,
// transitions logged and counted, a verdict published after every probe, reloads.

import { emptyHealthPlan, type HealthPlan } from '../../src/health/plan.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { CheckConfig, ProbeResult } from '../../src/health/check-config.js';
import { Prober, runProbe } from '../../src/health/prober.js';
import { checkTransitions, checkUp, probesSkipped, registry } from '../../src/obs/metrics.js';
import type { Verdict } from '../../src/health/verdict.js';
import { FakeTimers, httpCheck, memoryLog, Target, waitFor } from './fixtures.js';

/** A prober whose probes and verdicts the test can read in order (probe i ↔ verdict i). */
function setup(opts: { store?: { publishVerdict: (v: Verdict) => Promise<void> } } = {}) {
  const { log, lines } = memoryLog();
  const verdicts: Verdict[] = [];
  const results: ProbeResult[] = [];
  const prober = new Prober({
    proberId: 'fra-1',
    store: opts.store ?? { publishVerdict: async (v) => { verdicts.push(v); } },
    log,
    probe: async (check, signal) => {
      const r = await runProbe(check, signal);
      results.push(r);
      return r;
    },
  });
  return { prober, lines, verdicts, results };
}

/** A health plan of region checks only, each under its own region. */
const regionsOf = (...checks: CheckConfig[]): HealthPlan => {
  const m = new Map<string, CheckConfig[]>();
  for (const c of checks) m.set(c.region, [...(m.get(c.region) ?? []), c]);
  return { ...emptyHealthPlan(), regions: m };
};

const transitions = (lines: Record<string, unknown>[]) => lines.filter((l) => 'from' in l && 'to' in l);

describe('Prober (real timers)', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('goes down after `fall` failures and up after `rise` passes, logging each transition with its cause', async () => {
    const target = await new Target().listen();
    const { prober, lines, verdicts, results } = setup();
    cleanup.push(() => target.close(), () => prober.stop());
    const check = httpCheck(target.url(), { intervalMs: 60, timeoutMs: 40, rise: 2, fall: 3 });
    prober.update(regionsOf(check));

    await waitFor(() => verdicts.length >= 2, 2000, 'two probes');
    expect(verdicts.every((v) => v.up)).toBe(true);

    target.behaviour.status = 500;
    await waitFor(() => verdicts.some((v) => !v.up), 3000, 'down');
    target.behaviour.status = 200;
    await waitFor(() => verdicts.at(-1)!.up && verdicts.some((v) => !v.up), 3000, 'up again');
    prober.stop();

    // Replay: each verdict is what rise/fall makes of the results so far.
    const trace = results.map((r) => (r.ok ? '+' : '-')).join('');
    const ups = verdicts.map((v) => (v.up ? 'U' : 'D')).join('');
    const firstDown = ups.indexOf('D');
    expect(trace.slice(firstDown - 2, firstDown + 1)).toBe('---');
    expect(trace.slice(0, firstDown - 2)).not.toContain('---');
    const backUp = ups.indexOf('U', firstDown);
    expect(trace.slice(backUp - 1, backUp + 1)).toBe('++');
    expect(ups.slice(firstDown, backUp)).toBe('D'.repeat(backUp - firstDown));

    const t = transitions(lines);
    expect(t).toHaveLength(2);
    expect(t[0]).toMatchObject({ region: 'eu-central', check: 'eu-central/http#0', from: 'up', to: 'down', cause: 'HTTP 500 (expected 200)', level: 30 });
    expect(t[1]).toMatchObject({ from: 'down', to: 'up', cause: 'HTTP 200' });

    const state = prober.localStates().get(check.id)!;
    expect(state.state).toMatchObject({ up: true, transitions: 2 });
    expect(state.recent.length).toBeLessThanOrEqual(10);
    expect(state.recent.at(-1)).toMatchObject({ ok: true, cause: 'HTTP 200' });
  });

  it('an alternating target does not flap', async () => {
    const target = await new Target().listen();
    target.respond = (n) => ({ status: n % 2 === 0 ? 200 : 500 });
    const { prober, lines, verdicts } = setup();
    cleanup.push(() => target.close(), () => prober.stop());
    prober.update(regionsOf(httpCheck(target.url(), { intervalMs: 50, timeoutMs: 40, rise: 2, fall: 3 })));
    await waitFor(() => verdicts.length >= 12, 3000, '12 probes');
    prober.stop();
    expect(target.seen.length).toBeGreaterThanOrEqual(12);
    expect(verdicts.every((v) => v.up)).toBe(true);
    expect(transitions(lines)).toEqual([]);
    expect(verdicts.some((v) => v.cause.includes('last probe: HTTP 500'))).toBe(true);
  });

  it('a closed port and a slow target fail with their causes', async () => {
    const target = await new Target().listen();
    const { prober, verdicts, results } = setup();
    cleanup.push(() => prober.stop());
    prober.update(regionsOf(httpCheck(target.url(), { intervalMs: 80, timeoutMs: 40, rise: 1, fall: 1 })));
    await waitFor(() => verdicts.length >= 1, 2000, 'a probe');
    target.behaviour.delayMs = 200;
    await waitFor(() => verdicts.at(-1)!.cause === 'timeout after 40 ms', 2000, 'a timeout');
    await target.close();
    await waitFor(() => verdicts.at(-1)!.cause === 'connection refused', 2000, 'connection refused');
    expect(results.some((r) => r.cause === 'timeout after 40 ms')).toBe(true);
  });
});

describe('Prober (fake timers)', () => {
  function fakeProber(results: ProbeResult[], store?: { publishVerdict: (v: Verdict) => Promise<void> }) {
    const timers = new FakeTimers();
    const { log, lines } = memoryLog();
    const verdicts: Verdict[] = [];
    let i = 0;
    const prober = new Prober({
      proberId: 'fra-1', log, timers, random: () => 0.5, now: () => 1_700_000_000_000 + timers.now,
      store: store ?? { publishVerdict: async (v) => { verdicts.push(v); } },
      probe: async () => results[Math.min(i++, results.length - 1)],
    });
    return { prober, timers, lines, verdicts };
  }
  const PASS: ProbeResult = { ok: true, cause: 'HTTP 200', durationMs: 12 };
  const FAIL: ProbeResult = { ok: false, cause: 'connection refused', durationMs: 1 };

  it("a prober's own failures (EMFILE, a stalled loop) leave the state as it was, publish nothing, and are counted and logged", async () => {
    const EMFILE: ProbeResult = { ok: false, cause: 'error: connect EMFILE', durationMs: 0.1, local: 'emfile' };
    const STALLED: ProbeResult = { ok: false, cause: 'timeout after 500 ms', durationMs: 1400, local: 'stalled' };
    const { prober, timers, lines, verdicts } = fakeProber([PASS, EMFILE, EMFILE, STALLED, EMFILE, PASS]);
    const check = httpCheck('http://127.0.0.1:1/', { region: 'local-test', name: 'x', intervalMs: 1000, timeoutMs: 500, fall: 1 });
    prober.update(regionsOf(check));
    await timers.advance(4100); // five probes: one pass, four local failures (fall: 1 would take it down at once)
    expect(verdicts.map((v) => v.up)).toEqual([true]);
    const local = prober.localStates().get(check.id)!;
    expect(local.state.up).toBe(true);
    expect(local.recent.map((r) => r.local ?? 'judged')).toEqual(['judged', 'emfile', 'emfile', 'stalled', 'emfile']);
    const skipped = async (reason: string) => (await probesSkipped.get()).values.find((v) => v.labels.region === 'local-test' && v.labels.reason === reason)?.value;
    expect(await skipped('emfile')).toBe(3);
    expect(await skipped('stalled')).toBe(1);
    // Logged when it starts, and once more when the verdict goes stale (3 in a row): not once per probe.
    expect(lines.filter((l) => l.level === 40 && l.reason === 'emfile').map((l) => l.msg)).toEqual(['probe of local-test/x failed on this instance, not at the target: the check keeps its state']);
    expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual(['probes of local-test/x keep failing on this instance: its verdict goes stale and it stops voting until they run again']);
    await timers.advance(1000);
    prober.stop();
    expect(verdicts.map((v) => v.up)).toEqual([true, true]);
    expect(lines.some((l) => l.msg === 'probes of local-test/x run again on this instance' && l.after === 4)).toBe(true);
  });

  it('publishes a verdict after every probe, stamped with now and the interval', async () => {
    const { prober, timers, verdicts } = fakeProber([PASS]);
    const check = httpCheck('http://127.0.0.1:1/', { region: 'us-east', name: 'api', intervalMs: 1000, timeoutMs: 500 });
    prober.update(regionsOf(check));
    await timers.advance(2100);
    prober.stop();
    expect(verdicts).toEqual([50, 1050, 2050].map((t) => ({
      checkId: 'us-east/api', prober: 'fra-1', up: true, cause: 'HTTP 200', at: 1_700_000_000_000 + t, intervalMs: 1000,
    })));
  });

  it('sets the up gauge, counts transitions, and forgets the series of a removed check', async () => {
    const { prober, timers } = fakeProber([FAIL]);
    const check = httpCheck('http://127.0.0.1:1/', { region: 'metrics-test', name: 'x', intervalMs: 1000, timeoutMs: 500, fall: 2 });
    prober.update(regionsOf(check));
    const up = async () => (await checkUp.get()).values.find((v) => v.labels.region === 'metrics-test')?.value;
    expect(await up()).toBe(1);
    await timers.advance(1100);
    expect(await up()).toBe(0);
    const down = (await checkTransitions.get()).values.find((v) => v.labels.region === 'metrics-test' && v.labels.to === 'down');
    expect(down?.value).toBe(1);
    const text = await registry.metrics();
    expect(text).toContain('regiondns_probe_duration_seconds_count{region="metrics-test",check="x"} 2');
    expect(text).toContain('regiondns_check_up{region="metrics-test",check="x"} 0');

    prober.update(emptyHealthPlan());
    expect(await up()).toBeUndefined();
    expect(await registry.metrics()).not.toContain('region="metrics-test"');
    prober.stop();
  });

  it('a reload keeps the state of unchanged checks and resets changed ones', async () => {
    const { prober, timers } = fakeProber([FAIL]);
    const a = httpCheck('http://127.0.0.1:1/a', { name: 'a', intervalMs: 1000, timeoutMs: 500 });
    const b = httpCheck('http://127.0.0.1:1/b', { name: 'b', intervalMs: 1000, timeoutMs: 500 });
    prober.update(regionsOf(a, b));
    await timers.advance(2100);
    expect(prober.localStates().get(a.id)!.state).toMatchObject({ up: false, consecutiveFail: 3 });
    prober.update(regionsOf(a, { ...b, url: 'http://127.0.0.1:2/b' }));
    const states = prober.localStates();
    expect(states.get(a.id)!.state).toMatchObject({ up: false, consecutiveFail: 3 });
    expect(states.get(b.id)!.state).toMatchObject({ up: true, probes: 0 });
    expect(states.get(a.id)!.recent).toHaveLength(3);
    prober.update(regionsOf(b));
    expect([...prober.localStates().keys()]).toEqual([b.id]);
    prober.stop();
  });

  it('keeps the last 10 results per check', async () => {
    const { prober, timers } = fakeProber([PASS]);
    const a = httpCheck('http://127.0.0.1:1/a', { intervalMs: 100, timeoutMs: 50 });
    prober.update(regionsOf(a));
    await timers.advance(2000);
    const s = prober.localStates().get(a.id)!;
    expect(s.state.probes).toBe(20);
    expect(s.recent).toHaveLength(10);
    prober.stop();
  });

  it('a store that cannot take verdicts is logged once, and its recovery once', async () => {
    let failing = true;
    const { prober, timers, lines } = fakeProber([PASS], {
      publishVerdict: async () => { if (failing) throw new Error('redis unreachable'); },
    });
    prober.update(regionsOf(httpCheck('http://127.0.0.1:1/', { intervalMs: 100, timeoutMs: 50 })));
    await timers.advance(500);
    failing = false;
    await timers.advance(500);
    prober.stop();
    const msgs = lines.map((l) => l.msg);
    expect(msgs.filter((m) => String(m).startsWith('cannot publish health verdicts'))).toHaveLength(1);
    expect(msgs.filter((m) => m === 'health verdicts are being published again')).toHaveLength(1);
    expect(lines.find((l) => String(l.msg).startsWith('cannot publish'))).toMatchObject({ err: 'redis unreachable', level: 40 });
  });
});
