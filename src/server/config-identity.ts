// Computes a ConfigIdentity (src/config/identity.ts) from the zones and steering policies as loaded.

import { createHash } from 'node:crypto';
import type { ConfigIdentity, ZoneIdentity } from '../config/identity.js';
import { checkTarget } from '../health/check-config.js';
import type { HealthPlan } from '../health/plan.js';
import type { SteeringConfig } from '../steering/policy.js';

export function configIdentity(zones: readonly ZoneIdentity[], steering: SteeringConfig, health: Pick<HealthPlan, 'regions'>): ConfigIdentity {
  const h = createHash('sha256');
  const serials: Record<string, number | null> = {};
  for (const z of [...zones].sort((a, b) => (a.origin < b.origin ? -1 : 1))) {
    serials[z.origin] = z.serial;
    h.update(`zone ${z.origin} ${z.hash}\n`);
  }
  for (const [id, r] of steering.regions) {
    h.update(`region ${id} ${r.location.lat} ${r.location.lon}\n`);
    for (const c of health.regions.get(id) ?? []) h.update(`check ${c.name} ${checkTarget(c)} ${c.intervalMs} ${c.timeoutMs} ${c.rise} ${c.fall}\n`);
  }
  for (const [fqdn, p] of steering.hostnames) {
    h.update(`hostname ${fqdn} ${p.ttl} ${p.answers} ${p.sticky} ${JSON.stringify(p.whenAllDown)}\n`);
    for (const s of p.sets) h.update(`set ${s.name} ${s.weight} ${s.regions.join(',')}\n`);
    for (const [r, e] of p.pools) h.update(`pool ${r} ${e.v4Text.join(',')} ${e.v6Text.join(',')}\n`);
    if (p.tenants) h.update(`tenants ${p.tenants.whenHomeDown} ${p.tenants.unknown} ${[...p.tenants.residency].map(([home, to]) => `${home}:${to.join('+')}`).join(',')}\n`);
  }
  // A million tenants: hashed in chunks, one update per 10,000 entries.
  let chunk = '';
  let n = 0;
  for (const [slug, region] of steering.tenants?.entries ?? []) {
    chunk += `${slug},${region}\n`;
    if (++n % 10_000 === 0) {
      h.update(chunk);
      chunk = '';
    }
  }
  h.update(chunk);
  return { hash: h.digest('hex').slice(0, 16), serials };
}
