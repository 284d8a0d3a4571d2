import { describe, expect, it } from 'vitest';
import type { CheckConfig } from '../../src/health/check-config.js';
import { evaluateHealth, type HealthView, type Quorum } from '../../src/health/quorum.js';
import type { Verdict } from '../../src/health/verdict.js';
import { httpCheck, tcpCheck } from './fixtures.js';

const NOW = 1_000_000;
const EU_HTTP = httpCheck('https://lb.eu.example.net/healthz', { region: 'eu-central', name: 'http#0', intervalMs: 5000 });
const EU_TCP = tcpCheck('10.1.0.10', 443, { region: 'eu-central', name: 'tcp#1', intervalMs: 5000 });
const US_HTTP = httpCheck('https://lb.us.example.net/healthz', { region: 'us-east', name: 'http#0', intervalMs: 5000 });
const CHECKS: ReadonlyMap<string, readonly CheckConfig[]> = new Map([
  ['eu-central', [EU_HTTP, EU_TCP]],
  ['us-east', [US_HTTP]],
  ['ap-south', []],
]);

/** A verdict from `prober` on `check`: "+" up / "-" down, `age` ms old. */
function v(check: CheckConfig, prober: string, vote: '+' | '-', age = 1000, cause?: string): Verdict {
  return { checkId: check.id, prober, up: vote === '+', cause: cause ?? (vote === '+' ? 'HTTP 200' : 'HTTP 500'), at: NOW - age, intervalMs: check.intervalMs };
}

function evaluate(verdicts: Verdict[], previous: HealthView | null = null, quorum?: Quorum): HealthView {
  return evaluateHealth({ checks: CHECKS, verdicts, now: NOW, previous, quorum });
}

describe('evaluateHealth: one check, three probers', () => {
  type Case = [name: string, votes: [string, '+' | '-', number?][], quorum: Quorum | undefined, up: boolean, stale: boolean, cause: string];
  const cases: Case[] = [
    ['all up', [['a', '+'], ['b', '+'], ['c', '+']], undefined, true, false, 'HTTP 200 (3 of 3 probers)'],
    ['one down: outvoted', [['a', '-'], ['b', '+'], ['c', '+']], undefined, true, false, 'HTTP 200 (2 of 3 probers)'],
    ['two down: majority', [['a', '-'], ['b', '-'], ['c', '+']], undefined, false, false, 'HTTP 500 (2 of 3 probers)'],
    ['all down', [['a', '-'], ['b', '-'], ['c', '-']], undefined, false, false, 'HTTP 500 (3 of 3 probers)'],
    ['two down, but one of them stale: 1 of 2 fresh is no majority', [['a', '-'], ['b', '-', 15_001], ['c', '+']], undefined, true, false, 'HTTP 200 (1 of 2 probers)'],
    ['exactly 3 intervals old is still fresh', [['a', '-', 15_000], ['b', '-'], ['c', '+']], undefined, false, false, 'HTTP 500 (2 of 3 probers)'],
    ['1 of 1 fresh voter down', [['a', '-'], ['b', '+', 20_000], ['c', '+', 20_000]], undefined, false, false, 'HTTP 500 (1 of 1 probers)'],
    ['tie (1 of 2) is not a majority', [['a', '-'], ['b', '+']], undefined, true, false, 'HTTP 200 (1 of 2 probers)'],
    ['quorum 1: any fresh down', [['a', '-'], ['b', '+'], ['c', '+']], 1, false, false, 'HTTP 500 (1 of 3 probers)'],
    ['quorum 3: two down are not enough', [['a', '-'], ['b', '-'], ['c', '+']], 3, true, false, 'HTTP 200 (1 of 3 probers)'],
    ['quorum 2 with one fresh voter, down', [['a', '-']], 2, true, false, 'up (1 of 1 probers down, quorum 2)'],
    ['no verdict at all: initial state, stale', [], undefined, true, true, 'initial state, no verdict yet'],
    ['only stale verdicts: initial state, stale', [['a', '-', 60_000], ['b', '-', 60_000]], undefined, true, true, 'initial state, no verdict yet'],
  ];

  it.each(cases)('%s', (_name, votes, quorum, up, stale, cause) => {
    const view = evaluate(votes.map(([p, vote, age]) => v(EU_HTTP, p, vote, age)), null, quorum);
    const h = view.checks.get(EU_HTTP.id)!;
    expect({ up: h.up, stale: h.stale, cause: h.cause }).toEqual({ up, stale, cause });
    expect(view.regions.get('eu-central')!.up).toBe(up);
  });
});

describe('evaluateHealth: regions, staleness, voters', () => {
  it('a region is operational when all its checks are up; one without checks always is', () => {
    const view = evaluate([v(EU_HTTP, 'a', '+'), v(EU_TCP, 'a', '-', 100, 'connection refused'), v(US_HTTP, 'a', '+')]);
    expect(view.regions.get('eu-central')).toEqual({
      up: false, stale: false, checks: ['eu-central/http#0', 'eu-central/tcp#1'],
      reason: 'down: eu-central/tcp#1 connection refused (1 of 1 probers)',
    });
    expect(view.regions.get('us-east')).toMatchObject({ up: true, reason: 'up', stale: false });
    expect(view.regions.get('ap-south')).toEqual({ up: true, reason: 'up', stale: false, checks: [] });
    expect([...view.regions.keys()]).toEqual(['eu-central', 'us-east', 'ap-south']);
  });

  it('every down check is named in the reason', () => {
    const view = evaluate([v(EU_HTTP, 'a', '-'), v(EU_HTTP, 'b', '-'), v(EU_HTTP, 'c', '+'), v(EU_TCP, 'a', '-', 100, 'timeout after 1000 ms')]);
    expect(view.regions.get('eu-central')!.reason).toBe(
      'down: eu-central/http#0 HTTP 500 (2 of 3 probers); eu-central/tcp#1 timeout after 1000 ms (1 of 1 probers)');
  });

  it('the commonest cause of the winning side is reported', () => {
    const view = evaluate([v(EU_HTTP, 'a', '-', 1, 'timeout after 2000 ms'), v(EU_HTTP, 'b', '-', 1, 'HTTP 503 (expected 200)'), v(EU_HTTP, 'c', '-', 1, 'HTTP 503 (expected 200)')]);
    expect(view.checks.get(EU_HTTP.id)!.cause).toBe('HTTP 503 (expected 200) (3 of 3 probers)');
  });

  it('with no fresh verdict the last state holds, marked stale', () => {
    const before = evaluate([v(EU_HTTP, 'a', '-'), v(EU_HTTP, 'b', '-'), v(EU_HTTP, 'c', '+')]);
    expect(before.checks.get(EU_HTTP.id)).toMatchObject({ up: false, stale: false });
    // Every prober went quiet: the verdicts age past 3 intervals.
    const later = evaluateHealth({ checks: CHECKS, verdicts: [v(EU_HTTP, 'a', '-', 16_000), v(EU_HTTP, 'c', '+', 16_000)], now: NOW, previous: before });
    expect(later.checks.get(EU_HTTP.id)).toMatchObject({ up: false, stale: true, cause: 'HTTP 500 (2 of 3 probers)' });
    expect(later.regions.get('eu-central')).toMatchObject({
      up: false, stale: true, reason: 'down: eu-central/http#0 HTTP 500 (2 of 3 probers), stale: no fresh verdict',
    });
    // And again from the stale view: still held.
    const again = evaluateHealth({ checks: CHECKS, verdicts: [], now: NOW + 60_000, previous: later });
    expect(again.checks.get(EU_HTTP.id)).toMatchObject({ up: false, stale: true });
  });

  it('initial-state down holds until a verdict arrives', () => {
    const down = httpCheck('http://127.0.0.1:1/', { region: 'us-east', name: 'cold', initialState: 'down' });
    const checks = new Map([['us-east', [down]]]);
    const view = evaluateHealth({ checks, verdicts: [], now: NOW, previous: null });
    expect(view.regions.get('us-east')).toMatchObject({ up: false, stale: true, reason: 'down: us-east/cold initial state, no verdict yet, stale: no fresh verdict' });
    const after = evaluateHealth({ checks, verdicts: [v(down, 'a', '+')], now: NOW, previous: view });
    expect(after.regions.get('us-east')).toMatchObject({ up: true, stale: false, reason: 'up' });
  });

  it('voters: newest verdict per prober, fresh first, with ages', () => {
    const view = evaluate([v(EU_HTTP, 'b', '-', 4000), v(EU_HTTP, 'b', '+', 500), v(EU_HTTP, 'a', '-', 20_000), v(EU_HTTP, 'c', '+', 100)]);
    expect(view.checks.get(EU_HTTP.id)!.voters).toEqual([
      { prober: 'b', up: true, cause: 'HTTP 200', ageMs: 500, fresh: true },
      { prober: 'c', up: true, cause: 'HTTP 200', ageMs: 100, fresh: true },
      { prober: 'a', up: false, cause: 'HTTP 500', ageMs: 20_000, fresh: false },
    ]);
  });

  it('verdicts of checks not configured are ignored', () => {
    const ghost: Verdict = { checkId: 'mars/http#0', prober: 'a', up: false, cause: 'x', at: NOW, intervalMs: 5000 };
    const view = evaluate([ghost]);
    expect(view.checks.has('mars/http#0')).toBe(false);
    expect(view.regions.has('mars')).toBe(false);
  });
});
