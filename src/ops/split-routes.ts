// Weighted splits: PUT/DELETE /v1/hostnames/{fqdn}/split. A split gives each record set of a steered
// hostname a runtime weight that beats its file's; it lives in the fleet store's 'weights' namespace
// (key: the hostname), is audited and reaches every instance. A split that sends more answers to a
// record set with no operational region is refused unless forced; a running ramp owns the weights.

import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import type { Change, WeightOverride } from '../state/fleet-store.js';
import { OpsError } from './errors.js';
import { currentRamp, currentSplit, rampRunning, splitText, steeredHostname } from './hostname-weights.js';
import { addRoute, commitChecked, orEmpty, parseBody, Reason, ReasonBody, strandedBySplit, type OpsDeps } from './route-kit.js';

const SplitBody = z.strictObject({
  sets: z.array(z.strictObject({ name: z.string().min(1), weight: z.number().min(0, 'must be ≥ 0') })).min(1),
  reason: Reason.optional(),
  force: z.boolean().optional(),
});

export async function splitRoutes(v1: FastifyInstance, deps: OpsDeps): Promise<void> {
  const { store } = deps;

  addRoute(v1, deps, 'PUT', '/hostnames/:fqdn/split', 'write', async (req, who) => {
    const policy = steeredHostname(deps, req);
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
    return commitChecked(store, () => {
      const ramp = currentRamp(store, policy.fqdn);
      if (ramp?.state === 'running') throw rampRunning(policy.fqdn, ramp);
      // The last-region guard, for a split: more traffic to a set with no operational region.
      const stranded = strandedBySplit(deps.snapshot(), policy, weights, { drains: store.get('drain'), weights: store.get('weights') });
      if (stranded.length && !body.force) {
        const what = stranded.map((st) => `record set ${st.set} (${st.regions.map((r) => `${r.region}: ${r.reason}`).join('; ')})`).join(', ');
        throw new OpsError('LAST_REGION', `this split sends more of ${policy.fqdn}'s answers to ${stranded.length === 1 ? 'a record set' : 'record sets'} with no operational region: ${what}. Pass force: true (ctl: --force) to split anyway`, { hostnames: stranded });
      }
      const before = currentSplit(store, policy.fqdn);
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

  addRoute(v1, deps, 'DELETE', '/hostnames/:fqdn/split', 'write', async (req, who) => {
    const policy = steeredHostname(deps, req);
    const body = parseBody(ReasonBody, orEmpty(req.body));
    return commitChecked(store, () => {
      const ramp = currentRamp(store, policy.fqdn);
      if (ramp?.state === 'running') throw rampRunning(policy.fqdn, ramp);
      const before = currentSplit(store, policy.fqdn);
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
}
