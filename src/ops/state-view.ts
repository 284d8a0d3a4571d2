// The fleet state as an operator reads it: the body of GET /v1/state, and what the console's event
// stream sends on every change. Regions with their health and drains, endpoint drains, the tenant
// map's counts, and every steered hostname with its weights in force, split and ramp.

import type { RegionHealth, Snapshot } from '../state/snapshot.js';
import { tenantHostnames } from '../steering/tenant-residency.js';
import { regionsOf, shares, type OpsDeps } from './route-kit.js';

const UP: RegionHealth = { up: true, reason: 'up' };

export function stateView(deps: Pick<OpsDeps, 'store' | 'snapshot' | 'instanceId'>) {
  const snap = deps.snapshot();
  const overrides = deps.store.get('weights');
  const ramps = deps.store.get('ramp');
  return {
    version: deps.store.version(),
    snapshotVersion: snap.version,
    instance: deps.instanceId,
    store: deps.store.status(),
    regions: [...snap.steering.regions.keys()].map((id) => {
      const d = snap.drains.get(id);
      return {
        id,
        location: snap.steering.regions.get(id)?.location ?? null,
        health: snap.regionHealth.get(id) ?? UP,
        drained: d !== undefined,
        drain: d ? { reason: d.reason, by: d.by, at: d.at, hostnames: d.hostnames } : null,
      };
    }),
    endpointDrains: endpointsView(snap),
    tenants: tenantsView(deps),
    hostnames: [...snap.steering.hostnames.values()].map((p) => {
      const effective = snap.weightOverrides.get(p.fqdn) ?? p.weights;
      const share = shares(effective);
      return {
        fqdn: p.fqdn,
        regions: regionsOf(p),
        sets: p.sets.map((s, i) => ({ name: s.name, regions: s.regions, fileWeight: s.weight, weight: effective[i], share: share[i] })),
        override: overrides.get(p.fqdn) ?? null,
        ramp: ramps.get(p.fqdn) ?? null,
      };
    }),
  };
}

function endpointsView(snap: Snapshot): { address: string; reason: string; by: string; at: number; hostnames: string[] | null }[] {
  return [...snap.endpointDrains.values()].map((d) => ({ address: d.address, reason: d.reason, by: d.by, at: d.at, hostnames: d.hostnames }));
}

function tenantsView(deps: Pick<OpsDeps, 'store' | 'snapshot'>) {
  const snap = deps.snapshot();
  return {
    hostnames: tenantHostnames(snap.steering).map((h) => h.fqdn),
    file: snap.tenants.file.file,
    fileEntries: snap.tenants.file.entries.size,
    apiEntries: deps.store.get('tenant').size,
  };
}
