// Region drains: POST/DELETE /v1/regions/{region}/drain. A drain is an operator's forced state that
// beats the region's health checks, for every hostname or for those it names. It lives in the fleet
// store's 'drain' namespace (key: the region), is audited and reaches every instance. A drain that
// would leave a record set in use with no operational region is refused unless forced.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Drain } from '../state/fleet-store.js';
import type { Snapshot } from '../state/snapshot.js';
import type { RegionId } from '../steering/policy.js';
import { OpsError } from './errors.js';
import {
  addRoute, commitChecked, commitUndrain, DrainBody, drainHostnames, forcedDrain, lastRegionError, listOf, orEmpty, param, parseBody, ReasonBody, regionsOf, strandedBy,
  type OpsDeps, type Stranded,
} from './route-kit.js';

export async function drainRoutes(v1: FastifyInstance, deps: OpsDeps): Promise<void> {
  const { store } = deps;

  addRoute(v1, deps, 'POST', '/regions/:region/drain', 'write', async (req, who) => {
    const snap = deps.snapshot();
    const region = regionParam(snap, req);
    const body = parseBody(DrainBody, req.body);
    const hostnames = drainHostnames(body.hostnames, (fqdn) => {
      const policy = snap.steering.hostnames.get(fqdn);
      if (!policy) throw new OpsError('BAD_REQUEST', `hostnames: ${fqdn} is not a steered hostname (known: ${listOf(snap.steering.hostnames.keys())})`);
      if (!regionsOf(policy).includes(region)) throw new OpsError('BAD_REQUEST', `hostnames: ${fqdn} does not use region ${region} (its regions: ${regionsOf(policy).join(', ')})`);
    });
    const drain: Drain = { region, reason: body.reason, hostnames, by: who!.name, at: deps.now() };
    return commitChecked(store, () => {
      // Judged on the store's state at the version the write commits on (a retry judges again).
      const now = deps.snapshot();
      const stranded = strandedBy(now, drain, { drains: store.get('drain'), weights: store.get('weights') });
      if (stranded.length && !body.force) throw lastRegionError(region, stranded, (s) => setName(now, s));
      const before = store.get('drain').get(region) ?? null;
      const forced = forcedDrain(stranded);
      return {
        changes: [{ ns: 'drain', key: region, value: drain }],
        audit: { actor: who!.name, action: 'drain', target: region, reason: drain.reason, before, after: drain, ...forced.audit },
        answer: (version) => {
          const scope = hostnames ? `for ${hostnames.join(', ')}` : 'for every hostname';
          return {
            drain, replaced: before, version,
            message: `${region} drained ${scope}${before ? ' (replacing the previous drain)' : ''}${forced.message}`,
          };
        },
      };
    });
  });

  addRoute(v1, deps, 'DELETE', '/regions/:region/drain', 'write', async (req, who) => {
    const region = regionParam(deps.snapshot(), req);
    const body = parseBody(ReasonBody, orEmpty(req.body));
    return commitUndrain(store, 'drain', region, 'undrain', who!.name, body.reason ?? null);
  });
}

function regionParam(snap: Snapshot, req: FastifyRequest): RegionId {
  const region = param(req, 'region');
  if (!snap.steering.regions.has(region)) throw new OpsError('UNKNOWN_REGION', `no region "${region}" (known: ${listOf(snap.steering.regions.keys())})`);
  return region;
}

/** " set stable" for a hostname with several record sets; nothing for one with a single set. */
function setName(snap: Snapshot, s: Stranded): string {
  return (snap.steering.hostnames.get(s.fqdn)?.sets.length ?? 1) > 1 ? ` set ${s.set}` : '';
}
