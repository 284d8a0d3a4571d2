// Checks written under a pool endpoint (`{ address, checks }` in a steer file). Their identity is what
// they probe and how (type, target, every parameter), not where they are written: identical checks
// named by many hostnames, regions or files are one check, probed once, with one verdict per prober.
// The id is the same on every instance of the fleet (a hash of the identity), so quorum works as for
// region checks; it reads "tcp 10.1.0.2:443 [3fa2c1b0]" in logs and reports.

import { createHash } from 'node:crypto';
import { checkTarget, probeIdentity, type CheckConfig, type CheckId } from './check-config.js';
import type { HealthPlan } from './plan.js';

/** The canonical copy of an endpoint check: the id made from its identity. */
export function endpointCheck(c: CheckConfig): CheckConfig {
  const hash = createHash('sha256').update(probeIdentity(c)).digest('hex').slice(0, 8);
  const id = `${checkTarget(c)} [${hash}]`;
  return { ...c, id, name: id, region: '', endpoint: true };
}

/** Interns endpoint checks while a config loads: the first copy of each identity is kept and shared. */
export class EndpointCheckSet {
  private readonly byId = new Map<CheckId, CheckConfig>();

  intern(c: CheckConfig): CheckConfig {
    const e = endpointCheck(c);
    const had = this.byId.get(e.id);
    if (had) return had;
    this.byId.set(e.id, e);
    return e;
  }

  get size(): number {
    return this.byId.size;
  }

  all(): ReadonlyMap<CheckId, CheckConfig> {
    return this.byId;
  }
}

/** One address of one region's pools, over every hostname that lists it, with the union of its checks. */
export interface PoolEndpoint {
  region: string;
  address: string;
  /** "<region> <address>", made once. */
  key: string;
  checks: readonly CheckConfig[];
  /** Hostnames whose pool of `region` lists the address. */
  hostnames: string[];
}

const tables = new WeakMap<object, PoolEndpoint[]>();

/** Every (region, address) with checks in a plan; computed once per plan. */
export function poolEndpoints(plan: Pick<HealthPlan, 'pools' | 'endpointChecks'>): readonly PoolEndpoint[] {
  let out = tables.get(plan.pools);
  if (out) return out;
  const byKey = new Map<string, PoolEndpoint & { checks: CheckConfig[] }>();
  for (const [fqdn, pools] of plan.pools) {
    for (const [region, endpoints] of pools) {
      for (const [address, ids] of endpoints) {
        const key = `${region} ${address}`;
        let pe = byKey.get(key);
        if (!pe) byKey.set(key, (pe = { region, address, key, checks: [], hostnames: [] }));
        for (const id of ids) {
          const c = plan.endpointChecks.get(id);
          if (c && !pe.checks.includes(c)) pe.checks.push(c);
        }
        pe.hostnames.push(fqdn);
      }
    }
  }
  out = [...byKey.values()];
  tables.set(plan.pools, out);
  return out;
}
