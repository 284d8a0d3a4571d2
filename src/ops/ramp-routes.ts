// Canary ramps: POST/GET/DELETE /v1/hostnames/{fqdn}/ramp. Starting a ramp writes its record (the
// fleet store's 'ramp' namespace) and its first step's split together; the ramp controller (ramp.ts)
// moves it on from there. Stopping one keeps the weights in force as a split.

import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import { formatDuration } from '../config/duration.js';
import type { Ramp } from '../state/fleet-store.js';
import { OpsError } from './errors.js';
import { currentRamp, currentSplit, rampRunning, splitText, steeredHostname } from './hostname-weights.js';
import { checkSteps, MAX_EVERY_MS, MIN_EVERY_MS, parseEvery, stepOverride } from './ramp.js';
import { addRoute, commitChecked, OPS_PREFIX, orEmpty, parseBody, Reason, ReasonBody, type OpsDeps } from './route-kit.js';

const RampBody = z.strictObject({
  set: z.string().min(1),
  steps: z.array(z.number()).min(1).max(100),
  every: z.union([z.string(), z.number()]),
  'halt-on': z.strictObject({ 'unhealthy-regions': z.boolean().optional() }).optional(),
  reason: Reason.optional(),
});

export async function rampRoutes(v1: FastifyInstance, deps: OpsDeps): Promise<void> {
  const { store } = deps;

  addRoute(v1, deps, 'POST', '/hostnames/:fqdn/ramp', 'write', async (req, who) => {
    const policy = steeredHostname(deps, req);
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
    return commitChecked(store, () => {
      const existing = currentRamp(store, policy.fqdn);
      if (existing?.state === 'running') throw rampRunning(policy.fqdn, existing);
      // The other sets keep the proportions in force (a split made before the ramp), not the file's.
      const inForce = currentSplit(store, policy.fqdn)?.weights;
      const ramp: Ramp = {
        fqdn: policy.fqdn, set: body.set, steps: body.steps, everyMs, step: 0, nextAt: now + everyMs,
        state: body.steps.length === 1 ? 'done' : 'running', haltReason: null,
        haltOnUnhealthyRegions: body['halt-on']?.['unhealthy-regions'] ?? true, by: who!.name, startedAt: now,
        ...(inForce ? { base: inForce } : {}),
      };
      const override = stepOverride(policy, ramp, 0, who!.name, now);
      const before = { ramp: existing, weights: currentSplit(store, policy.fqdn) };
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

  addRoute(v1, deps, 'GET', '/hostnames/:fqdn/ramp', 'read', async (req) => {
    const policy = steeredHostname(deps, req);
    const ramp = currentRamp(store, policy.fqdn);
    if (!ramp) throw new OpsError('NO_RAMP', `${policy.fqdn} has no ramp`);
    return { ramp, override: currentSplit(store, policy.fqdn), nextStepInMs: ramp.state === 'running' ? Math.max(0, ramp.nextAt - deps.now()) : null };
  });

  addRoute(v1, deps, 'DELETE', '/hostnames/:fqdn/ramp', 'write', async (req, who) => {
    const policy = steeredHostname(deps, req);
    const body = parseBody(ReasonBody, orEmpty(req.body));
    return commitChecked(store, () => {
      const ramp = currentRamp(store, policy.fqdn);
      if (!ramp) throw new OpsError('NO_RAMP', `${policy.fqdn} has no ramp`);
      const override = currentSplit(store, policy.fqdn);
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
}
