// The self-driving canary ramp: move a record set's share of traffic through steps (0.1% → 1% → 5%
// → 25% → 100%), one step every `every`, and halt when a region of the ramped set goes down.
//
// The ramp lives in the fleet store with absolute times (step, nextAt), so it survives restarts and
// moves to another instance with the lease. Every instance runs a RampController; only the holder of
// the 'ramp-controller' lease acts, so exactly one instance advances ramps at a time.
//
// Decisions:
// - Halting looks at HEALTH only (snapshot.regionHealth): a drain is an operator's deliberate choice
//   and does not halt a ramp (the drained region just gets no traffic, as for every other set).
// - A ramp never jumps: when a step is overdue (e.g. after every instance was down for an hour), the
//   controller advances ONE step and the next one is due a full `every` later. Every step is held for
//   at least `every` with the controller watching, which is the point of a ramp.
// - Reaching the last step makes the ramp 'done'; its weights stay as an override.
// - A halted ramp does not resume by itself when the region recovers: an operator looks, then stops
//   it (DELETE keeps the weights) and starts a new one from where it should go on.

import { parseDuration, type DurationResult } from '../config/duration.js';
import type { Logger } from '../obs/logger.js';
import { StoreConflictError, type Change, type FleetStore, type Ramp, type WeightOverride } from '../state/fleet-store.js';
import type { Snapshot } from '../state/snapshot.js';
import type { HostnamePolicy } from '../steering/policy.js';

export const RAMP_LEASE = 'ramp-controller';
export const RAMP_ACTOR = 'ramp-controller';
export const DEFAULT_TICK_MS = 1000;

/** Minimum step interval: shorter than a DNS TTL is meaningless, and sub-second would race the controller. */
export const MIN_EVERY_MS = 1000;
/** Longest step interval: a typo like "10d0m" should not park a ramp for years. */
export const MAX_EVERY_MS = 30 * 86_400_000;

/**
 * Weights for `set` at `percent` of traffic: the ramped set gets `percent` of the total (100), the other
 * sets share the rest in proportion to their file weights, or equally when all of theirs are 0.
 * Results are rounded to 1e-9 so they read cleanly ("95", not "94.99999999999999").
 */
export function rampWeights(sets: readonly { name: string; weight: number }[], set: string, percent: number): Record<string, number> {
  if (!sets.some((s) => s.name === set)) throw new Error(`no record set "${set}"`);
  if (!(percent >= 0 && percent <= 100)) throw new Error(`percent ${percent} is not within 0-100`);
  const others = sets.filter((s) => s.name !== set);
  const otherTotal = others.reduce((sum, s) => sum + s.weight, 0);
  const rest = 100 - percent;
  const out: Record<string, number> = {};
  for (const s of sets) {
    if (s.name === set) out[s.name] = round(percent);
    else out[s.name] = round(otherTotal > 0 ? (rest * s.weight) / otherTotal : rest / others.length);
  }
  return out;
}

function round(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

/** A ramp's `every`: a duration with its unit ("30s", "10m", "1h30m"), or a JSON number of milliseconds. */
export function parseEvery(v: string | number): DurationResult {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? { ok: true, ms: Math.round(v) } : { ok: false, message: `${v} is not a number of milliseconds` };
  return parseDuration(v, null);
}

/** Checks a step list: non-empty, strictly increasing, each 0 < step ≤ 100. Returns a message or null. */
export function checkSteps(steps: readonly number[]): string | null {
  if (steps.length === 0) return 'steps must not be empty';
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    if (!Number.isFinite(s) || s <= 0 || s > 100) return `step ${s} is not within 0 (exclusive) and 100`;
    if (i > 0 && s <= steps[i - 1]) return `steps must be strictly increasing: ${steps[i - 1]} then ${s}`;
  }
  return null;
}

/**
 * The override a ramp step puts in force. The other sets share the rest in the proportions in force
 * when the ramp started (`base`: a split made before it), else in their file proportions.
 */
export function stepOverride(policy: HostnamePolicy, ramp: Pick<Ramp, 'set' | 'steps' | 'base'>, step: number, by: string, at: number): WeightOverride {
  const sets = ramp.base ? policy.sets.map((s) => ({ name: s.name, weight: ramp.base![s.name] ?? s.weight })) : policy.sets;
  return { fqdn: policy.fqdn, weights: rampWeights(sets, ramp.set, ramp.steps[step]), by, at };
}

/** Why a running ramp must halt now, or null: its hostname or set left the config, or a region of its set is down. */
export function haltReason(snap: Snapshot, ramp: Ramp): string | null {
  const policy = snap.steering.hostnames.get(ramp.fqdn);
  if (!policy) return `hostname ${ramp.fqdn} is no longer in the steering config`;
  const set = policy.sets.find((s) => s.name === ramp.set);
  if (!set) return `record set "${ramp.set}" is no longer in the steering config of ${ramp.fqdn}`;
  if (!ramp.haltOnUnhealthyRegions) return null;
  for (const region of set.regions) {
    const h = snap.regionHealth.get(region);
    if (h && !h.up) return `region ${region} down: ${h.reason}`;
  }
  return null;
}

/** What one controller decision writes, or null when nothing is due. Pure. */
export function nextRampState(snap: Snapshot, ramp: Ramp, now: number): { ramp: Ramp; override: WeightOverride | null; action: 'ramp.halt' | 'ramp.step' | 'ramp.done'; reason: string } | null {
  if (ramp.state !== 'running') return null;
  const halt = haltReason(snap, ramp);
  if (halt !== null) {
    return { ramp: { ...ramp, state: 'halted', haltReason: halt }, override: null, action: 'ramp.halt', reason: `halted at step ${ramp.step + 1}/${ramp.steps.length} (${ramp.steps[ramp.step]}%): ${halt}` };
  }
  if (now < ramp.nextAt) return null;
  const policy = snap.steering.hostnames.get(ramp.fqdn)!;
  const step = ramp.step + 1;
  const last = step >= ramp.steps.length - 1;
  const next: Ramp = { ...ramp, step, nextAt: now + ramp.everyMs, state: last ? 'done' : 'running' };
  return {
    ramp: next,
    override: stepOverride(policy, ramp, step, RAMP_ACTOR, now),
    action: last ? 'ramp.done' : 'ramp.step',
    reason: `step ${step + 1}/${ramp.steps.length}: ${ramp.set} at ${ramp.steps[step]}%${last ? ' (last step: ramp done)' : ''}`,
  };
}

export interface RampControllerOptions {
  store: FleetStore;
  snapshot(): Snapshot;
  instanceId: string;
  now?: () => number;
  tickMs?: number;
  log?: Logger;
}

export class RampController {
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> | null = null;
  private readonly tickMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: RampControllerOptions) {
    this.tickMs = opts.tickMs ?? DEFAULT_TICK_MS;
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => { void this.tick(); }, this.tickMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a tick in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.busy;
  }

  /** One round: take the lease, then step or halt each running ramp. Never throws; overlapping calls share one run. */
  tick(): Promise<void> {
    if (!this.busy) this.busy = this.run().finally(() => { this.busy = null; });
    return this.busy;
  }

  private async run(): Promise<void> {
    const { store, log } = this.opts;
    let leader: boolean;
    try {
      leader = await store.tryLease(RAMP_LEASE, this.opts.instanceId, 3 * this.tickMs);
    } catch (err) {
      log?.warn({ err }, 'ramp controller: cannot take the lease; trying again next tick');
      return;
    }
    if (!leader) return;
    for (const ramp of store.get('ramp').values()) {
      const at = store.version();
      const decision = nextRampState(this.opts.snapshot(), ramp, this.now());
      if (!decision) continue;
      // The ramp may have been stopped or replaced while the lease was taken: act on the current value only.
      if (store.get('ramp').get(ramp.fqdn) !== ramp) continue;
      const changes: Change[] = [{ ns: 'ramp', key: ramp.fqdn, value: decision.ramp }];
      if (decision.override) changes.push({ ns: 'weights', key: ramp.fqdn, value: decision.override });
      const before = { ramp, weights: store.get('weights').get(ramp.fqdn) ?? null };
      try {
        await store.write(changes, {
          actor: RAMP_ACTOR, action: decision.action, target: ramp.fqdn, reason: decision.reason,
          before, after: { ramp: decision.ramp, weights: decision.override ?? before.weights },
          detail: { instance: this.opts.instanceId }, // which instance held the lease and acted
        }, { expectVersion: at }); // decided on the state at `at`: another write since means decide again
        log?.info({ fqdn: ramp.fqdn, action: decision.action, step: decision.ramp.step }, `ramp ${ramp.fqdn}: ${decision.reason}`);
      } catch (err) {
        // Nothing changed; the decision is taken again next tick (on the new state after a conflict).
        if (err instanceof StoreConflictError) log?.info({ fqdn: ramp.fqdn }, 'ramp controller: the state moved meanwhile; deciding again next tick');
        else log?.warn({ err, fqdn: ramp.fqdn }, 'ramp controller: write failed; trying again next tick');
      }
    }
  }
}
