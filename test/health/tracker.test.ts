// HealthTracker: judges region and endpoint checks from the fleet's verdicts, and keeps its last view
// while nothing it was judged from changed (verdicts arrive once per probe; judging is O(checks)).
import { describe, expect, it } from 'vitest';
import { endpointCheck } from '../../src/health/endpoint-checks.js';
import type { HealthPlan } from '../../src/health/plan.js';
import { HealthTracker } from '../../src/health/tracker.js';
import type { Verdict } from '../../src/health/verdict.js';
import type { Snapshot } from '../../src/state/snapshot.js';
import { tcpCheck } from './fixtures.js';

const region = tcpCheck('10.0.0.1', 443, { region: 'eu-central', name: 'lb', id: 'eu-central/lb', intervalMs: 1000 });
const ep = endpointCheck(tcpCheck('10.0.0.2', 443, { intervalMs: 1000 }));
const plan: HealthPlan = {
  regions: new Map([['eu-central', [region]]]),
  endpointChecks: new Map([[ep.id, ep]]),
  pools: new Map(),
};
const snap = { steering: { regions: new Map(), hostnames: new Map() } } as unknown as Snapshot;

function setup() {
  let verdicts: Verdict[] = [];
  const clock = { now: 0 };
  const tracker = new HealthTracker(plan, { verdicts: () => verdicts }, { now: () => clock.now });
  const set = (...v: Verdict[]) => { verdicts = v; };
  const v = (checkId: string, up: boolean, at: number, prober = 'p1'): Verdict => ({ checkId, prober, up, cause: up ? 'connected' : 'connection refused', at, intervalMs: 1000 });
  return { tracker, set, v, clock };
}

describe('HealthTracker', () => {
  it('endpoint checks that are down come out of endpointSource, regions out of source', () => {
    const { tracker, set, v } = setup();
    set(v(region.id, true, 100), v(ep.id, false, 100));
    expect([...tracker.source(snap, 200)]).toEqual([]);
    expect([...tracker.endpointSource(snap, 200)]).toEqual([[ep.id, { up: false, reason: 'connection refused (1 of 1 probers)' }]]);
    set(v(region.id, false, 300), v(ep.id, true, 300));
    expect([...tracker.source(snap, 400)]).toEqual([['eu-central', { up: false, reason: 'down: eu-central/lb connection refused (1 of 1 probers)' }]]);
    expect([...tracker.endpointSource(snap, 400)]).toEqual([]);
  });

  it('renewed verdicts that say the same keep the last view; a changed vote, or one going stale, is judged again', () => {
    const { tracker, set, v, clock } = setup();
    set(v(ep.id, false, 100));
    const first = tracker.endpointSource(snap, 200);
    expect(first.size).toBe(1);
    const report = () => tracker.report()!.endpointChecks[ep.id];
    const judgedAt = () => tracker.report() && (tracker as unknown as { previous: { at: number } }).previous.at;
    set(v(ep.id, false, 1100));
    tracker.endpointSource(snap, 1200);
    expect(judgedAt()).toBe(200); // same vote, same cause: not judged again
    set(v(ep.id, true, 2100));
    expect(tracker.endpointSource(snap, 2200).size).toBe(0);
    expect(judgedAt()).toBe(2200);
    // No new verdict: fresh until 2100 + 3 × 1000; after that the check is stale (last state holds).
    tracker.endpointSource(snap, 5100);
    expect(judgedAt()).toBe(2200);
    tracker.endpointSource(snap, 5101);
    expect(judgedAt()).toBe(5101);
    clock.now = 5101;
    expect(report()).toMatchObject({ up: true, stale: true });
    // The report is judged when asked: its ages are the ones of now.
    clock.now = 6000;
    expect(report().voters[0]).toMatchObject({ prober: 'p1', fresh: false, ageMs: 3900 });
  });

  it('a new config is judged even when no verdict changed', () => {
    const { tracker, set, v } = setup();
    set(v(ep.id, false, 100));
    expect(tracker.endpointSource(snap, 200).size).toBe(1);
    tracker.setPlan({ ...plan, endpointChecks: new Map() });
    const next = { steering: { regions: new Map(), hostnames: new Map() } } as unknown as Snapshot;
    expect(tracker.endpointSource(next, 300).size).toBe(0);
  });
});
