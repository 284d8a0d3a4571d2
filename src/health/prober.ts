// This instance's prober: schedules every region's checks, runs each result through rise/fall, and
// publishes its verdict to the fleet store after every probe (so the verdict's freshness is renewed
// every interval). Transitions are logged with their cause and counted. The fleet's view (quorum
// over every prober's verdicts) is quorum.ts's job, not this one's.

import type { Logger } from '../obs/logger.js';
import { checkTransitions, checkUp, endpointProbes, probeDuration, probesSkipped } from '../obs/metrics.js';
import type { FleetStore } from '../state/fleet-store.js';
import type { Verdict } from './verdict.js';
import type { HealthPlan } from './plan.js';
import { FRESH_INTERVALS } from './quorum.js';
import { LOCAL_FAILURES, type CheckConfig, type CheckId, type LocalFailure, type ProbeResult } from './check-config.js';
import { probeHttp } from './probe-http.js';
import { probeTcp } from './probe-tcp.js';
import { explainVerdict, initialState, next, type CheckState } from './rise-fall.js';
import { DEFAULT_CONCURRENCY, Scheduler, type Timers } from './scheduler.js';

/** One probe as this instance saw it. */
export interface RecentResult {
  at: number;
  ok: boolean;
  cause: string;
  durationMs: number;
  /** A failure of this prober's own: not judged, the check's state was left as it was. */
  local?: LocalFailure;
}

export interface LocalCheckStatus {
  check: CheckConfig;
  state: CheckState;
  /** Oldest first, at most `history` of them. */
  recent: readonly RecentResult[];
  /** Rounds skipped because the previous probe had not finished. */
  skipped: number;
}

export interface ProberOptions {
  /** This instance's name in verdicts (e.g. the host name); unique in the fleet. */
  proberId: string;
  store: Pick<FleetStore, 'publishVerdict'>;
  log: Logger;
  now?: () => number;
  /** Probes in flight at most. */
  concurrency?: number;
  timers?: Timers;
  random?: () => number;
  /** Results kept per check for the health report (default 10). */
  history?: number;
  /** Runs one probe; the real HTTP/TCP probers unless replaced (tests). */
  probe?: (check: CheckConfig, signal: AbortSignal) => Promise<ProbeResult>;
}

export const DEFAULT_HISTORY = 10;
/**
 * Probe slots are sized so that probes averaging this long still keep up with every check's rate
 * (10,000 endpoint checks at 5 s: 2,000 probes/s get 500 slots, enough while probes average under
 * a quarter of a second, as on a busy machine), never fewer than the configured
 * concurrency nor more than MAX_CONCURRENCY.
 */
export const PROBE_BUDGET_MS = 250;
export const MAX_CONCURRENCY = 1024;

interface Local {
  check: CheckConfig;
  state: CheckState;
  recent: RecentResult[];
  /** Probes in a row that failed locally (the verdict goes stale after FRESH_INTERVALS of them). */
  localStreak: number;
}

/** The network probe for a check. */
export function runProbe(check: CheckConfig, signal: AbortSignal): Promise<ProbeResult> {
  return check.type === 'http' ? probeHttp(check, signal) : probeTcp(check, signal);
}

export class Prober {
  private readonly scheduler: Scheduler;
  private readonly locals = new Map<CheckId, Local>();
  private readonly now: () => number;
  private readonly history: number;
  private readonly log: Logger;
  /** Set while verdicts cannot be published, so a store outage logs once, not once per probe. */
  private publishFailing = false;

  constructor(private readonly opts: ProberOptions) {
    this.now = opts.now ?? Date.now;
    this.history = Math.max(1, opts.history ?? DEFAULT_HISTORY);
    this.log = opts.log;
    this.scheduler = new Scheduler({
      run: opts.probe ?? runProbe,
      onResult: (check, result) => this.onResult(check, result),
      onSkip: (check) => {
        // Endpoint checks have no series of their own (there can be thousands): they share one.
        probesSkipped.inc({ ...(check.endpoint ? ENDPOINT_LABELS : { region: check.region, check: check.name }), reason: 'busy' });
        this.log.warn({ region: check.region, check: check.id }, 'probe skipped: the previous probe of this check has not finished');
      },
      concurrency: opts.concurrency,
      timers: opts.timers,
      random: opts.random,
    });
  }

  /**
   * Applies a (re)loaded config: new checks start, removed ones stop, unchanged ones keep their state.
   * Endpoint checks are probed once each, however many pools name them.
   */
  update(plan: Pick<HealthPlan, 'regions' | 'endpointChecks'>): void {
    const checks = [...[...plan.regions.values()].flat(), ...plan.endpointChecks.values()];
    const perSecond = checks.reduce((sum, c) => sum + 1000 / c.intervalMs, 0);
    this.scheduler.setConcurrency(Math.min(MAX_CONCURRENCY, Math.max(this.opts.concurrency ?? DEFAULT_CONCURRENCY, Math.ceil((perSecond * PROBE_BUDGET_MS) / 1000))));
    const { added, removed, kept } = this.scheduler.update(checks);
    const byId = new Map(checks.map((c) => [c.id, c]));
    for (const id of removed) {
      const old = this.locals.get(id);
      this.locals.delete(id);
      if (old) forgetSeries(old.check);
    }
    for (const id of kept) this.locals.get(id)!.check = byId.get(id)!;
    const now = this.now();
    for (const id of added) {
      const check = byId.get(id)!;
      const state = initialState(check, now);
      this.locals.set(id, { check, state, recent: [], localStreak: 0 });
      if (!check.endpoint) checkUp.set({ region: check.region, check: check.name }, state.up ? 1 : 0);
    }
  }

  stop(): void {
    this.scheduler.stop();
  }

  /** This instance's state of every check, by id (a copy). */
  localStates(): ReadonlyMap<CheckId, LocalCheckStatus> {
    const out = new Map<CheckId, LocalCheckStatus>();
    for (const [id, l] of this.locals) {
      out.set(id, { check: l.check, state: l.state, recent: l.recent.slice(), skipped: this.scheduler.skipped(id) });
    }
    return out;
  }

  private onResult(check: CheckConfig, result: ProbeResult): void {
    const local = this.locals.get(check.id);
    if (!local) return;
    if (result.local) {
      this.onLocalFailure(local, result, result.local);
      return;
    }
    if (local.localStreak > 0) {
      this.log.info({ region: check.region, check: check.id, after: local.localStreak }, `probes of ${check.id} run again on this instance`);
      local.localStreak = 0;
    }
    const at = this.now();
    const before = local.state;
    const after = next(before, result, check, at);
    local.state = after;
    local.recent.push({ at, ok: result.ok, cause: result.cause, durationMs: Math.round(result.durationMs * 10) / 10 });
    if (local.recent.length > this.history) local.recent.shift();

    const labels = check.endpoint ? ENDPOINT_LABELS : { region: check.region, check: check.name };
    probeDuration.observe(labels, result.durationMs / 1000);
    if (check.endpoint) endpointProbes.inc({ result: result.ok ? 'pass' : 'fail' });
    else checkUp.set(labels, after.up ? 1 : 0);
    if (after.up !== before.up) {
      const to = after.up ? 'up' : 'down';
      if (!check.endpoint) checkTransitions.inc({ ...labels, to });
      this.log.info({ region: check.region, check: check.id, from: before.up ? 'up' : 'down', to, cause: result.cause }, `check ${check.id} is ${to}`);
    }

    this.publish(check, after, at);
  }

  /**
   * A probe that failed for a reason of this prober's own (out of descriptors, a stalled event loop)
   * says nothing about the target: the check keeps its state and no verdict is published. If it
   * persists, this instance's verdict goes stale and it stops voting, rather than voting down.
   */
  private onLocalFailure(local: Local, result: ProbeResult, reason: LocalFailure): void {
    const { check } = local;
    probesSkipped.inc({ region: check.region, check: check.name, reason });
    local.recent.push({ at: this.now(), ok: false, cause: `not judged: ${result.cause} (this prober's own failure)`, durationMs: Math.round(result.durationMs * 10) / 10, local: reason });
    if (local.recent.length > this.history) local.recent.shift();
    local.localStreak++;
    const fields = { region: check.region, check: check.id, reason, cause: result.cause };
    if (local.localStreak === 1) {
      this.log.warn(fields, `probe of ${check.id} failed on this instance, not at the target: the check keeps its state`);
    } else if (local.localStreak === FRESH_INTERVALS) {
      this.log.error({ ...fields, probes: local.localStreak }, `probes of ${check.id} keep failing on this instance: its verdict goes stale and it stops voting until they run again`);
    }
  }

  private publish(check: CheckConfig, after: CheckState, at: number): void {
    const verdict: Verdict = {
      checkId: check.id, prober: this.opts.proberId, up: after.up,
      cause: explainVerdict(after, check), at, intervalMs: check.intervalMs,
    };
    // A store that throws instead of rejecting is treated the same way.
    Promise.resolve().then(() => this.opts.store.publishVerdict(verdict)).then(
      () => {
        if (this.publishFailing) this.log.info('health verdicts are being published again');
        this.publishFailing = false;
      },
      (e: unknown) => {
        if (!this.publishFailing) this.log.warn({ err: (e as Error)?.message ?? String(e) }, 'cannot publish health verdicts; other instances see this one as stale');
        this.publishFailing = true;
      },
    );
  }
}

/** The one series every endpoint check's probe durations and skips go to (the fleet view has per-endpoint gauges). */
const ENDPOINT_LABELS = { region: '', check: 'endpoint' } as const;

function forgetSeries(check: CheckConfig): void {
  if (check.endpoint) return;
  const labels = { region: check.region, check: check.name };
  checkUp.remove(labels);
  probeDuration.remove(labels);
  for (const reason of ['busy', ...LOCAL_FAILURES]) probesSkipped.remove({ ...labels, reason });
  checkTransitions.remove({ ...labels, to: 'up' });
  checkTransitions.remove({ ...labels, to: 'down' });
}
