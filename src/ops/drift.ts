// The drift audit: everything in force that the files do not say. After an incident a drain left
// behind, a split nobody cleared, a ramp halted weeks ago, or an instance still serving yesterday's
// zones are invisible in the files; GET /v1/drift (and `regiondns ctl drift`, exit 1 on drift)
// lists them. Pure: built from the snapshot, the fleet store's view and what each instance reports.

import type { ConfigIdentity } from '../config/identity.js';
import type { Drain, Ramp, TenantOverride, WeightOverride } from '../state/fleet-store.js';
import type { Snapshot } from '../state/snapshot.js';

export interface InstanceReport extends ConfigIdentity {
  id: string;
}

export interface DriftInput {
  snapshot: Snapshot;
  drains: Iterable<Drain>;
  weights: Iterable<WeightOverride>;
  ramps: Iterable<Ramp>;
  tenants: Iterable<TenantOverride>;
  /** This instance first, then every other instance that reported recently. */
  instances: readonly InstanceReport[];
  /** Why the other instances could not be listed (then the fleet cannot be said to be in sync). */
  instancesError?: string | null;
  now: number;
}

export interface DriftReport {
  inSync: boolean;
  /** One line per finding, for people. */
  findings: string[];
  drains: (Pick<Drain, 'region' | 'reason' | 'by' | 'at' | 'hostnames'> & { ageMs: number })[];
  splits: { fqdn: string; weights: Record<string, number>; fileWeights: Record<string, number>; by: string; at: number; ageMs: number }[];
  ramps: { fqdn: string; set: string; state: Ramp['state']; percent: number; step: number; steps: number; haltReason: string | null }[];
  tenants: { apiEntries: number; hidden: number };
  unhealthy: { region: string; reason: string }[];
  instances: (InstanceReport & { matches: boolean })[];
  instancesError: string | null;
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

export function driftReport(input: DriftInput): DriftReport {
  const { snapshot: snap, now } = input;
  const findings: string[] = [];
  const drains = [...input.drains].map((d) => ({ region: d.region, reason: d.reason, by: d.by, at: d.at, hostnames: d.hostnames, ageMs: now - d.at }));
  for (const d of drains) findings.push(`drain: ${d.region}${d.hostnames ? ` (for ${d.hostnames.join(', ')})` : ''} drained by ${d.by} ${age(d.ageMs)} ago: ${d.reason}`);

  const ramps = [...input.ramps].map((r) => ({ fqdn: r.fqdn, set: r.set, state: r.state, percent: r.steps[r.step] ?? 0, step: r.step + 1, steps: r.steps.length, haltReason: r.haltReason }));
  for (const r of ramps) findings.push(`ramp: ${r.fqdn} ${r.set} at ${r.percent}% (step ${r.step}/${r.steps}), ${r.state}${r.haltReason ? `: ${r.haltReason}` : ''}`);

  const splits = [...input.weights].map((o) => {
    const policy = snap.steering.hostnames.get(o.fqdn);
    const fileWeights = Object.fromEntries((policy?.sets ?? []).map((s) => [s.name, s.weight]));
    return { fqdn: o.fqdn, weights: o.weights, fileWeights, by: o.by, at: o.at, ageMs: now - o.at };
  });
  const text = (w: Record<string, number>) => Object.entries(w).map(([k, v]) => `${k}=${v}`).join(' ');
  for (const s of splits) findings.push(`split: ${s.fqdn} ${text(s.weights)} (files: ${text(s.fileWeights)}) set by ${s.by} ${age(s.ageMs)} ago`);

  let apiEntries = 0;
  let hidden = 0;
  for (const t of input.tenants) {
    apiEntries++;
    if (t.region === null) hidden++;
  }
  if (apiEntries) findings.push(`tenants: ${apiEntries} set through the API${hidden ? ` (${hidden} of them hide an entry of the file)` : ''}; the tenants file does not say them`);

  const unhealthy = [...snap.regionHealth].filter(([, h]) => !h.up).map(([region, h]) => ({ region, reason: h.reason }));
  for (const u of unhealthy) findings.push(`health: ${u.region} is failing its checks: ${u.reason}`);

  const self = input.instances[0];
  const instances = input.instances.map((i) => ({ ...i, matches: i.hash === self?.hash }));
  for (const i of instances) {
    if (i.matches) continue;
    const zones = Object.keys({ ...i.serials, ...self.serials }).filter((z) => i.serials[z] !== self.serials[z]).map((z) => `${z} serial ${i.serials[z] ?? 'none'} (here ${self.serials[z] ?? 'none'})`);
    findings.push(`instance: ${i.id} serves other files (content ${i.hash}, here ${self.hash})${zones.length ? `: ${zones.join(', ')}` : ''}`);
  }
  const instancesError = input.instancesError ?? null;
  if (instancesError) findings.push(`instances: ${instancesError}`);
  return { inSync: findings.length === 0, findings, drains, splits, ramps, tenants: { apiEntries, hidden }, unhealthy, instances, instancesError };
}
