// Drains of single pool endpoints: POST/DELETE /v1/endpoints/{address}/drain. An endpoint drain lives
// in the fleet store's 'endpoint' namespace (key: the address's canonical text), is audited, reaches
// every instance like a region drain, and beats the endpoint's health checks. The guard is the same
// as for regions: a drain that would leave a hostname with no operational region for a family it
// serves is refused unless forced.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { addressToString, parseSubnet } from '../dns/ecs.js';
import { foldHostname } from '../state/endpoint-health.js';
import type { Drain, EndpointDrain } from '../state/fleet-store.js';
import { operational, type Snapshot } from '../state/snapshot.js';
import type { HostnamePolicy } from '../steering/policy.js';
import { OpsError } from './errors.js';
import {
  addRoute, commitChecked, commitUndrain, DrainBody, drainHostnames, forcedDrain, lastRegionError, orEmpty, param, parseBody, ReasonBody, regionsOf, type OpsDeps, type Stranded,
} from './route-kit.js';

/** Hostnames whose pools list `address` (canonical text), in config order. */
export function hostnamesWith(snap: Snapshot, address: string): HostnamePolicy[] {
  const out: HostnamePolicy[] = [];
  for (const p of snap.steering.hostnames.values()) {
    for (const pool of p.pools.values()) {
      if (pool.v4Text.includes(address) || pool.v6Text.includes(address)) { out.push(p); break; }
    }
  }
  return out;
}

/**
 * Hostnames the endpoint drain would leave with no operational region for a family (A or AAAA) their
 * pools serve, given region health and drains, endpoint health, the other endpoint drains and this one.
 * Pure: judges the state it is given (the caller re-checks it where the write commits).
 */
export function endpointStrandedBy(
  snap: Snapshot, drain: EndpointDrain, state: { endpointDrains?: ReadonlyMap<string, EndpointDrain>; drains?: ReadonlyMap<string, Drain> } = {},
): Stranded[] {
  const drains = new Map(state.endpointDrains ?? snap.endpointDrains);
  const regionDrains = state.drains ?? snap.drains;
  drains.set(drain.address, drain);
  const out: Stranded[] = [];
  for (const policy of hostnamesWith(snap, drain.address)) {
    if (drain.hostnames !== null && !drain.hostnames.includes(policy.fqdn)) continue;
    const steered = snap.steered.get(policy.fqdn);
    if (!steered) continue;
    const folded = foldHostname(policy, steered.all, snap.endpointCheckIds.get(policy.fqdn), snap.endpointHealth, drains).endpoints;
    const regions = regionsOf(policy);
    for (const family of [4, 6] as const) {
      const states = regions.map((region) => {
        const r = operational(policy.fqdn, region, snap.regionHealth, regionDrains);
        const e = folded.get(region);
        const f = e ? (family === 4 ? e.v4 : e.v6) : null;
        return { region, up: r.up && f !== null && f.up, reason: !r.up ? r.reason : f === null ? `no IPv${family} endpoints` : f.reason, serves: f !== null };
      });
      if (!states.some((s) => s.serves)) continue;
      if (!states.some((s) => s.up)) {
        out.push({ fqdn: `${policy.fqdn} (${family === 4 ? 'A' : 'AAAA'})`, set: family === 4 ? 'A' : 'AAAA', regions: states.map(({ region, reason }) => ({ region, reason })) });
      }
    }
  }
  return out;
}

export async function endpointRoutes(v1: FastifyInstance, deps: OpsDeps): Promise<void> {
  const { store } = deps;

  /** The address in the path, canonical; 404 when no pool lists it. */
  const addressParam = (req: FastifyRequest, snap: Snapshot): { address: string; users: HostnamePolicy[] } => {
    const raw = param(req, 'address');
    let address: string;
    try {
      if (raw.includes('/')) throw new Error('give one address, not a subnet');
      const s = parseSubnet(raw);
      address = addressToString(s.family, s.address);
    } catch (err) {
      throw new OpsError('BAD_REQUEST', `address: "${raw}" is not an IPv4 or IPv6 address (${(err as Error).message})`);
    }
    const users = hostnamesWith(snap, address);
    if (users.length === 0) throw new OpsError('UNKNOWN_ENDPOINT', `${address} is in no pool of any steered hostname`);
    return { address, users };
  };

  addRoute(v1, deps, 'POST', '/endpoints/:address/drain', 'write', async (req, who) => {
    const snap = deps.snapshot();
    const { address, users } = addressParam(req, snap);
    const body = parseBody(DrainBody, req.body);
    const hostnames = drainHostnames(body.hostnames, (fqdn) => {
      if (!users.some((p) => p.fqdn === fqdn)) {
        throw new OpsError('BAD_REQUEST', `hostnames: ${fqdn} has no pool listing ${address} (hostnames that do: ${users.map((p) => p.fqdn).join(', ')})`);
      }
    });
    const drain: EndpointDrain = { address, reason: body.reason, hostnames, by: who!.name, at: deps.now() };
    // Judged on the store's drains at the version the write commits on (compare-and-set; a retry judges again).
    return commitChecked(store, () => {
      const stranded = endpointStrandedBy(deps.snapshot(), drain, { endpointDrains: store.get('endpoint'), drains: store.get('drain') });
      if (stranded.length && !body.force) throw lastRegionError(address, stranded);
      const before = store.get('endpoint').get(address) ?? null;
      const forced = forcedDrain(stranded);
      return {
        changes: [{ ns: 'endpoint', key: address, value: drain }],
        audit: { actor: who!.name, action: 'endpoint.drain', target: address, reason: drain.reason, before, after: drain, ...forced.audit },
        answer: (version) => {
          const scope = hostnames ? `for ${hostnames.join(', ')}` : `in every pool that lists it (${users.map((p) => p.fqdn).join(', ')})`;
          return {
            drain, replaced: before, version,
            message: `${address} drained ${scope}${before ? ' (replacing the previous drain)' : ''}${forced.message}`,
          };
        },
      };
    });
  });

  addRoute(v1, deps, 'DELETE', '/endpoints/:address/drain', 'write', async (req, who) => {
    const { address } = addressParam(req, deps.snapshot());
    const body = parseBody(ReasonBody, orEmpty(req.body));
    return commitUndrain(store, 'endpoint', address, 'endpoint.undrain', who!.name, body.reason ?? null);
  });
}
