// The ops API under /v1 on the HTTP listener: fleet state, drains, weighted splits, canary ramps,
// explain and the audit log. Every change goes through the fleet store (persisted, audited, then
// published to every instance); a handler never touches a Snapshot directly.
// Errors: stable codes from errors.ts as `{ error: { code, message } }`; bad input is a 4xx, never a 500.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RRType } from '../dns/constants.js';
import { parseSubnet } from '../dns/ecs.js';
import { explainQuery } from '../query/explain.js';
import type { Change, Drain, Ramp, WeightOverride } from '../state/fleet-store.js';
import { operational, type RegionHealth, type Snapshot } from '../state/snapshot.js';
import type { HostnamePolicy, RegionId } from '../steering/policy.js';
import type { Access } from './auth.js';
import { OpsError, toOpsError } from './errors.js';
import { formatDuration } from '../config/duration.js';
import { checkSteps, MAX_EVERY_MS, MIN_EVERY_MS, parseEvery, stepOverride } from './ramp.js';
import { regionEndpoints, registerConsoleApi } from './console-api.js';
import { driftReport } from './drift.js';
import { registerReloadRoute } from './fleet-reload.js';
import { registerTenantRoutes, tenantsView } from './tenant-routes.js';
import { endpointsView, registerEndpointRoutes } from './endpoints.js';
import {
  addRoute, commitChecked, commitUndrain, DrainBody, drainHostnames, forcedDrain, hostnameParam, isStoreUnavailable, lastRegionError, listOf, OPS_PREFIX, orEmpty, param, parseBody, query, RampBody, ReasonBody, regionsOf,
  shares, SplitBody, strandedBy, strandedBySplit, type Handler, type Method, type OpsDeps, type Prepared, type Stranded,
} from './route-kit.js';

const AUDIT_DEFAULT = 100;
const AUDIT_MAX = 1000;

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

// ---- the routes ----------------------------------------------------------------------------------

export function registerOpsRoutes(app: FastifyInstance, deps: OpsDeps): void {
  const { store } = deps;

  app.register(async (v1) => {
    v1.setErrorHandler((err, req, reply) => {
      const e = toOpsError(err);
      if (e.status >= 500) deps.log?.error({ err, url: req.url }, 'ops API error');
      if (e.status === 401) reply.header('www-authenticate', 'Bearer realm="regiondns"');
      reply.code(e.status).send(e.body());
    });
    v1.setNotFoundHandler((req, reply) => {
      reply.code(404).send(new OpsError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}: see GET ${OPS_PREFIX}/openapi.yaml`).body());
    });

    const route = (method: Method, url: string, access: Access | 'public', handler: Handler) => addRoute(v1, deps, method, url, access, handler);
    const commit = <T>(prepare: () => Prepared<T>): Promise<T> => commitChecked(store, prepare);

    const snapAndPolicy = (rawFqdn: string): { snap: Snapshot; policy: HostnamePolicy } => {
      const snap = deps.snapshot();
      const fqdn = hostnameParam(rawFqdn, 'hostname');
      const policy = snap.steering.hostnames.get(fqdn);
      if (!policy) throw new OpsError('UNKNOWN_HOSTNAME', `${fqdn} is not a steered hostname (known: ${listOf(snap.steering.hostnames.keys())})`);
      return { snap, policy };
    };

    const currentRamp = (fqdn: string): Ramp | null => store.get('ramp').get(fqdn) ?? null;
    const currentOverride = (fqdn: string): WeightOverride | null => store.get('weights').get(fqdn) ?? null;

    route('GET', '/state', 'read', async () => stateView(deps));

    // -- drains --

    route('POST', '/regions/:region/drain', 'write', async (req, who) => {
      const snap = deps.snapshot();
      const region = regionParam(snap, req);
      const body = parseBody(DrainBody, req.body);
      const hostnames = drainHostnames(body.hostnames, (fqdn) => {
        const policy = snap.steering.hostnames.get(fqdn);
        if (!policy) throw new OpsError('BAD_REQUEST', `hostnames: ${fqdn} is not a steered hostname (known: ${listOf(snap.steering.hostnames.keys())})`);
        if (!regionsOf(policy).includes(region)) throw new OpsError('BAD_REQUEST', `hostnames: ${fqdn} does not use region ${region} (its regions: ${regionsOf(policy).join(', ')})`);
      });
      const drain: Drain = { region, reason: body.reason, hostnames, by: who!.name, at: deps.now() };
      return commit(() => {
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

    route('DELETE', '/regions/:region/drain', 'write', async (req, who) => {
      const region = regionParam(deps.snapshot(), req);
      const body = parseBody(ReasonBody, orEmpty(req.body));
      return commitUndrain(store, 'drain', region, 'undrain', who!.name, body.reason ?? null);
    });

    // -- weighted splits --

    route('PUT', '/hostnames/:fqdn/split', 'write', async (req, who) => {
      const { policy } = snapAndPolicy(param(req, 'fqdn'));
      const body = parseBody(SplitBody, req.body);
      const known = policy.sets.map((s) => s.name);
      const weights: Record<string, number> = {};
      for (const s of body.sets) {
        if (!known.includes(s.name)) throw new OpsError('BAD_REQUEST', `sets: ${policy.fqdn} has no record set "${s.name}" (its sets: ${known.join(', ')})`);
        if (Object.hasOwn(weights, s.name)) throw new OpsError('BAD_REQUEST', `sets: "${s.name}" is named twice`);
        weights[s.name] = s.weight;
      }
      const missing = known.filter((n) => !Object.hasOwn(weights, n));
      if (missing.length) throw new OpsError('BAD_REQUEST', `sets: name every record set of ${policy.fqdn} once; missing: ${missing.join(', ')}`);
      const total = Object.values(weights).reduce((a, b) => a + b, 0);
      if (!(total > 0) || !Number.isFinite(total)) throw new OpsError('BAD_REQUEST', 'sets: the weights must add up to a finite number above 0');
      const override: WeightOverride = { fqdn: policy.fqdn, weights, by: who!.name, at: deps.now() };
      return commit(() => {
        const ramp = currentRamp(policy.fqdn);
        if (ramp?.state === 'running') throw rampRunning(policy.fqdn, ramp);
        // The last-region guard, for a split: more traffic to a set with no operational region.
        const stranded = strandedBySplit(deps.snapshot(), policy, weights, { drains: store.get('drain'), weights: store.get('weights') });
        if (stranded.length && !body.force) {
          const what = stranded.map((st) => `record set ${st.set} (${st.regions.map((r) => `${r.region}: ${r.reason}`).join('; ')})`).join(', ');
          throw new OpsError('LAST_REGION', `this split sends more of ${policy.fqdn}'s answers to ${stranded.length === 1 ? 'a record set' : 'record sets'} with no operational region: ${what}. Pass force: true (ctl: --force) to split anyway`, { hostnames: stranded });
        }
        const before = currentOverride(policy.fqdn);
        const changes: Change[] = [{ ns: 'weights', key: policy.fqdn, value: override }];
        // A halted or finished ramp's record is superseded by the operator's split.
        if (ramp) changes.push({ ns: 'ramp', key: policy.fqdn, value: null });
        return {
          changes,
          audit: {
            actor: who!.name, action: 'split', target: policy.fqdn, reason: body.reason ?? null, before, after: override,
            ...(ramp ? { detail: { clearedRamp: ramp.state } } : {}),
          },
          answer: (version) => ({ override, version, message: `${policy.fqdn} split set: ${splitText(weights)}${ramp ? ` (the ${ramp.state} ramp record was cleared)` : ''}` }),
        };
      });
    });

    route('DELETE', '/hostnames/:fqdn/split', 'write', async (req, who) => {
      const { policy } = snapAndPolicy(param(req, 'fqdn'));
      const body = parseBody(ReasonBody, orEmpty(req.body));
      return commit(() => {
        const ramp = currentRamp(policy.fqdn);
        if (ramp?.state === 'running') throw rampRunning(policy.fqdn, ramp);
        const before = currentOverride(policy.fqdn);
        if (!before) throw new OpsError('NO_SPLIT', `${policy.fqdn} has no runtime split: it already uses the weights of its file`);
        const changes: Change[] = [{ ns: 'weights', key: policy.fqdn, value: null }];
        if (ramp) changes.push({ ns: 'ramp', key: policy.fqdn, value: null });
        const file = Object.fromEntries(policy.sets.map((s) => [s.name, s.weight]));
        return {
          changes,
          audit: {
            actor: who!.name, action: 'split.clear', target: policy.fqdn, reason: body.reason ?? null, before, after: null,
            ...(ramp ? { detail: { clearedRamp: ramp.state } } : {}),
          },
          answer: (version) => ({ cleared: before, version, message: `${policy.fqdn} is back to the weights of its file: ${splitText(file)}` }),
        };
      });
    });

    // -- canary ramps --

    route('POST', '/hostnames/:fqdn/ramp', 'write', async (req, who) => {
      const { policy } = snapAndPolicy(param(req, 'fqdn'));
      const body = parseBody(RampBody, req.body);
      const known = policy.sets.map((s) => s.name);
      if (!known.includes(body.set)) throw new OpsError('BAD_REQUEST', `set: ${policy.fqdn} has no record set "${body.set}" (its sets: ${known.join(', ')})`);
      if (known.length < 2) throw new OpsError('BAD_REQUEST', `set: ${policy.fqdn} has one record set; a ramp moves traffic between two or more (add a split to its steer file)`);
      const stepsError = checkSteps(body.steps);
      if (stepsError) throw new OpsError('BAD_REQUEST', `steps: ${stepsError}`);
      const every = parseEvery(body.every);
      if (!every.ok) throw new OpsError('BAD_REQUEST', `every: ${every.message}`);
      const everyMs = every.ms;
      if (everyMs < MIN_EVERY_MS || everyMs > MAX_EVERY_MS) throw new OpsError('BAD_REQUEST', `every: from 1s to 30d (got ${formatDuration(everyMs)})`);
      const now = deps.now();
      return commit(() => {
        const existing = currentRamp(policy.fqdn);
        if (existing?.state === 'running') throw rampRunning(policy.fqdn, existing);
        // The other sets keep the proportions in force (a split made before the ramp), not the file's.
        const inForce = currentOverride(policy.fqdn)?.weights;
        const ramp: Ramp = {
          fqdn: policy.fqdn, set: body.set, steps: body.steps, everyMs, step: 0, nextAt: now + everyMs,
          state: body.steps.length === 1 ? 'done' : 'running', haltReason: null,
          haltOnUnhealthyRegions: body['halt-on']?.['unhealthy-regions'] ?? true, by: who!.name, startedAt: now,
          ...(inForce ? { base: inForce } : {}),
        };
        const override = stepOverride(policy, ramp, 0, who!.name, now);
        const before = { ramp: existing, weights: currentOverride(policy.fqdn) };
        return {
          changes: [{ ns: 'ramp', key: policy.fqdn, value: ramp }, { ns: 'weights', key: policy.fqdn, value: override }],
          audit: { actor: who!.name, action: 'ramp.start', target: policy.fqdn, reason: body.reason ?? null, before, after: { ramp, weights: override } },
          answer: (version) => ({
            ramp, override, version,
            message: `ramp of ${policy.fqdn} started: ${body.set} at ${ramp.steps[0]}% (${splitText(override.weights)})` +
              (ramp.state === 'running' ? `; next step (${ramp.steps[1]}%) in ${formatDuration(everyMs)}` : '; that is the only step: ramp done'),
          }),
        };
      });
    });

    route('GET', '/hostnames/:fqdn/ramp', 'read', async (req) => {
      const { policy } = snapAndPolicy(param(req, 'fqdn'));
      const ramp = currentRamp(policy.fqdn);
      if (!ramp) throw new OpsError('NO_RAMP', `${policy.fqdn} has no ramp`);
      return { ramp, override: currentOverride(policy.fqdn), nextStepInMs: ramp.state === 'running' ? Math.max(0, ramp.nextAt - deps.now()) : null };
    });

    route('DELETE', '/hostnames/:fqdn/ramp', 'write', async (req, who) => {
      const { policy } = snapAndPolicy(param(req, 'fqdn'));
      const body = parseBody(ReasonBody, orEmpty(req.body));
      return commit(() => {
        const ramp = currentRamp(policy.fqdn);
        if (!ramp) throw new OpsError('NO_RAMP', `${policy.fqdn} has no ramp`);
        const override = currentOverride(policy.fqdn);
        const at = `${ramp.state} at step ${ramp.step + 1}/${ramp.steps.length} (${ramp.set} ${ramp.steps[ramp.step]}%)`;
        return {
          changes: [{ ns: 'ramp', key: policy.fqdn, value: null }],
          audit: { actor: who!.name, action: 'ramp.stop', target: policy.fqdn, reason: body.reason ?? null, before: ramp, after: null },
          answer: (version) => ({
            stopped: ramp, override, version,
            message: `ramp of ${policy.fqdn} removed (${at}); the current weights stay in force as a split` +
              (override ? ` (${splitText(override.weights)})` : '') + `: DELETE ${OPS_PREFIX}/hostnames/${policy.fqdn}/split (ctl split ${policy.fqdn} --clear) goes back to the file's weights`,
          }),
        };
      });
    });

    // -- tenants (data residency) --

    registerTenantRoutes(v1, deps);
    registerReloadRoute(v1, deps);
    registerConsoleApi({
      route, state: () => stateView(deps), health: () => deps.healthReport?.() ?? null, endpoints: () => regionEndpoints(deps.snapshot()),
      openReads: deps.openReads, instanceId: deps.instanceId,
      onChange: [(fn) => store.onEvent(fn), ...(deps.onSnapshot ? [deps.onSnapshot] : [])],
    });

    // -- endpoint drains --

    registerEndpointRoutes(v1, deps);

    // -- reads --

    route('GET', '/explain', 'read', async (req) => {
      const q = query(req);
      if (!q.hostname) throw new OpsError('BAD_REQUEST', 'query parameter "hostname" is required');
      if (!q.client) throw new OpsError('BAD_REQUEST', 'query parameter "client" is required (an IP address or subnet, e.g. 203.0.113.7 or 203.0.113.0/24)');
      const fqdn = hostnameParam(q.hostname, 'hostname');
      let client;
      try {
        client = parseSubnet(q.client);
      } catch (err) {
        throw new OpsError('BAD_REQUEST', `client: ${(err as Error).message}`);
      }
      const type = (q.type ?? 'A').toUpperCase();
      if (type !== 'A' && type !== 'AAAA') throw new OpsError('BAD_REQUEST', `type: "${q.type}" is not A or AAAA`);
      return explainQuery(deps.snapshot(), fqdn, type === 'A' ? RRType.A : RRType.AAAA, client);
    });

    route('GET', '/drift', 'read', async () => {
      const self = deps.identity?.();
      const others = self && deps.otherInstances ? await deps.otherInstances() : { instances: [], error: null };
      return driftReport({
        snapshot: deps.snapshot(),
        drains: store.get('drain').values(),
        weights: store.get('weights').values(),
        ramps: store.get('ramp').values(),
        tenants: store.get('tenant').values(),
        instances: self ? [{ id: deps.instanceId, ...self }, ...others.instances] : [],
        instancesError: others.error,
        now: deps.now(),
      });
    });

    route('GET', '/audit', 'read', async (req) => {
      const q = query(req);
      let limit = AUDIT_DEFAULT;
      if (q.limit !== undefined) {
        limit = Number(q.limit);
        if (!/^[0-9]+$/.test(q.limit) || limit < 1 || limit > AUDIT_MAX) throw new OpsError('BAD_REQUEST', `limit: an integer from 1 to ${AUDIT_MAX}`);
      }
      try {
        return { entries: await store.audit(limit) };
      } catch (err) {
        // Redis unreachable: say so (503 with the store's reason), not "internal error".
        if (isStoreUnavailable(err)) throw new OpsError('STORE_UNAVAILABLE', `the audit log cannot be read now (${(err as Error).message})`);
        throw err;
      }
    });

    route('GET', '/health', 'read', async () => {
      if (!deps.healthReport) throw new OpsError('NOT_FOUND', 'health reporting is not enabled on this instance');
      return deps.healthReport();
    });

    route('GET', '/openapi.yaml', 'public', async (_req, _who, reply) => {
      reply.header('content-type', 'application/yaml; charset=utf-8');
      return openapiText();
    });
  }, { prefix: OPS_PREFIX });
}

// ---- small helpers -------------------------------------------------------------------------------

function regionParam(snap: Snapshot, req: FastifyRequest): RegionId {
  const region = param(req, 'region');
  if (!snap.steering.regions.has(region)) throw new OpsError('UNKNOWN_REGION', `no region "${region}" (known: ${listOf(snap.steering.regions.keys())})`);
  return region;
}

/** " set stable" for a hostname with several record sets; nothing for one with a single set. */
function setName(snap: Snapshot, s: Stranded): string {
  return (snap.steering.hostnames.get(s.fqdn)?.sets.length ?? 1) > 1 ? ` set ${s.set}` : '';
}

function splitText(weights: Record<string, number>): string {
  return Object.entries(weights).map(([n, w]) => `${n}=${w}`).join(' ');
}

function rampRunning(fqdn: string, ramp: Ramp): OpsError {
  return new OpsError('RAMP_RUNNING', `a ramp of ${ramp.set} is running on ${fqdn} (step ${ramp.step + 1}/${ramp.steps.length}): stop it first (DELETE ${OPS_PREFIX}/hostnames/${fqdn}/ramp, ctl ramp --stop ${fqdn})`);
}

let openapiCache: string | null = null;

/** The spec beside the compiled module (dist/ops/openapi.yaml, copied by the build), or the source copy. */
export function openapiText(): string {
  if (openapiCache !== null) return openapiCache;
  const candidates = [new URL('./openapi.yaml', import.meta.url), new URL('../../src/ops/openapi.yaml', import.meta.url)];
  for (const u of candidates) {
    try {
      openapiCache = readFileSync(fileURLToPath(u), 'utf8');
      return openapiCache;
    } catch { /* try the next */ }
  }
  throw new OpsError('NOT_FOUND', 'openapi.yaml is not installed beside the server (run npm run build)');
}
