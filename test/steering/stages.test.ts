import { describe, expect, it } from 'vitest';
import { estimateRttMs, greatCircleKm } from '../../src/geo/latency.js';
import { mulberry32 } from '../../src/steering/rng.js';
import {
  dropNotOperational, firstN, pickRecordSet, sortByLatency, stickySubnetHash, walkWeights, whenAllDown,
} from '../../src/steering/stages.js';
import { createTrace } from '../../src/steering/trace.js';
import {
  allUp, BERLIN, DELHI, downRegions, fixedRng, NEW_YORK, policy, REGIONS, SINGAPORE, split, table, v4Client, v6Client,
} from './fixtures.js';

const client = v4Client('198.51.100.7');

describe('rng', () => {
  it('mulberry32 is deterministic per seed and stays in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(c()).not.toBe(xs[0]);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
});

describe('walkWeights', () => {
  const cases: { weights: number[]; u: number; want: number }[] = [
    { weights: [99.9, 0.1], u: 0, want: 0 },
    { weights: [99.9, 0.1], u: 0.998999, want: 0 },
    { weights: [99.9, 0.1], u: 0.999001, want: 1 },
    { weights: [50, 50], u: 0.5, want: 1 },
    { weights: [0, 100], u: 0, want: 1 },
    { weights: [100, 0], u: 0.9999999, want: 0 },
    { weights: [10, 0, 90], u: 0.1, want: 2 },
    { weights: [99.9999, 0.0001], u: 0.9999995, want: 1 },
    { weights: [99.9999, 0.0001], u: 0.9999985, want: 0 },
    // u * total rounding up to total picks the last set with weight, never an empty one
    { weights: [1, 2, 0], u: 1 - 2 ** -53, want: 1 },
  ];
  it.each(cases)('$weights at u=$u → set $want', ({ weights, u, want }) => {
    expect(walkWeights(weights, weights.reduce((a, b) => a + b, 0), u)).toBe(want);
  });
});

describe('pickRecordSet', () => {
  const twoSets = split(['stable', 99.9, ['us-east', 'eu-central']], ['canary', 0.1, ['us-east', 'eu-central', 'ap-south']]);

  it('one set: no draw, the RNG is not used', () => {
    const p = policy();
    const trace = createTrace();
    const rng = (): number => { throw new Error('drawn'); };
    expect(pickRecordSet(p, p.weights, client, rng, trace).name).toBe('all');
    expect(trace.draw).toMatchObject({ method: 'single', chosen: 'all', value: null });
  });

  it('random draw maps the RNG value over cumulative weights and records it', () => {
    const p = policy({ sets: twoSets });
    const trace = createTrace();
    expect(pickRecordSet(p, p.weights, client, fixedRng(0.9995), trace).name).toBe('canary');
    expect(trace.draw).toMatchObject({
      method: 'random', value: 0.9995, total: 100, chosen: 'canary', weightsFrom: 'policy', note: null,
      sets: [{ name: 'stable', weight: 99.9 }, { name: 'canary', weight: 0.1 }],
    });
    expect(pickRecordSet(p, p.weights, client, fixedRng(0.5), null).name).toBe('stable');
  });

  it('uses runtime weights when given', () => {
    const p = policy({ sets: twoSets });
    const trace = createTrace();
    expect(pickRecordSet(p, [0, 1], client, fixedRng(0.01), trace).name).toBe('canary');
    expect(trace.draw?.weightsFrom).toBe('override');
    expect(trace.draw?.sets.map((s) => s.weight)).toEqual([0, 1]);
  });

  it.each([
    { weights: [1], why: 'wrong length' },
    { weights: [0, 0], why: 'all zero' },
    { weights: [-1, 2], why: 'negative' },
    { weights: [Number.NaN, 1], why: 'NaN' },
    { weights: [Infinity, 1], why: 'infinite' },
  ])('ignores unusable runtime weights ($why) and says so', ({ weights }) => {
    const p = policy({ sets: twoSets });
    const trace = createTrace();
    expect(pickRecordSet(p, weights, client, fixedRng(0.5), trace).name).toBe('stable');
    expect(trace.draw?.weightsFrom).toBe('policy');
    expect(trace.draw?.note).toMatch(/ignored/);
  });

  it('sticky: the draw is the subnet hash, not the RNG', () => {
    const p = policy({ sets: twoSets, sticky: 'subnet' });
    const rng = (): number => { throw new Error('drawn'); };
    const trace = createTrace();
    const set = pickRecordSet(p, p.weights, client, rng, trace);
    const hash = stickySubnetHash(client.address);
    expect(trace.draw).toMatchObject({
      method: 'sticky', subnet: '198.51.100.0/24', hash: `0x${hash.toString(16).padStart(8, '0')}`, value: hash / 2 ** 32,
      chosen: set.name,
    });
  });

  it('sticky IPv6 records the /56', () => {
    const p = policy({ sets: twoSets, sticky: 'subnet' });
    const trace = createTrace();
    pickRecordSet(p, p.weights, v6Client([0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78]), Math.random, trace);
    expect(trace.draw?.subnet).toBe('2001:db8:1234:5600::/56');
  });
});

describe('stickySubnetHash', () => {
  it('is a fixed function of the /24: host byte ignored, other subnets differ', () => {
    const h = stickySubnetHash(Uint8Array.of(198, 51, 100, 0));
    for (const host of [1, 7, 128, 255]) expect(stickySubnetHash(Uint8Array.of(198, 51, 100, host))).toBe(h);
    expect(stickySubnetHash(Uint8Array.of(198, 51, 101, 0))).not.toBe(h);
    // Pinned: the value is a contract across releases and across the fleet.
    expect(h).toMatchInlineSnapshot(`1094874989`);
  });

  it('is a fixed function of the /56 for IPv6', () => {
    const a = new Uint8Array(16);
    a.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0x11]);
    const b = a.slice();
    b[7] = 0xff; // inside the /56
    b[15] = 1;
    const c = a.slice();
    c[6] = 0x12; // another /56
    expect(stickySubnetHash(b)).toBe(stickySubnetHash(a));
    expect(stickySubnetHash(c)).not.toBe(stickySubnetHash(a));
  });
});

describe('dropNotOperational', () => {
  const cases: { down: string[]; want: string[] }[] = [
    { down: [], want: ['us-east', 'eu-central', 'ap-south'] },
    { down: ['eu-central'], want: ['us-east', 'ap-south'] },
    { down: ['us-east', 'ap-south'], want: ['eu-central'] },
    { down: ['us-east', 'eu-central', 'ap-south'], want: [] },
  ];
  it.each(cases)('down $down → keeps $want', ({ down, want }) => {
    const trace = createTrace();
    expect(dropNotOperational(['us-east', 'eu-central', 'ap-south'], downRegions(...down), trace)).toEqual(want);
    expect(trace.health).toEqual(['us-east', 'eu-central', 'ap-south'].map((region) => ({
      region, up: !down.includes(region), reason: down.includes(region) ? 'probes failing' : 'healthy',
    })));
    expect(dropNotOperational(['us-east', 'eu-central', 'ap-south'], downRegions(...down), null)).toEqual(want);
  });
});

describe('sortByLatency', () => {
  const all = ['us-east', 'eu-central', 'ap-south'];
  const cases = [
    { name: 'Berlin → Frankfurt first', loc: BERLIN, want: ['eu-central', 'ap-south', 'us-east'] },
    { name: 'New York → Virginia first', loc: NEW_YORK, want: ['us-east', 'eu-central', 'ap-south'] },
    { name: 'Delhi → Mumbai first', loc: DELHI, want: ['ap-south', 'eu-central', 'us-east'] },
    { name: 'Singapore → Mumbai, Frankfurt, Virginia', loc: SINGAPORE, want: ['ap-south', 'eu-central', 'us-east'] },
  ];
  it.each(cases)('$name', ({ loc, want }) => {
    expect(sortByLatency(all, REGIONS, loc, client.address, null, null)).toEqual(want);
  });

  it('records km, model RTT and source per region, in the sorted order', () => {
    const trace = createTrace();
    sortByLatency(all, REGIONS, BERLIN, client.address, null, trace);
    expect(trace.sort?.method).toBe('latency');
    const first = trace.sort!.entries[0];
    const km = greatCircleKm(BERLIN.point, REGIONS.get('eu-central')!.location);
    expect(first).toEqual({ region: 'eu-central', km, rttMs: estimateRttMs(km), source: 'model', tableSource: null });
    expect(trace.sort!.entries.map((e) => e.region)).toEqual(['eu-central', 'ap-south', 'us-east']);
  });

  it('a latency table entry beats the model, and the model fills the gaps', () => {
    // Measured: from DE, us-east is 5 ms (made up, to beat the distance model).
    const t = table({ 'DE us-east': 5 });
    const trace = createTrace();
    expect(sortByLatency(all, REGIONS, BERLIN, client.address, t, trace)).toEqual(['us-east', 'eu-central', 'ap-south']);
    expect(trace.sort!.entries[0]).toMatchObject({ region: 'us-east', rttMs: 5, source: 'table', tableSource: 'fixture.csv:1 DE' });
    expect(trace.sort!.entries[0].km).toBeGreaterThan(6000);
    expect(trace.sort!.entries[1]).toMatchObject({ region: 'eu-central', source: 'model' });
  });

  it('ties keep the configured order (stable)', () => {
    const t = table({ 'DE us-east': 50, 'DE eu-central': 50, 'DE ap-south': 50 });
    expect(sortByLatency(all, REGIONS, BERLIN, client.address, t, null)).toEqual(all);
    expect(sortByLatency(['ap-south', 'us-east', 'eu-central'], REGIONS, BERLIN, client.address, t, null))
      .toEqual(['ap-south', 'us-east', 'eu-central']);
  });

  it('without a location keeps the configured order and says so', () => {
    const trace = createTrace();
    const order = ['ap-south', 'us-east', 'eu-central'];
    expect(sortByLatency(order, REGIONS, null, client.address, table({ '- us-east': 1 }), trace)).toEqual(order);
    expect(trace.sort).toMatchObject({ method: 'configured-order', why: 'client location unknown' });
    expect(trace.sort!.entries.map((e) => e.source)).toEqual(['unknown', 'unknown', 'unknown']);
  });

  it('does not change its input', () => {
    const input = ['us-east', 'eu-central', 'ap-south'];
    sortByLatency(input, REGIONS, DELHI, client.address, null, null);
    expect(input).toEqual(['us-east', 'eu-central', 'ap-south']);
  });
});

describe('firstN', () => {
  it.each([
    { n: 1, want: ['a'] },
    { n: 2, want: ['a', 'b'] },
    { n: 5, want: ['a', 'b', 'c'] },
  ])('n=$n', ({ n, want }) => expect(firstN(['a', 'b', 'c'], n)).toEqual(want));
});

describe('whenAllDown', () => {
  const set = { name: 'stable', weight: 100, regions: ['us-east', 'eu-central'] };
  it('fail-open: every region of the set', () => {
    const trace = createTrace();
    const r = whenAllDown(policy(), set, downRegions('us-east', 'eu-central'), trace);
    expect(r).toEqual({ outcome: 'fail-open', regions: ['us-east', 'eu-central'] });
    expect(trace.allDown?.policy).toBe('fail-open');
  });
  it('servfail: nothing', () => {
    expect(whenAllDown(policy({ whenAllDown: { kind: 'servfail' } }), set, allUp, null)).toEqual({ outcome: 'servfail', regions: [] });
  });
  it('region:<id>: that region, even when it is down too (and the trace says so)', () => {
    const trace = createTrace();
    const p = policy({ whenAllDown: { kind: 'region', region: 'ap-south' } });
    expect(whenAllDown(p, set, downRegions('ap-south'), trace)).toEqual({ outcome: 'fallback-region', regions: ['ap-south'] });
    expect(trace.allDown).toEqual({ policy: 'region:ap-south', action: expect.stringMatching(/itself down: probes failing/) });
  });
});
