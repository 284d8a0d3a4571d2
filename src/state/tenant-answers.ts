// Tenant hostnames' answers, one per home region, computed when a snapshot is built. A tenant's
// answer depends on its home region and the snapshot only (never on the client: ECS scope /0), so a
// query looks up the tenant's home and picks the answer made for it. Bounded by tenant hostnames ×
// regions, never by tenants: a million tenants share their home region's answer.

import type { WireRR } from '../dns/types.js';
import type { SteeringResult } from '../steering/pipeline.js';
import type { HostnamePolicy, Region, RegionId } from '../steering/policy.js';
import type { IsOperational } from '../steering/stages.js';
import { routeTenant, type TenantRoute } from '../steering/tenant-residency.js';
import type { DynamicAnswer } from '../zone/lookup.js';
import { regionRecords, type RegionEndpoints, type RegionRecords } from './endpoint-health.js';

/** A tenant hostname's answer for one home region, shared by every query of every tenant at home there. */
export interface TenantAnswer {
  /** For A queries; route6 for AAAA (the same object unless endpoint health tells the families apart). */
  route: TenantRoute;
  route6: TenantRoute;
  /** What the query handler counts in metrics (A, AAAA). */
  result: SteeringResult;
  result6: SteeringResult;
  a: DynamicAnswer;
  aaaa: DynamicAnswer;
}

/** hostname → home region → its answer. */
export type TenantAnswers = ReadonlyMap<string, ReadonlyMap<RegionId, TenantAnswer>>;

/** What an answer is made from: a steered name's policy and records (a snapshot's SteeredName). */
export interface TenantSource {
  policy: HostnamePolicy;
  records: ReadonlyMap<RegionId, RegionRecords>;
  all: ReadonlyMap<RegionId, RegionRecords>;
  /** Set when endpoint health is folded in: a region may then answer one family and not the other. */
  endpoints?: ReadonlyMap<RegionId, RegionEndpoints>;
}

type OperationalFor = (fqdn: string, family: 4 | 6) => IsOperational;

/** Every tenant hostname's answer for every region as its home. */
export function tenantAnswers(steered: ReadonlyMap<string, TenantSource>, isOperationalFor: OperationalFor, regions: ReadonlyMap<RegionId, Region>): TenantAnswers {
  const out = new Map<string, Map<RegionId, TenantAnswer>>();
  for (const [fqdn, s] of steered) {
    if (s.policy.tenants === undefined) continue;
    const byHome = new Map<RegionId, TenantAnswer>();
    for (const home of regions.keys()) byHome.set(home, tenantAnswer(s, home, isOperationalFor, regions));
    out.set(fqdn, byHome);
  }
  return out;
}

/** The route per family: with endpoint health, a region may have healthy IPv4 endpoints and no IPv6 ones. */
export function tenantAnswer(s: TenantSource, home: RegionId, isOperationalFor: OperationalFor, regions: ReadonlyMap<RegionId, Region>): TenantAnswer {
  const policy = s.policy;
  const route = routeTenant(policy, policy.tenants!, home, isOperationalFor(policy.fqdn, 4), regions);
  const route6 = s.endpoints ? routeTenant(policy, policy.tenants!, home, isOperationalFor(policy.fqdn, 6), regions) : route;
  const a: WireRR[] = [];
  const aaaa: WireRR[] = [];
  for (const region of route.regions) a.push(...regionRecords(s, region, route.outcome, false));
  for (const region of route6.regions) aaaa.push(...regionRecords(s, region, route6.outcome, true));
  const result = (r: TenantRoute): SteeringResult => ({ regions: r.regions, setName: 'tenant', outcome: r.outcome, ttl: r.ttl, ecsScope: 0 });
  const res = result(route);
  return {
    route, route6,
    result: res, result6: route6 === route ? res : result(route6),
    a: { records: a, servfail: route.outcome === 'servfail', ecsScope: 0 },
    aaaa: { records: aaaa, servfail: route6.outcome === 'servfail', ecsScope: 0 },
  };
}
