// `regiondns plan`: what a new configuration would change before it reaches the fleet. Pure: two
// loaded configurations and a list of places in, a report out. Answers are judged from the files
// alone (every region operational, file weights), per record set, for a client at each place.

import type { LatencyTable } from '../geo/latency-table.js';
import { checkTarget, type CheckConfig } from '../health/check-config.js';
import type { HostnamePolicy, RecordSet, RegionId, SteeringConfig } from '../steering/policy.js';
import { firstN, sortByLatency } from '../steering/stages.js';
import type { Place } from './places.js';

export interface PlanConfig {
  steering: SteeringConfig;
  /** Region → its checks, as far as the plan compares them. */
  checks: ReadonlyMap<RegionId, readonly PlanCheck[]>;
  latencyTable: LatencyTable | null;
}

/** What the plan compares of a check: its name, what it probes and its timings. */
export interface PlanCheck {
  name: string;
  target: string;
  intervalMs: number;
  rise: number;
  fall: number;
}

/** The plan's view of loaded checks (a live server's /v1/health gives the same fields). */
export function planChecks(regions: ReadonlyMap<RegionId, readonly CheckConfig[]>): Map<RegionId, PlanCheck[]> {
  return new Map([...regions].map(([id, list]) => [id, list.map((c) => ({ name: c.name, target: checkTarget(c), intervalMs: c.intervalMs, rise: c.rise, fall: c.fall }))]));
}

export interface PopulationChange {
  set: string;
  /** The answer before and after, as "region: addresses; region: addresses". */
  from: string;
  to: string;
  places: string[];
}

export interface HostnamePlan {
  fqdn: string;
  change: 'added' | 'removed' | 'changed';
  /** Record sets, weights, regions, TTL, answer count, pools: one line each. */
  details: string[];
  populations: PopulationChange[];
}

export interface PlanReport {
  places: number;
  regions: string[];
  hostnames: HostnamePlan[];
  checks: { added: string[]; removed: string[] };
  unchanged: string[];
}

const NO_ADDRESS = new Uint8Array(4);

export function hasChanges(p: PlanReport): boolean {
  return p.regions.length > 0 || p.hostnames.length > 0 || p.checks.added.length > 0 || p.checks.removed.length > 0;
}

function answerText(cfg: PlanConfig, policy: HostnamePolicy, set: RecordSet, place: Place): string {
  const location = { point: place.point, country: null, city: null, networkPrefix: 0 };
  const order = firstN(sortByLatency(set.regions, cfg.steering.regions, location, NO_ADDRESS, cfg.latencyTable, null), policy.answers);
  return order.map((r) => {
    const e = policy.pools.get(r);
    return `${r}: ${e ? [...e.v4Text, ...e.v6Text].join(' ') : '-'}`;
  }).join('; ');
}

function poolText(policy: HostnamePolicy): Map<string, string> {
  return new Map([...policy.pools].map(([r, e]) => [r, [...e.v4Text, ...e.v6Text].join(' ')]));
}

function compareHostname(before: PlanConfig, after: PlanConfig, a: HostnamePolicy, b: HostnamePolicy, places: readonly Place[]): HostnamePlan | null {
  const details: string[] = [];
  if (a.ttl !== b.ttl) details.push(`ttl ${a.ttl} → ${b.ttl}`);
  if (a.answers !== b.answers) details.push(`answers ${a.answers} → ${b.answers}`);
  if (a.sticky !== b.sticky) details.push(`sticky ${a.sticky} → ${b.sticky}`);
  const oldSets = new Map(a.sets.map((s) => [s.name, s]));
  const newSets = new Map(b.sets.map((s) => [s.name, s]));
  const total = (sets: readonly RecordSet[]) => sets.reduce((n, s) => n + s.weight, 0);
  const share = (s: RecordSet, sets: readonly RecordSet[]) => `${Math.round((s.weight / (total(sets) || 1)) * 1e4) / 100}%`;
  for (const [name, s] of newSets) {
    const o = oldSets.get(name);
    if (!o) details.push(`+ record set ${name}: weight ${s.weight} (${share(s, b.sets)}), regions ${s.regions.join(', ')}`);
    else {
      if (o.weight !== s.weight) details.push(`record set ${name}: weight ${o.weight} → ${s.weight} (${share(o, a.sets)} → ${share(s, b.sets)} of answers)`);
      if (o.regions.join() !== s.regions.join()) details.push(`record set ${name}: regions ${o.regions.join(', ')} → ${s.regions.join(', ')}`);
    }
  }
  for (const name of oldSets.keys()) if (!newSets.has(name)) details.push(`- record set ${name}`);
  const pa = poolText(a);
  const pb = poolText(b);
  for (const [r, t] of pb) if (pa.get(r) !== t) details.push(pa.has(r) ? `pool ${r}: ${pa.get(r)} → ${t}` : `+ pool ${r}: ${t}`);
  for (const r of pa.keys()) if (!pb.has(r)) details.push(`- pool ${r}`);

  const groups = new Map<string, PopulationChange>();
  for (const [name, s] of newSets) {
    const o = oldSets.get(name);
    if (!o) continue;
    for (const place of places) {
      const from = answerText(before, a, o, place);
      const to = answerText(after, b, s, place);
      if (from === to) continue;
      const key = `${name}\u0000${from}\u0000${to}`;
      const g = groups.get(key) ?? { set: name, from, to, places: [] };
      g.places.push(place.name);
      groups.set(key, g);
    }
  }
  const populations = [...groups.values()].sort((x, y) => y.places.length - x.places.length);
  if (details.length === 0 && populations.length === 0) return null;
  return { fqdn: b.fqdn, change: 'changed', details, populations };
}

function checkLines(cfg: PlanConfig): Set<string> {
  const out = new Set<string>();
  for (const id of cfg.steering.regions.keys()) for (const c of cfg.checks.get(id) ?? []) out.add(`${id}/${c.name}: ${c.target} every ${c.intervalMs} ms, rise ${c.rise}, fall ${c.fall}`);
  return out;
}

export function plan(before: PlanConfig, after: PlanConfig, places: readonly Place[]): PlanReport {
  const regions: string[] = [];
  for (const [id, r] of after.steering.regions) {
    const o = before.steering.regions.get(id);
    if (!o) regions.push(`+ region ${id} at ${r.location.lat}, ${r.location.lon}`);
    else if (o.location.lat !== r.location.lat || o.location.lon !== r.location.lon) regions.push(`region ${id} moved: ${o.location.lat}, ${o.location.lon} → ${r.location.lat}, ${r.location.lon}`);
  }
  for (const id of before.steering.regions.keys()) if (!after.steering.regions.has(id)) regions.push(`- region ${id}`);

  const hostnames: HostnamePlan[] = [];
  const unchanged: string[] = [];
  for (const [fqdn, b] of after.steering.hostnames) {
    const a = before.steering.hostnames.get(fqdn);
    if (!a) {
      hostnames.push({ fqdn, change: 'added', details: b.sets.map((s) => `record set ${s.name}: weight ${s.weight}, regions ${s.regions.join(', ')}`), populations: [] });
      continue;
    }
    const c = compareHostname(before, after, a, b, places);
    if (c) hostnames.push(c);
    else unchanged.push(fqdn);
  }
  for (const fqdn of before.steering.hostnames.keys()) {
    if (!after.steering.hostnames.has(fqdn)) hostnames.push({ fqdn, change: 'removed', details: [], populations: [] });
  }
  const oldChecks = checkLines(before);
  const newChecks = checkLines(after);
  return {
    places: places.length,
    regions,
    hostnames,
    checks: { added: [...newChecks].filter((c) => !oldChecks.has(c)), removed: [...oldChecks].filter((c) => !newChecks.has(c)) },
    unchanged,
  };
}

const MAX_PLACES_LISTED = 12;

export function formatPlan(p: PlanReport, what: string): string {
  const out = [`plan: ${what}`, `(files only: drains, health and runtime splits are not considered; ${p.places} countries judged at their centroids)`];
  if (!hasChanges(p)) return [...out, '', 'no change: every hostname answers as before'].join('\n');
  if (p.regions.length) out.push('', 'regions:', ...p.regions.map((r) => `  ${r}`));
  for (const h of p.hostnames) {
    out.push('', `${h.fqdn} ${h.change}`);
    for (const d of h.details) out.push(`  ${d}`);
    if (h.populations.length) out.push('  clients answered differently:');
    for (const g of h.populations) {
      const names = g.places.length > MAX_PLACES_LISTED ? `${g.places.slice(0, MAX_PLACES_LISTED).join(', ')}, … ${g.places.length - MAX_PLACES_LISTED} more` : g.places.join(', ');
      out.push(`    set ${g.set}: ${g.from}  →  ${g.to}`, `      ${g.places.length} ${g.places.length === 1 ? 'country' : 'countries'}: ${names}`);
    }
  }
  if (p.checks.added.length || p.checks.removed.length) {
    out.push('', 'health checks:', ...p.checks.added.map((c) => `  + ${c}`), ...p.checks.removed.map((c) => `  - ${c}`));
  }
  if (p.unchanged.length) out.push('', `unchanged: ${p.unchanged.join(', ')}`);
  return out.join('\n');
}
