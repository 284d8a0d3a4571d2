// Shared builders for the steering tests: three regions, policies built in code, client locations.

import type { ClientLocation } from '../../src/geo/types.js';
import { parseLatencyTable, type LatencyTable } from '../../src/geo/latency-table.js';
import type { Endpoints, HostnamePolicy, RecordSet, Region, RegionId } from '../../src/steering/policy.js';
import type { IsOperational, SteeringClient } from '../../src/steering/stages.js';

const region = (id: RegionId, lat: number, lon: number, line: number): Region =>
  ({ id, location: { lat, lon }, file: 'regions.yaml', line });

export const REGIONS: ReadonlyMap<RegionId, Region> = new Map([
  ['us-east', region('us-east', 39.04, -77.49, 2)],
  ['eu-central', region('eu-central', 50.11, 8.68, 3)],
  ['ap-south', region('ap-south', 19.08, 72.88, 4)],
]);

export function endpoints(...texts: string[]): Endpoints {
  const e: Endpoints = { v4: [], v6: [], v4Text: [], v6Text: [] };
  for (const t of texts) {
    if (t.includes(':')) {
      e.v6Text.push(t);
      e.v6.push(new Uint8Array(16));
    } else {
      e.v4Text.push(t);
      e.v4.push(Uint8Array.from(t.split('.').map(Number)));
    }
  }
  return e;
}

export const POOLS: ReadonlyMap<RegionId, Endpoints> = new Map([
  ['us-east', endpoints('192.0.2.10', '2001:db8::10')],
  ['eu-central', endpoints('198.51.100.10')],
  ['ap-south', endpoints('203.0.113.10')],
]);

/** A policy over all three regions; `sets` defaults to one set "all" in configured order. */
export function policy(over: Partial<Omit<HostnamePolicy, 'weights'>> = {}): HostnamePolicy {
  const sets: RecordSet[] = over.sets ?? [{ name: 'all', weight: 100, regions: ['us-east', 'eu-central', 'ap-south'] }];
  return {
    fqdn: 'api.gslb.example.com.',
    zone: 'gslb.example.com.',
    ttl: 30,
    answers: 1,
    pools: new Map(POOLS),
    sticky: 'none',
    whenAllDown: { kind: 'fail-open' },
    file: 'gslb.example.com.steer.yaml',
    line: 2,
    ...over,
    sets,
    weights: sets.map((s) => s.weight),
  };
}

export function split(...sets: [string, number, RegionId[]][]): RecordSet[] {
  return sets.map(([name, weight, regions]) => ({ name, weight, regions }));
}

const loc = (lat: number, lon: number, country: string, city: string, networkPrefix: number): ClientLocation =>
  ({ point: { lat, lon }, country, city, networkPrefix });

export const BERLIN = loc(52.52, 13.4, 'DE', 'Berlin', 20);
export const NEW_YORK = loc(40.71, -74.0, 'US', 'New York', 16);
export const DELHI = loc(28.61, 77.21, 'IN', 'Delhi', 22);
export const SINGAPORE = loc(1.35, 103.82, 'SG', 'Singapore', 24);

export function v4Client(text: string, sourcePrefix = 24, fromEcs = true): SteeringClient {
  return { address: Uint8Array.from(text.split('.').map(Number)), sourcePrefix, fromEcs };
}

export function v6Client(bytes: number[], sourcePrefix = 56): SteeringClient {
  const address = new Uint8Array(16);
  address.set(bytes);
  return { address, sourcePrefix, fromEcs: true };
}

export const allUp: IsOperational = () => ({ up: true, reason: 'healthy' });

export function downRegions(...ids: RegionId[]): IsOperational {
  return (r) => (ids.includes(r) ? { up: false, reason: 'probes failing' } : { up: true, reason: 'healthy' });
}

/** A latency table answering from a fixed "country region" → ms map. */
export function table(rows: Record<string, number>): LatencyTable {
  // "DE us-east" → a country row; "- us-east" (any client) → a 0.0.0.0/0 and ::/0 row.
  const lines = Object.entries(rows).flatMap(([key, ms]) => {
    const [country, region] = key.split(' ');
    return country === '-' ? [`0.0.0.0/0,${region},${ms}`, `::/0,${region},${ms}`] : [`${country},${region},${ms}`];
  });
  const { table: t, errors } = parseLatencyTable(lines.join('\n'), 'fixture.csv');
  if (errors.length) throw new Error(errors[0].message);
  return t;
}

/** An RNG that returns the given values in turn (then repeats the last). */
export function fixedRng(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)];
}
