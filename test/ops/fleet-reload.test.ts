// The fleet-wide reload's wait, on a presence the test drives: who counts (the instances live when it
// was asked), when it stops waiting (all reported, or the deadline), and what it says when Redis
// cannot be reached. And the drift report when the other instances cannot be listed.
import { describe, expect, it } from 'vitest';
import { fleetReload } from '../../src/ops/fleet-reload.js';
import { driftReport } from '../../src/ops/drift.js';
import type { FleetPresence, InstanceList, Presence, ReloadOutcome } from '../../src/state/fleet-presence.js';
import { startFleet, cleanup } from './fixture.js';

function presenceOf(id: string, lastReload: ReloadOutcome | null = null, hash = 'aaaa'): Presence {
  return { id, hash, serials: { 'fleet.test.': 1 }, at: 0, lastReload };
}

/** A fleet whose instances report a reload after `delays[id]` polls (Infinity: never). */
class FakeFleet implements FleetPresence {
  polls = 0;
  asked: string[] = [];
  constructor(private readonly delays: Record<string, number>, private readonly failing: Record<string, string> = {}, private readonly error: string | null = null) {}
  async start(): Promise<void> {}
  async close(): Promise<void> {}
  reloaded(): void {}
  async requestReload(id: string): Promise<void> {
    this.asked.push(id);
    if (this.error) throw new Error('connection is closed');
  }
  async instances(): Promise<InstanceList> {
    const id = this.asked[0];
    const polls = this.polls++;
    return {
      instances: Object.keys(this.delays).map((i) => presenceOf(i, id && polls > this.delays[i] ? { id, ok: !this.failing[i], ...(this.failing[i] ? { error: this.failing[i] } : {}), at: 1 } : null)),
      error: this.error,
    };
  }
}

function clock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => { t += ms; } };
}

describe('fleetReload', () => {
  it('waits until every instance reported the reload, with each one\'s result', async () => {
    const fleet = new FakeFleet({ a: 0, b: 3, c: 5 }, { b: 'zones/x.zone:7: bad address' });
    const r = await fleetReload({ presence: fleet, newId: () => 'r1', ...clock() }, 'r1');
    expect(r).toMatchObject({ reload: 'r1', ok: false, notReported: [], error: null });
    expect(r.instances.map((i) => [i.id, i.ok, i.error])).toEqual([['a', true, null], ['b', false, 'zones/x.zone:7: bad address'], ['c', true, null]]);
    expect(fleet.polls).toBeLessThan(10); // it stopped as soon as all had reported
  });

  it('stops at its deadline and names the instances that did not report', async () => {
    const fleet = new FakeFleet({ a: 0, b: Infinity });
    const c = clock();
    const r = await fleetReload({ presence: fleet, newId: () => 'r2', waitMs: 2_000, ...c }, 'r2');
    expect(r).toMatchObject({ ok: false, notReported: ['b'] });
    expect(r.instances.map((i) => i.id)).toEqual(['a']);
    expect(c.now()).toBeGreaterThanOrEqual(2_000);
    expect(c.now()).toBeLessThan(2_500);
  });

  it('Redis unreachable: this instance reloads, the answer says the others could not be asked', async () => {
    const fleet = new FakeFleet({ a: 0 }, {}, 'the other instances cannot be listed: redis: connection is closed');
    const r = await fleetReload({ presence: fleet, newId: () => 'r3', ...clock() }, 'r3');
    expect(r.instances.map((i) => i.id)).toEqual(['a']);
    expect(r.error).toMatch(/redis: connection is closed/);
  });
});

describe('drift when the fleet cannot be listed', () => {
  it('is not "in sync": it says why', async () => {
    const fleet = await startFleet();
    try {
      const d = driftReport({
        snapshot: fleet.coordinator.snapshot(), drains: [], weights: [], ramps: [], tenants: [],
        instances: [{ id: 'me', hash: 'aaaa', serials: {} }], instancesError: 'the other instances cannot be listed: redis: timeout', now: 0,
      });
      expect(d.inSync).toBe(false);
      expect(d.findings).toEqual(['instances: the other instances cannot be listed: redis: timeout']);
    } finally {
      await fleet.close();
      cleanup(fleet.dir);
    }
  });
});
