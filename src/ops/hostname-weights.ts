// What the split and ramp routes share: the steered hostname in the path, its runtime split and ramp
// as the fleet store has them now (the snapshot may be a change behind), the refusal while a ramp
// runs, and weights as an operator reads them.

import type { FastifyRequest } from 'fastify';
import type { FleetStore, Ramp, WeightOverride } from '../state/fleet-store.js';
import type { HostnamePolicy } from '../steering/policy.js';
import { OpsError } from './errors.js';
import { hostnameParam, listOf, OPS_PREFIX, param, type OpsDeps } from './route-kit.js';

/** The policy of the hostname in the path ({fqdn}); UNKNOWN_HOSTNAME when it is not steered. */
export function steeredHostname(deps: Pick<OpsDeps, 'snapshot'>, req: FastifyRequest): HostnamePolicy {
  const snap = deps.snapshot();
  const fqdn = hostnameParam(param(req, 'fqdn'), 'hostname');
  const policy = snap.steering.hostnames.get(fqdn);
  if (!policy) throw new OpsError('UNKNOWN_HOSTNAME', `${fqdn} is not a steered hostname (known: ${listOf(snap.steering.hostnames.keys())})`);
  return policy;
}

export function currentRamp(store: FleetStore, fqdn: string): Ramp | null {
  return store.get('ramp').get(fqdn) ?? null;
}

export function currentSplit(store: FleetStore, fqdn: string): WeightOverride | null {
  return store.get('weights').get(fqdn) ?? null;
}

/** The 409 of a change to a hostname's weights while a ramp moves them. */
export function rampRunning(fqdn: string, ramp: Ramp): OpsError {
  return new OpsError('RAMP_RUNNING', `a ramp of ${ramp.set} is running on ${fqdn} (step ${ramp.step + 1}/${ramp.steps.length}): stop it first (DELETE ${OPS_PREFIX}/hostnames/${fqdn}/ramp, ctl ramp --stop ${fqdn})`);
}

/** "stable=90 canary=10" */
export function splitText(weights: Record<string, number>): string {
  return Object.entries(weights).map(([n, w]) => `${n}=${w}`).join(' ');
}
