// The weighted split delivers its proportions: random draws over a seeded RNG, and sticky hashing over
// many client subnets. Tolerances are 4σ of the binomial count (σ = √(n·p·(1-p))), so a correct
// implementation fails with probability ~6e-5 per seed; the seeds are fixed, so results are reproducible.

import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/steering/rng.js';
import { pickRecordSet } from '../../src/steering/stages.js';
import { policy, split, v4Client } from './fixtures.js';

const sigma = (n: number, p: number): number => Math.sqrt(n * p * (1 - p));

function countSecond(weights: [number, number], draws: number, seed: number): number {
  const p = policy({ sets: split(['a', weights[0], ['us-east']], ['b', weights[1], ['eu-central']]) });
  const rng = mulberry32(seed);
  const client = v4Client('192.0.2.1');
  let b = 0;
  for (let i = 0; i < draws; i++) if (pickRecordSet(p, p.weights, client, rng, null).name === 'b') b++;
  return b;
}

describe('random split over 200,000 draws', () => {
  const N = 200_000;
  const cases = [
    { weights: [99.9, 0.1] as [number, number], p: 0.001 }, // expect 200 ± 57 (σ ≈ 14.1)
    { weights: [99, 1] as [number, number], p: 0.01 }, // expect 2,000 ± 178 (σ ≈ 44.5)
    { weights: [50, 50] as [number, number], p: 0.5 }, // expect 100,000 ± 894 (σ ≈ 224)
    { weights: [99.99, 0.01] as [number, number], p: 0.0001 }, // expect 20 ± 18 (σ ≈ 4.5): the 0.01% step
  ];
  for (const seed of [1, 2, 3]) {
    it.each(cases)(`seed ${seed}: weights $weights give p=$p within 4σ`, ({ weights, p }) => {
      const got = countSecond(weights, N, seed);
      expect(Math.abs(got - N * p)).toBeLessThanOrEqual(4 * sigma(N, p));
    });
  }

  it('a zero weight is never drawn', () => {
    expect(countSecond([100, 0], 50_000, 7)).toBe(0);
  });
});

describe('sticky split over many subnets', () => {
  const twoSets = (canary: number) =>
    policy({ sticky: 'subnet', sets: split(['stable', 100 - canary, ['us-east']], ['canary', canary, ['eu-central']]) });
  const rng = (): never => { throw new Error('sticky must not draw'); };

  /** 20,000 distinct random /24s from a seeded generator. */
  function subnets(seed: number, n = 20_000): Uint8Array[] {
    const r = mulberry32(seed);
    const seen = new Set<number>();
    const out: Uint8Array[] = [];
    while (out.length < n) {
      const x = Math.floor(r() * 2 ** 24);
      if (seen.has(x)) continue;
      seen.add(x);
      out.push(Uint8Array.of(x >>> 16, (x >>> 8) & 0xff, x & 0xff, 0));
    }
    return out;
  }

  it('every host of one /24 draws the same set, for every subnet', () => {
    const p = twoSets(50);
    for (const net of subnets(11, 500)) {
      const first = pickRecordSet(p, p.weights, { address: net, sourcePrefix: 24, fromEcs: true }, rng, null).name;
      for (const host of [1, 99, 254]) {
        const a = Uint8Array.of(net[0], net[1], net[2], host);
        expect(pickRecordSet(p, p.weights, { address: a, sourcePrefix: 32, fromEcs: false }, rng, null).name).toBe(first);
      }
    }
  });

  it.each([
    { canary: 1, p: 0.01 }, // expect 200 ± 56
    { canary: 10, p: 0.1 }, // expect 2,000 ± 170
    { canary: 50, p: 0.5 }, // expect 10,000 ± 283
  ])('canary weight $canary gives p=$p of 20,000 subnets within 4σ', ({ canary, p }) => {
    const pol = twoSets(canary);
    const nets = subnets(5);
    let n = 0;
    for (const address of nets) if (pickRecordSet(pol, pol.weights, { address, sourcePrefix: 24, fromEcs: true }, rng, null).name === 'canary') n++;
    expect(Math.abs(n - nets.length * p)).toBeLessThanOrEqual(4 * sigma(nets.length, p));
  });

  it('IPv6 /56s split in proportion too', () => {
    const pol = twoSets(10);
    const r = mulberry32(9);
    let n = 0;
    const N = 20_000;
    for (let i = 0; i < N; i++) {
      const address = new Uint8Array(16);
      for (let j = 0; j < 7; j++) address[j] = Math.floor(r() * 256);
      if (pickRecordSet(pol, pol.weights, { address, sourcePrefix: 56, fromEcs: true }, rng, null).name === 'canary') n++;
    }
    expect(Math.abs(n - N * 0.1)).toBeLessThanOrEqual(4 * sigma(N, 0.1));
  });

  it('ramping the last set up keeps its subnets in it (0.1% → 1% → 5% only adds subnets)', () => {
    const nets = subnets(3);
    const inCanary = (canary: number): Set<number> => {
      const pol = twoSets(canary);
      const s = new Set<number>();
      nets.forEach((address, i) => {
        if (pickRecordSet(pol, pol.weights, { address, sourcePrefix: 24, fromEcs: true }, rng, null).name === 'canary') s.add(i);
      });
      return s;
    };
    const steps = [0.1, 1, 5, 100].map(inCanary);
    for (let k = 1; k < steps.length; k++) for (const i of steps[k - 1]) expect(steps[k].has(i)).toBe(true);
    expect(steps[3].size).toBe(nets.length);
  });
});
