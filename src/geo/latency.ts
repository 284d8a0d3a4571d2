// Distance and round-trip time between two points on Earth, for sorting regions by latency when no
// measured figure exists (see latency-table.ts for measured ones).
//
//   rttMs = BASE_RTT_MS + 2 × km × ROUTE_INFLATION / FIBRE_KM_PER_MS
//
// Light in fibre travels at about 2/3 c (refractive index ≈ 1.5); paths run about 1.5× longer than
// the great circle; BASE_RTT_MS covers last-mile and serialisation delay. Frankfurt–Mumbai
// (≈ 6,564 km) gives ≈ 100.5 ms.

import type { GeoPoint } from './types.js';

/** Mean Earth radius (IUGG), km. */
export const EARTH_RADIUS_KM = 6371;
/** Speed of light in vacuum, km/ms. */
export const LIGHT_KM_PER_MS = 299_792.458 / 1000;
/** Speed of light in fibre, 2/3 c ≈ 199.86 km/ms. */
export const FIBRE_KM_PER_MS = (LIGHT_KM_PER_MS * 2) / 3;
/** How much longer network paths are than the great circle. */
export const ROUTE_INFLATION = 1.5;
/** Fixed round-trip cost regardless of distance, ms. */
export const BASE_RTT_MS = 2;

const RAD = Math.PI / 180;

/** Great-circle distance by the haversine formula, km. */
export function greatCircleKm(a: GeoPoint, b: GeoPoint): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLon / 2) ** 2;
  // min() guards asin against rounding just above 1 for antipodal points.
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(s)));
}

/** Estimated round-trip time over `km` of great-circle distance, ms. */
export function estimateRttMs(km: number): number {
  return BASE_RTT_MS + (2 * km * ROUTE_INFLATION) / FIBRE_KM_PER_MS;
}
