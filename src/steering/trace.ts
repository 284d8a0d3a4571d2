// The explain trace: what each steering stage did for one query, as plain JSON-able data,
// so `regiondns explain` (and the ops API) can say why a client got the answer it got.
// Stages fill it in as they run; the hot path passes `null` and nothing is recorded.

import type { RegionId, SteeringOutcome } from './policy.js';

export interface TraceClient {
  /** Address as text: the ECS subnet's address, or the resolver's own address. */
  address: string;
  prefix: number;
  source: 'ecs' | 'resolver';
}

export interface TraceLocation {
  country: string | null;
  city: string | null;
  lat: number;
  lon: number;
  /** Prefix length of the GeoIP network that matched. */
  networkPrefix: number;
}

export interface TraceDraw {
  /** single: one set, nothing drawn; random: the RNG; sticky: a hash of the client's subnet. */
  method: 'single' | 'random' | 'sticky';
  sets: { name: string; weight: number }[];
  /** Where the weights came from; an invalid override is ignored (and said so in `note`). */
  weightsFrom: 'policy' | 'override';
  note: string | null;
  total: number;
  /** The uniform number in [0, 1) laid over the cumulative weights; null when nothing was drawn. */
  value: number | null;
  /** sticky only: the hashed subnet ("198.51.100.0/24") and its 32-bit hash in hex. */
  subnet: string | null;
  hash: string | null;
  chosen: string;
}

export interface TraceHealth {
  region: RegionId;
  up: boolean;
  reason: string;
}

/** A pool endpoint of the asked family in a region the pipeline weighed. */
export interface TraceEndpoint {
  region: RegionId;
  address: string;
  /** Answered (when its region is). */
  up: boolean;
  drained: boolean;
  /** Why it is in or out: "up (no checks)", "down: check tcp 10.1.0.2:443 [..]: connection refused (1 of 1 probers)", "drained by …". */
  reason: string;
}

export interface TraceAllDown {
  /** The policy as written: "fail-open", "servfail", "region:<id>". */
  policy: string;
  action: string;
}

export interface TraceLatency {
  region: RegionId;
  /** Great-circle distance from the client; null when either location is unknown. */
  km: number | null;
  rttMs: number | null;
  source: 'model' | 'table' | 'unknown';
  /** The latency table's own label for the entry, when it came from the table. */
  tableSource: string | null;
}

export interface TraceSort {
  method: 'latency' | 'configured-order';
  /** Why configured order was kept, when it was. */
  why: string | null;
  /** In the resulting order. */
  entries: TraceLatency[];
}

/** A tenant subdomain: whose it is, where its home is, and why the answer is what it is. */
export interface TraceTenant {
  slug: string;
  /** The home region in force, or null: not a tenant (the `unknown` rule answers). */
  home: RegionId | null;
  /** file: the tenants file; api: set (or hidden, when home is null) through the ops API. */
  source: 'file' | 'api' | null;
  /** e.g. "zones/tenants.csv", "set by alice at 2026-05-01T10:00:00.000Z". */
  sourceDetail: string | null;
  /** The regions answered (empty on servfail, and for an unknown tenant steered by latency). */
  regions: RegionId[];
  /** pinned, fallback, fail-open, servfail; unknown: not in the map. */
  verdict: 'pinned' | 'fallback' | 'fail-open' | 'servfail' | 'unknown';
  /** Why a fallback was or was not taken; what the unknown rule did. */
  why: string[];
}

export interface TraceAnswer {
  region: RegionId;
  v4: string[];
  v6: string[];
}

export interface Trace {
  hostname: string | null;
  tenant: TraceTenant | null;
  client: TraceClient | null;
  location: TraceLocation | 'unknown' | null;
  draw: TraceDraw | null;
  health: TraceHealth[] | null;
  /** Endpoints of the asked family, per region weighed. */
  endpoints: TraceEndpoint[] | null;
  allDown: TraceAllDown | null;
  sort: TraceSort | null;
  answer: TraceAnswer[] | null;
  outcome: SteeringOutcome | null;
  ttl: number | null;
  ecsScope: number | null;
  ecsScopeWhy: string | null;
}

export function createTrace(): Trace {
  return {
    hostname: null, tenant: null, client: null, location: null, draw: null, health: null, endpoints: null, allDown: null,
    sort: null, answer: null, outcome: null, ttl: null, ecsScope: null, ecsScopeWhy: null,
  };
}

const round = (x: number, digits: number): string => {
  const s = x.toFixed(digits);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
};

/** Readable lines for the CLI; one fact per line, regions indented below their heading. */
export function formatTrace(t: Trace): string {
  const out: string[] = [];
  if (t.hostname !== null) out.push(`hostname: ${t.hostname}`);
  if (t.client) {
    const from = t.client.source === 'ecs' ? 'EDNS Client Subnet' : "resolver's address (no ECS)";
    out.push(`client: ${t.client.address}/${t.client.prefix} from ${from}`);
  }
  if (t.tenant) out.push(...formatTenant(t.tenant));
  if (t.location === 'unknown') out.push('location: unknown (no GeoIP match)');
  else if (t.location) {
    const l = t.location;
    const place = [l.city, l.country].filter((x) => x !== null).join(', ') || 'no place name';
    out.push(`location: ${place} (${round(l.lat, 4)}, ${round(l.lon, 4)}), GeoIP network /${l.networkPrefix}`);
  }
  if (t.draw) out.push(...formatDraw(t.draw));
  if (t.health) {
    out.push('health:');
    const w = Math.max('REGION'.length, ...t.health.map((h) => h.region.length));
    out.push(`  ${'REGION'.padEnd(w)}  STATE  WHY`);
    for (const h of t.health) out.push(`  ${h.region.padEnd(w)}  ${h.up ? 'up   ' : 'DOWN '}  ${h.reason}`);
  }
  if (t.endpoints && t.endpoints.length > 0) {
    out.push('endpoints:');
    const w = Math.max(...t.endpoints.map((e) => e.region.length + 1 + e.address.length));
    for (const e of t.endpoints) {
      const state = e.drained ? 'DRAINED' : e.up ? 'up     ' : 'DOWN   ';
      out.push(`  ${`${e.region} ${e.address}`.padEnd(w)}  ${state}  ${e.drained ? e.reason : e.up ? e.reason : `${e.reason} (dropped)`}`);
    }
  }
  if (t.allDown) out.push(`all regions down: when-all-down ${t.allDown.policy}: ${t.allDown.action}`);
  if (t.sort) {
    out.push(t.sort.method === 'latency' ? 'order: by estimated RTT from the client' : `order: as configured (${t.sort.why ?? ''})`);
    const w = Math.max(0, ...t.sort.entries.map((e) => e.region.length));
    t.sort.entries.forEach((e, i) => {
      const km = e.km === null ? '' : `${Math.round(e.km)} km, `;
      const rtt = e.rttMs === null ? 'RTT unknown'
        : `~${round(e.rttMs, 1)} ms (${e.source === 'table' ? `latency table: ${e.tableSource ?? ''}` : 'distance model'})`;
      out.push(`  ${i + 1}. ${e.region.padEnd(w)}  ${km}${rtt}`);
    });
  }
  if (t.answer) {
    out.push(t.answer.length === 0 ? 'answer: none' : 'answer:');
    for (const a of t.answer) out.push(`  ${a.region}: ${[...a.v4, ...a.v6].join(' ') || '(no endpoints)'}`);
  }
  const tail: string[] = [];
  if (t.outcome !== null) tail.push(`outcome ${t.outcome}`);
  if (t.ttl !== null) tail.push(`ttl ${t.ttl}`);
  if (t.ecsScope !== null) tail.push(`ECS scope /${t.ecsScope}${t.ecsScopeWhy ? ` (${t.ecsScopeWhy})` : ''}`);
  if (tail.length) out.push(tail.join('; '));
  return out.join('\n');
}

/** "tenant acme → eu-central (pinned)" and the reasons below it. */
function formatTenant(t: TraceTenant): string[] {
  const to = t.verdict === 'unknown' ? 'not in the tenant map' : t.regions.length ? t.regions.join(', ') : 'SERVFAIL';
  const from = t.source === null ? [] : [`  home region from ${t.source === 'file' ? 'the tenants file' : 'the ops API'}${t.sourceDetail ? ` (${t.sourceDetail})` : ''}`];
  return [`tenant ${t.slug} → ${to} (${t.verdict})`, ...from, ...t.why.map((w) => `  ${w}`)];
}

function formatDraw(d: TraceDraw): string[] {
  const sets = d.sets.map((s) => `${s.name} ${s.weight}`).join(', ');
  const weights = `${d.weightsFrom === 'override' ? 'runtime' : 'configured'} weights ${sets}`;
  const point = (v: number): string => `${round(v, 6)} x total ${round(d.total, 6)} = ${round(v * d.total, 6)}`;
  let why: string;
  if (d.method === 'single') why = 'the only record set';
  else if (d.method === 'sticky') why = `sticky: subnet ${d.subnet ?? '?'} hashes to ${d.hash ?? '?'}, ${point(d.value ?? 0)}; ${weights}`;
  else why = `random draw ${point(d.value ?? 0)}; ${weights}`;
  const lines = [`record set: ${d.chosen} (${why})`];
  if (d.note) lines.push(`  note: ${d.note}`);
  return lines;
}
