// The canary ramp: weight math, durations, step checks, and the RampController on the real
// MemoryStore and Coordinator (timers, halting on health, restarts, the lease, overdue steps).
import { afterEach, describe, expect, it } from 'vitest';
import { checkSteps, nextRampState, parseEvery, RampController, rampWeights, stepOverride } from '../../src/ops/ramp.js';
import type { AuditEntry, FleetStore, Ramp } from '../../src/state/fleet-store.js';
import { API, cleanup, log, startFleet, WRITE, type Fleet } from './fixture.js';

describe('rampWeights', () => {
  const file = [{ name: 'stable', weight: 99.9 }, { name: 'canary', weight: 0.1 }];
  it.each([
    [file, 'canary', 0.1, { stable: 99.9, canary: 0.1 }],
    [file, 'canary', 1, { stable: 99, canary: 1 }],
    [file, 'canary', 5, { stable: 95, canary: 5 }],
    [file, 'canary', 25, { stable: 75, canary: 25 }],
    [file, 'canary', 100, { stable: 0, canary: 100 }],
    [file, 'stable', 50, { stable: 50, canary: 50 }],
    // The others share the rest in proportion to their file weights…
    [[{ name: 'a', weight: 60 }, { name: 'b', weight: 30 }, { name: 'canary', weight: 10 }], 'canary', 25, { a: 50, b: 25, canary: 25 }],
    [[{ name: 'a', weight: 1 }, { name: 'canary', weight: 0 }, { name: 'b', weight: 3 }], 'canary', 20, { a: 20, canary: 20, b: 60 }],
    // …or equally when theirs are all 0.
    [[{ name: 'a', weight: 0 }, { name: 'b', weight: 0 }, { name: 'canary', weight: 100 }], 'canary', 10, { a: 45, b: 45, canary: 10 }],
    // Thirds are rounded to 1e-9.
    [[{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }, { name: 'c', weight: 1 }, { name: 'canary', weight: 0 }], 'canary', 0, { a: 33.333333333, b: 33.333333333, c: 33.333333333, canary: 0 }],
  ])('%j, %s at %d% → %j', (sets, set, percent, expected) => {
    const w = rampWeights(sets, set, percent);
    expect(w).toEqual(expected);
    expect(Object.values(w).reduce((a, b) => a + b, 0)).toBeCloseTo(100, 6);
  });

  it('refuses an unknown set or a percent outside 0-100', () => {
    expect(() => rampWeights(file, 'blue', 1)).toThrow('no record set "blue"');
    expect(() => rampWeights(file, 'canary', 101)).toThrow('not within 0-100');
    expect(() => rampWeights(file, 'canary', NaN)).toThrow('not within 0-100');
  });
});

describe('a ramp after a split', () => {
  const policy = {
    fqdn: 'w.example.', sets: [{ name: 'a', weight: 98, regions: [] }, { name: 'b', weight: 1, regions: [] }, { name: 'canary', weight: 1, regions: [] }],
  } as unknown as Parameters<typeof stepOverride>[0];

  it('keeps the proportions of the split in force for the other sets, not the file\'s', () => {
    const ramp = { set: 'canary', steps: [5, 50], base: { a: 90, b: 10, canary: 0 } };
    expect(stepOverride(policy, ramp, 0, 't', 0).weights).toEqual({ a: 85.5, b: 9.5, canary: 5 });
    expect(stepOverride(policy, ramp, 1, 't', 0).weights).toEqual({ a: 45, b: 5, canary: 50 });
  });

  it('without a split, the file proportions', () => {
    expect(stepOverride(policy, { set: 'canary', steps: [5] }, 0, 't', 0).weights).toEqual({ a: 94.04040404, b: 0.95959596, canary: 5 });
  });
});

describe('durations and steps', () => {
  it.each([
    ['30s', 30_000], ['10m', 600_000], ['1h30m', 5_400_000], ['1d', 86_400_000], ['500ms', 500], ['1.5s', 1500], [2500, 2500],
  ] as const)('every %j = %j ms', (text, ms) => {
    expect(parseEvery(text)).toEqual({ ok: true, ms });
  });

  it.each([['2500', 'has no unit'], ['soon', 'not a duration'], [-5, 'not a number'], [NaN, 'not a number'], [Infinity, 'not a number']] as const)('every %j is refused: %s', (text, why) => {
    const r = parseEvery(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain(why);
  });


  it.each([
    [[0.1, 1, 5, 25, 100], null],
    [[50], null],
    [[], 'steps must not be empty'],
    [[0, 1], 'step 0 is not within 0 (exclusive) and 100'],
    [[1, 100.5], 'step 100.5 is not within 0 (exclusive) and 100'],
    [[1, 5, 5], 'steps must be strictly increasing: 5 then 5'],
    [[10, 5], 'steps must be strictly increasing: 10 then 5'],
  ])('checkSteps(%j) = %j', (steps, message) => {
    expect(checkSteps(steps)).toBe(message);
  });
});

// ---- the controller ------------------------------------------------------------------------------

let fleets: Fleet[] = [];
const controllers: RampController[] = [];
afterEach(async () => {
  for (const c of controllers.splice(0)) await c.stop();
  for (const f of fleets.splice(0)) {
    await f.close();
    cleanup(f.dir);
  }
});

async function fleet(opts: Parameters<typeof startFleet>[0] = {}): Promise<Fleet> {
  const f = await startFleet(opts);
  fleets.push(f);
  return f;
}

function controller(f: Fleet, opts: { instanceId?: string; now?: () => number; tickMs?: number; store?: FleetStore } = {}): RampController {
  const c = new RampController({ store: opts.store ?? f.store, snapshot: () => f.coordinator.snapshot(), instanceId: opts.instanceId ?? 'i-1', now: opts.now, tickMs: opts.tickMs, log });
  controllers.push(c);
  return c;
}

/** Writes a running ramp of api's canary with step 0 in force, as POST /ramp would (tests may use every < 1s here). */
async function putRamp(f: Fleet, over: Partial<Ramp> & { everyMs: number }, now = Date.now()): Promise<Ramp> {
  const ramp: Ramp = {
    fqdn: API, set: 'canary', steps: [1, 5, 25, 100], step: 0, nextAt: now + over.everyMs, state: 'running', haltReason: null,
    haltOnUnhealthyRegions: true, by: 'alice', startedAt: now, ...over,
  };
  const weights = rampWeights(f.cfg.steering.hostnames.get(API)!.sets, 'canary', ramp.steps[ramp.step]);
  await f.store.write(
    [{ ns: 'ramp', key: API, value: ramp }, { ns: 'weights', key: API, value: { fqdn: API, weights, by: 'alice', at: now } }],
    { actor: 'alice', action: 'ramp.start', target: API, reason: null, before: null, after: ramp },
  );
  return ramp;
}

const rampOf = (f: Fleet): Ramp => f.store.get('ramp').get(API) as Ramp;
const stepEntries = async (f: Fleet): Promise<AuditEntry[]> => (await f.store.audit(1000)).filter((e) => e.action.startsWith('ramp.') && e.action !== 'ramp.start').reverse();

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('RampController', () => {
  it('advances through the steps on its timer, each step its own write, and ends done', async () => {
    const f = await fleet();
    const started = Date.now();
    await putRamp(f, { everyMs: 200 });
    controller(f, { tickMs: 50 }).start();
    await until(() => rampOf(f).state === 'done');
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    const entries = await stepEntries(f);
    expect(entries.map((e) => [e.actor, e.action, (e.after as { ramp: Ramp }).ramp.step])).toEqual([
      ['ramp-controller', 'ramp.step', 1],
      ['ramp-controller', 'ramp.step', 2],
      ['ramp-controller', 'ramp.done', 3],
    ]);
    expect(entries[2].reason).toBe('step 4/4: canary at 100% (last step: ramp done)');
    // Steps are spaced by the ramp's own schedule (nextAt); audit times are stamped a moment later.
    for (let i = 1; i < entries.length; i++) {
      const at = (e: (typeof entries)[number]) => (e.after as { ramp: Ramp }).ramp.nextAt;
      expect(at(entries[i]) - at(entries[i - 1])).toBeGreaterThanOrEqual(200);
    }
    expect(f.store.get('weights').get(API)).toMatchObject({ weights: { stable: 0, canary: 100 }, by: 'ramp-controller' });
    expect(f.coordinator.snapshot().weightOverrides.get(API)).toEqual([0, 100]);
  });

  it('halts when a region of the ramped set goes down (health), keeping its weights', async () => {
    const f = await fleet();
    await putRamp(f, { everyMs: 200 });
    controller(f, { tickMs: 50 }).start();
    await until(() => rampOf(f).step === 1);
    f.setHealth('ap-south', { up: false, reason: '2 of 3 probers: HTTP 500' });
    await until(() => rampOf(f).state === 'halted');
    const halted = rampOf(f);
    expect(halted.step).toBeGreaterThanOrEqual(1); // normally 1; a slow machine may have taken step 2 meanwhile
    expect(halted).toMatchObject({ state: 'halted', haltReason: 'region ap-south down: 2 of 3 probers: HTTP 500' });
    const pct = halted.steps[halted.step];
    const last = (await stepEntries(f)).at(-1)!;
    expect(last).toMatchObject({ actor: 'ramp-controller', action: 'ramp.halt', reason: `halted at step ${halted.step + 1}/4 (${pct}%): region ap-south down: 2 of 3 probers: HTTP 500` });
    expect(f.store.get('weights').get(API)).toMatchObject({ weights: { stable: 100 - pct, canary: pct } });
    const versionAtHalt = f.store.version();
    await new Promise((r) => setTimeout(r, 400));
    expect(f.store.version()).toBe(versionAtHalt); // a halted ramp stays put
  });

  it('does not halt for a drain (an operator choice), for regions outside the set, or with halt-on off', async () => {
    let t = 1_000_000;
    const f = await fleet({ now: () => t });
    await putRamp(f, { everyMs: 1000 }, t);
    const res = await f.app.inject({ method: 'POST', url: '/v1/regions/ap-south/drain', headers: WRITE, payload: { reason: 'x', hostnames: [API], force: true } });
    expect(res.statusCode).toBe(200);
    f.setHealth('us-east', { up: false, reason: 'timeout' }); // not in the canary set
    const c = controller(f, { now: () => t });
    t += 1000;
    await c.tick();
    expect(rampOf(f)).toMatchObject({ step: 1, state: 'running' });

    f.setHealth('ap-south', { up: false, reason: 'timeout' });
    await f.store.write([{ ns: 'ramp', key: API, value: { ...rampOf(f), haltOnUnhealthyRegions: false } }], { actor: 't', action: 't', target: API, reason: null, before: null, after: null });
    t += 1000;
    await c.tick();
    expect(rampOf(f)).toMatchObject({ step: 2, state: 'running' });
  });

  it('halts when the hostname or its set leaves the config (pure decision)', () => {
    const ramp = { fqdn: API, set: 'canary', steps: [1, 2], everyMs: 1000, step: 0, nextAt: 0, state: 'running', haltReason: null, haltOnUnhealthyRegions: false, by: 'a', startedAt: 0 } satisfies Ramp;
    const snap = { steering: { regions: new Map(), hostnames: new Map() }, regionHealth: new Map() } as unknown as Parameters<typeof nextRampState>[0];
    expect(nextRampState(snap, ramp, 5)?.ramp).toMatchObject({ state: 'halted', haltReason: `hostname ${API} is no longer in the steering config` });
    expect(nextRampState(snap, { ...ramp, state: 'halted' }, 5)).toBeNull();
  });

  it('an overdue ramp advances ONE step per tick and then waits a full interval', async () => {
    let t = 10_000_000;
    const f = await fleet({ now: () => t });
    await putRamp(f, { everyMs: 60_000, nextAt: t - 10 * 60_000 }, t - 11 * 60_000);
    const c = controller(f, { now: () => t });
    await c.tick();
    expect(rampOf(f)).toMatchObject({ step: 1, nextAt: t + 60_000, state: 'running' });
    await c.tick();
    await c.tick();
    expect(rampOf(f).step).toBe(1);
    t += 60_000;
    await c.tick();
    expect(rampOf(f).step).toBe(2);
  });

  it('survives a restart: a new store on the same state directory and a new controller continue from the stored step', async () => {
    let t = 5_000_000;
    const first = await fleet({ now: () => t });
    await putRamp(first, { everyMs: 1000 }, t);
    const c1 = controller(first, { now: () => t, instanceId: 'old' });
    t += 1000;
    await c1.tick();
    expect(rampOf(first).step).toBe(1);
    await c1.stop();
    await first.close();
    fleets = fleets.filter((x) => x !== first);

    const second = await fleet({ now: () => t, dir: first.dir });
    expect(rampOf(second)).toMatchObject({ step: 1, state: 'running', nextAt: t + 1000 });
    expect(second.coordinator.snapshot().weightOverrides.get(API)).toEqual([95, 5]);
    const c2 = controller(second, { now: () => t, instanceId: 'new' });
    await c2.tick();
    expect(rampOf(second).step).toBe(1); // not due yet: absolute times survive
    t += 1000;
    await c2.tick();
    t += 1000;
    await c2.tick();
    expect(rampOf(second)).toMatchObject({ step: 3, state: 'done' });
    expect((await stepEntries(second)).map((e) => e.action)).toEqual(['ramp.step', 'ramp.step', 'ramp.done']);
  });

  it('two controllers on one store: only the lease holder advances; the other takes over when it stops', async () => {
    const f = await fleet();
    const writes: Record<string, number> = { a: 0, b: 0 };
    const spy = (id: string): FleetStore => new Proxy(f.store, {
      get(target, prop) {
        if (prop === 'write') return (...args: Parameters<FleetStore['write']>) => { writes[id]++; return target.write(...args); };
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    // Lease TTL = 3 × tickMs = 300 ms: a's renewals every 100 ms keep it even on a slow machine.
    const a = controller(f, { instanceId: 'a', tickMs: 100, store: spy('a') });
    const b = controller(f, { instanceId: 'b', tickMs: 100, store: spy('b') });
    await a.tick(); // a takes the lease first
    a.start();
    b.start();
    await putRamp(f, { everyMs: 200 });
    await until(() => rampOf(f).state === 'done');
    expect(writes).toEqual({ a: 3, b: 0 });
    expect((await stepEntries(f)).map((e) => (e.after as { ramp: Ramp }).ramp.step)).toEqual([1, 2, 3]);

    await a.stop();
    await putRamp(f, { everyMs: 200 });
    await until(() => rampOf(f).state === 'done');
    expect(writes).toEqual({ a: 3, b: 3 });
  });

  it('a failed write changes nothing and is retried on the next tick', async () => {
    let t = 1_000_000;
    const f = await fleet({ now: () => t });
    await putRamp(f, { everyMs: 1000 }, t);
    const c = controller(f, { now: () => t });
    f.store.database()!.setReadOnly(true);
    t += 1000;
    await c.tick();
    expect(rampOf(f).step).toBe(0);
    f.store.database()!.setReadOnly(false);
    await c.tick();
    expect(rampOf(f).step).toBe(1);
  });
});
