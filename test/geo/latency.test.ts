import { describe, expect, it } from 'vitest';
import {
  BASE_RTT_MS,
  EARTH_RADIUS_KM,
  estimateRttMs,
  FIBRE_KM_PER_MS,
  greatCircleKm,
  ROUTE_INFLATION,
} from '../../src/geo/latency.js';

const frankfurt = { lat: 50.1109, lon: 8.6821 };
const mumbai = { lat: 19.076, lon: 72.8777 };
const london = { lat: 51.5074, lon: -0.1278 };
const newYork = { lat: 40.7128, lon: -74.006 };
const sydney = { lat: -33.8688, lon: 151.2093 };
const saoPaulo = { lat: -23.5505, lon: -46.6333 };

describe('greatCircleKm', () => {
  it.each([
    ['Frankfurt–Mumbai', frankfurt, mumbai, 6570],
    ['London–New York', london, newYork, 5570],
    ['Sydney–São Paulo', sydney, saoPaulo, 13_360],
  ])('%s ≈ %i km (within 1%%)', (_name, a, b, km) => {
    expect(Math.abs(greatCircleKm(a, b) - km) / km).toBeLessThan(0.01);
  });

  it('is symmetric and zero for one point', () => {
    expect(greatCircleKm(frankfurt, mumbai)).toBeCloseTo(greatCircleKm(mumbai, frankfurt), 9);
    expect(greatCircleKm(london, london)).toBe(0);
  });

  it('crosses the antimeridian the short way', () => {
    expect(greatCircleKm({ lat: 0, lon: 179.5 }, { lat: 0, lon: -179.5 })).toBeCloseTo((Math.PI * EARTH_RADIUS_KM) / 180, 6);
  });

  it('gives half the circumference for antipodes', () => {
    expect(greatCircleKm({ lat: 90, lon: 0 }, { lat: -90, lon: 0 })).toBeCloseTo(Math.PI * EARTH_RADIUS_KM, 6);
    expect(greatCircleKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 })).toBeCloseTo(Math.PI * EARTH_RADIUS_KM, 6);
  });
});

describe('estimateRttMs', () => {
  it('uses 2/3 c in fibre, 1.5× route inflation, 2 ms base', () => {
    expect(FIBRE_KM_PER_MS).toBeCloseTo(199.86, 2);
    expect(ROUTE_INFLATION).toBe(1.5);
    expect(BASE_RTT_MS).toBe(2);
  });

  it('is the base at zero distance', () => {
    expect(estimateRttMs(0)).toBe(2);
  });

  it('applies rtt = base + 2 × km × inflation / v', () => {
    expect(estimateRttMs(1000)).toBeCloseTo(2 + (2 * 1000 * 1.5) / 199.861639, 6);
    // 1,000 km ≈ 17 ms: a useful rule of thumb for reading explain output.
    expect(estimateRttMs(1000)).toBeCloseTo(17.01, 2);
  });

  it('puts Frankfurt–Mumbai near 100 ms', () => {
    expect(estimateRttMs(greatCircleKm(frankfurt, mumbai))).toBeCloseTo(100.5, 0);
  });
});
