import { describe, expect, it } from 'vitest';
import type { ClientLocation } from '../../src/geo/types.js';
import type { HostnamePolicy } from '../../src/steering/policy.js';
import { parseLatencyTable } from '../../src/geo/latency-table.js';
import { steer, SteeringMemo, type SteeringInput, type SteeringResult } from '../../src/steering/pipeline.js';
import { createTrace, formatTrace } from '../../src/steering/trace.js';
import {
  allUp, BERLIN, DELHI, downRegions, fixedRng, NEW_YORK, policy, REGIONS, split, table, v4Client, v6Client,
} from './fixtures.js';

function input(p: HostnamePolicy, over: Partial<SteeringInput> = {}): SteeringInput {
  return {
    policy: p,
    client: v4Client('198.51.100.7', 24),
    location: BERLIN,
    isOperational: allUp,
    regions: REGIONS,
    latencyTable: null,
    rng: fixedRng(0.5),
    ...over,
  };
}

const canary = split(['stable', 99.9, ['us-east', 'eu-central']], ['canary', 0.1, ['us-east', 'eu-central', 'ap-south']]);

describe('steer', () => {
  const cases: { name: string; p: HostnamePolicy; over?: Partial<SteeringInput>; want: Partial<SteeringResult> }[] = [
    {
      name: 'nearest region for a Berlin client',
      p: policy(),
      want: { regions: ['eu-central'], setName: 'all', outcome: 'ok', ttl: 30, ecsScope: 20 },
    },
    {
      name: 'nearest region for a Delhi client',
      p: policy(),
      over: { location: DELHI },
      want: { regions: ['ap-south'], outcome: 'ok', ecsScope: 22 },
    },
    {
      name: 'answers: 2 gives the two nearest, nearest first',
      p: policy({ answers: 2 }),
      over: { location: NEW_YORK },
      want: { regions: ['us-east', 'eu-central'] },
    },
    {
      name: 'answers larger than the set gives the whole set, sorted',
      p: policy({ answers: 9 }),
      over: { location: DELHI },
      want: { regions: ['ap-south', 'eu-central', 'us-east'] },
    },
    {
      name: 'a down region is skipped',
      p: policy(),
      over: { isOperational: downRegions('eu-central') },
      want: { regions: ['ap-south'], outcome: 'ok', ttl: 30 },
    },
    {
      name: 'the stable set never answers ap-south, even for Delhi',
      p: policy({ sets: canary }),
      over: { location: DELHI, rng: fixedRng(0.5) },
      want: { regions: ['eu-central'], setName: 'stable' },
    },
    {
      name: 'the canary set does',
      p: policy({ sets: canary }),
      over: { location: DELHI, rng: fixedRng(0.9999) },
      want: { regions: ['ap-south'], setName: 'canary' },
    },
    {
      name: 'runtime weights move everyone to the canary',
      p: policy({ sets: canary }),
      over: { location: DELHI, weights: [0, 100], rng: fixedRng(0) },
      want: { setName: 'canary', regions: ['ap-south'] },
    },
    {
      name: 'unlocatable client: configured order',
      p: policy({ sets: split(['s', 1, ['ap-south', 'us-east', 'eu-central']]) }),
      over: { location: null },
      want: { regions: ['ap-south'], ecsScope: 24 },
    },
    {
      name: 'a latency table entry changes the answer',
      p: policy(),
      over: { latencyTable: table({ 'DE ap-south': 1 }) },
      want: { regions: ['ap-south'] },
    },
  ];
  it.each(cases)('$name', ({ p, over, want }) => {
    expect(steer(input(p, over), null)).toMatchObject(want);
  });

  it('gives the same result with and without a trace', () => {
    for (const loc of [BERLIN, DELHI, NEW_YORK, null]) {
      for (const u of [0.1, 0.9995]) {
        const a = steer(input(policy({ sets: canary, answers: 2 }), { location: loc, rng: fixedRng(u) }), null);
        const b = steer(input(policy({ sets: canary, answers: 2 }), { location: loc, rng: fixedRng(u) }), createTrace());
        expect(b).toEqual(a);
      }
    }
  });
});

describe('when all regions of the drawn set are down', () => {
  const allDown = downRegions('us-east', 'eu-central', 'ap-south');

  it('fail-open: answers from the whole set, sorted, TTL halved', () => {
    const r = steer(input(policy({ ttl: 31 }), { isOperational: allDown }), null);
    expect(r).toEqual({ regions: ['eu-central'], setName: 'all', outcome: 'fail-open', ttl: 15, ecsScope: 20 });
  });

  it('fail-open only considers the drawn set', () => {
    const r = steer(input(policy({ sets: canary }), { location: DELHI, isOperational: downRegions('us-east', 'eu-central') }), null);
    expect(r).toMatchObject({ setName: 'stable', outcome: 'fail-open', regions: ['eu-central'] });
  });

  it('servfail: no regions, scope 0', () => {
    const r = steer(input(policy({ whenAllDown: { kind: 'servfail' } }), { isOperational: allDown }), null);
    expect(r).toEqual({ regions: [], setName: 'all', outcome: 'servfail', ttl: 30, ecsScope: 0 });
  });

  it('region:<id>: the fallback region, whatever its health, whatever the location; scope 0', () => {
    const p = policy({ sets: split(['s', 1, ['us-east', 'eu-central']]), whenAllDown: { kind: 'region', region: 'ap-south' } });
    const r = steer(input(p, { location: NEW_YORK, isOperational: allDown }), null);
    expect(r).toEqual({ regions: ['ap-south'], setName: 's', outcome: 'fallback-region', ttl: 30, ecsScope: 0 });
  });

  it('one region up is enough: no fallback', () => {
    const p = policy({ whenAllDown: { kind: 'servfail' } });
    expect(steer(input(p, { isOperational: downRegions('us-east', 'eu-central') }), null))
      .toMatchObject({ outcome: 'ok', regions: ['ap-south'] });
  });
});

describe('ECS scope (RFC 7871 §7.2.1)', () => {
  const at = (networkPrefix: number): ClientLocation => ({ ...BERLIN, networkPrefix });
  const cases: { name: string; p: HostnamePolicy; over: Partial<SteeringInput>; scope: number }[] = [
    { name: 'GeoIP network prefix', p: policy(), over: { location: at(18) }, scope: 18 },
    { name: 'capped at the source prefix', p: policy(), over: { location: at(24), client: v4Client('198.51.100.0', 20) }, scope: 20 },
    { name: 'a GeoIP prefix longer than the source is capped', p: policy(), over: { location: at(32), client: v4Client('198.51.100.0', 24) }, scope: 24 },
    { name: 'random split adds nothing', p: policy({ sets: canary }), over: { location: at(12) }, scope: 12 },
    { name: 'sticky raises to /24', p: policy({ sets: canary, sticky: 'subnet' }), over: { location: at(12) }, scope: 24 },
    { name: 'sticky keeps a longer GeoIP prefix', p: policy({ sets: canary, sticky: 'subnet' }), over: { location: at(28), client: v4Client('198.51.100.0', 32) }, scope: 28 },
    { name: 'sticky, but the source is /16', p: policy({ sets: canary, sticky: 'subnet' }), over: { location: at(12), client: v4Client('198.51.0.0', 16) }, scope: 16 },
    { name: 'sticky with one set does not depend on the subnet', p: policy({ sticky: 'subnet', sets: split(['only', 1, ['eu-central']]) }), over: { location: at(12) }, scope: 0 },
    { name: 'one region: nothing to sort, scope 0', p: policy({ sets: split(['only', 1, ['eu-central']]) }), over: { location: at(12) }, scope: 0 },
    { name: 'one region left after health: scope 0', p: policy(), over: { location: at(12), isOperational: downRegions('us-east', 'ap-south') }, scope: 0 },
    { name: 'unlocatable IPv4: /24', p: policy(), over: { location: null }, scope: 24 },
    { name: 'unlocatable IPv4 with a /20 source: /20', p: policy(), over: { location: null, client: v4Client('198.51.96.0', 20) }, scope: 20 },
    { name: 'unlocatable IPv6: /56', p: policy(), over: { location: null, client: v6Client([0x20, 0x01, 0x0d, 0xb8], 64) }, scope: 56 },
    { name: 'unlocatable IPv6 with a /48 source: /48', p: policy(), over: { location: null, client: v6Client([0x20, 0x01, 0x0d, 0xb8], 48) }, scope: 48 },
    { name: 'IPv6 sticky: /56', p: policy({ sets: canary, sticky: 'subnet' }), over: { location: at(32), client: v6Client([0x20, 0x01], 64) }, scope: 56 },
    { name: 'source prefix 0: scope 0', p: policy(), over: { location: at(18), client: v4Client('0.0.0.0', 0) }, scope: 0 },
  ];
  it.each(cases)('$name → /$scope', ({ p, over, scope }) => {
    const trace = createTrace();
    expect(steer(input(p, over), trace).ecsScope).toBe(scope);
    expect(trace.ecsScope).toBe(scope);
    expect(trace.ecsScopeWhy).toBeTruthy();
  });
});

describe('trace', () => {
  it('records every stage as JSON-able data', () => {
    const trace = createTrace();
    steer(input(policy({ sets: canary, answers: 1 }), {
      client: v4Client('198.51.100.0', 24), location: BERLIN, rng: fixedRng(0.25), isOperational: downRegions('us-east'),
    }), trace);
    expect(JSON.parse(JSON.stringify(trace))).toEqual(trace);
    expect(trace).toMatchObject({
      hostname: 'api.gslb.example.com.',
      client: { address: '198.51.100.0', prefix: 24, source: 'ecs' },
      location: { country: 'DE', city: 'Berlin', lat: 52.52, lon: 13.4, networkPrefix: 20 },
      draw: { method: 'random', value: 0.25, chosen: 'stable' },
      health: [
        { region: 'us-east', up: false, reason: 'probes failing' },
        { region: 'eu-central', up: true, reason: 'healthy' },
      ],
      allDown: null,
      sort: { method: 'latency' },
      answer: [{ region: 'eu-central', v4: ['198.51.100.10'], v6: [] }],
      outcome: 'ok',
      ttl: 30,
      ecsScope: 0, // one region left to answer with: it does not depend on the client
    });
  });

  it('formats readable lines for the CLI', () => {
    const trace = createTrace();
    steer(input(policy({ sets: canary, answers: 2 }), {
      client: v4Client('198.51.100.0', 24), rng: fixedRng(0.9995), isOperational: downRegions('us-east'),
    }), trace);
    const text = formatTrace(trace);
    expect(text).toContain('hostname: api.gslb.example.com.');
    expect(text).toContain('client: 198.51.100.0/24 from EDNS Client Subnet');
    expect(text).toContain('location: Berlin, DE (52.52, 13.4), GeoIP network /20');
    expect(text).toContain('record set: canary (random draw 0.9995 x total 100 = 99.95; configured weights stable 99.9, canary 0.1)');
    expect(text).toMatch(/health:\n {2}REGION {6}STATE {2}WHY\n/);
    expect(text).toMatch(/ {2}us-east {5}DOWN {3}probes failing/);
    expect(text).toMatch(/1\. eu-central {2}\d+ km, ~[\d.]+ ms \(distance model\)/);
    expect(text).toContain('answer:\n  eu-central: 198.51.100.10\n  ap-south: 203.0.113.10');
    expect(text).toContain('outcome ok; ttl 30; ECS scope /20 (GeoIP network that located the client)');
  });

  it('formats the unknown location, sticky and all-down cases', () => {
    const trace = createTrace();
    steer(input(policy({ sets: canary, sticky: 'subnet' }), {
      client: v4Client('198.51.100.77', 32, false), location: null, isOperational: downRegions('us-east', 'eu-central', 'ap-south'),
    }), trace);
    const text = formatTrace(trace);
    expect(text).toContain("client: 198.51.100.77/32 from resolver's address (no ECS)");
    expect(text).toContain('location: unknown (no GeoIP match)');
    expect(text).toMatch(/record set: \w+ \(sticky: subnet 198\.51\.100\.0\/24 hashes to 0x[0-9a-f]{8}/);
    expect(text).toContain('all regions down: when-all-down fail-open: answering with all');
    expect(text).toContain('order: as configured (client location unknown)');
    expect(text).toContain('outcome fail-open; ttl 15');
  });
});

describe('the steering memo with a latency table', () => {
  // 198.51.100.0/22 says ap-south is nearest (a measured 1 ms beats Frankfurt's model for Berlin).
  const { table: measured } = parseLatencyTable('198.51.100.0/22,ap-south,1\n', 'm.csv');
  const p = policy({ answers: 2 });

  it('stays on, keyed by the table prefix, and answers as the uncached pipeline does', () => {
    const memo = new SteeringMemo();
    const inside = input(p, { latencyTable: measured, memo, client: v4Client('198.51.100.7', 24) });
    const beside = input(p, { latencyTable: measured, memo, client: v4Client('198.51.104.7', 24) });
    const first = steer(inside, null);
    expect(first.regions).toEqual(['ap-south', 'eu-central']);
    expect(memo.orders(BERLIN)).toBe(1); // memoised under the /22's cell
    const again = steer(inside, null);
    expect(again).toEqual(first);
    expect(again.regions).toBe(first.regions); // the memo's array: the pipeline did not run
    // Same location, outside the /22: its own entry, the model's order.
    expect(steer(beside, null).regions).toEqual(['eu-central', 'ap-south']);
    expect(steer(beside, null).regions).toEqual(steer({ ...beside, memo: null }, createTrace()).regions);
    expect(memo.orders(BERLIN)).toBe(2); // a second cell for the same location
  });

  it('claims the table prefix as ECS scope when it is narrower than the GeoIP network', () => {
    // BERLIN is a /20; the table's /22 splits it, so a resolver may reuse the answer only within the /22.
    const r = steer(input(p, { latencyTable: measured, memo: new SteeringMemo() }), null);
    expect(r.ecsScope).toBe(22);
    const trace = createTrace();
    steer(input(p, { latencyTable: measured }), trace);
    expect(trace.ecsScopeWhy).toBe('latency-table prefix the client falls in');
    // Without the table, the GeoIP network decides.
    expect(steer(input(p), null).ecsScope).toBe(20);
  });
});
