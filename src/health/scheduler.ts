// Runs every check once per interval (± jitter) with a bound on probes in flight. A check never has
// two probes at once: when it comes due while its previous probe is still queued or running, that
// round is skipped and counted. `update` applies a reload: removed checks stop (a probe in flight is
// aborted and its result dropped), new ones start, unchanged ones keep their timer.

import { sameCheck, type CheckConfig, type CheckId, type ProbeResult } from './check-config.js';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export const DEFAULT_CONCURRENCY = 32;

export interface SchedulerOptions {
  /** Runs one probe; should settle soon after `signal` aborts. A rejection counts as a failed probe. */
  run: (check: CheckConfig, signal: AbortSignal) => Promise<ProbeResult>;
  /** Called with each probe's result, unless the check was removed or replaced meanwhile. */
  onResult: (check: CheckConfig, result: ProbeResult) => void;
  /** A round came due while the check's previous probe was still queued or running. */
  onSkip?: (check: CheckConfig) => void;
  /** Probes in flight at most (default 32); the rest wait in a queue, first due first run. */
  concurrency?: number;
  timers?: Timers;
  /** Uniform in [0, 1): the jitter's source. */
  random?: () => number;
}

export interface UpdateSummary {
  added: CheckId[];
  removed: CheckId[];
  kept: CheckId[];
}

interface Entry {
  check: CheckConfig;
  timer: unknown;
  phase: 'idle' | 'queued' | 'running';
  controller: AbortController | null;
  removed: boolean;
  skipped: number;
}

export class Scheduler {
  private readonly entries = new Map<CheckId, Entry>();
  private readonly queue: Entry[] = [];
  private active = 0;
  private concurrency: number;
  private readonly timers: Timers;
  private readonly random: () => number;

  constructor(private readonly opts: SchedulerOptions) {
    this.concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
    this.timers = opts.timers ?? realTimers;
    this.random = opts.random ?? Math.random;
  }

  /** Replaces the set of checks; a check with the same id and the same probe settings keeps running undisturbed. */
  update(checks: readonly CheckConfig[]): UpdateSummary {
    const wanted = new Map(checks.map((c) => [c.id, c]));
    const summary: UpdateSummary = { added: [], removed: [], kept: [] };
    for (const [id, e] of this.entries) {
      const c = wanted.get(id);
      if (c && sameCheck(c, e.check)) continue;
      this.remove(e);
      if (!c) summary.removed.push(id);
    }
    for (const c of checks) {
      const e = this.entries.get(c.id);
      if (e) {
        e.check = c; // same probe; file and line may have moved
        summary.kept.push(c.id);
        continue;
      }
      const entry: Entry = { check: c, timer: null, phase: 'idle', controller: null, removed: false, skipped: 0 };
      this.entries.set(c.id, entry);
      // The first round comes soon, spread over a jitter's width so checks loaded together do not fire together.
      this.arm(entry, this.random() * c.intervalMs * c.jitter);
      summary.added.push(c.id);
    }
    return summary;
  }

  stop(): void {
    for (const e of this.entries.values()) this.remove(e);
  }

  /** Changes the bound on probes in flight (a reload with many more checks needs more slots). */
  setConcurrency(n: number): void {
    this.concurrency = Math.max(1, n);
    this.pump();
  }

  /** Probes running now, and waiting for a slot. */
  load(): { running: number; queued: number } {
    return { running: this.active, queued: this.queue.length };
  }

  /** Rounds skipped for `id` because its previous probe had not finished. */
  skipped(id: CheckId): number {
    return this.entries.get(id)?.skipped ?? 0;
  }

  private remove(e: Entry): void {
    e.removed = true;
    this.timers.clearTimeout(e.timer);
    e.controller?.abort();
    const i = this.queue.indexOf(e);
    if (i >= 0) this.queue.splice(i, 1);
    if (this.entries.get(e.check.id) === e) this.entries.delete(e.check.id);
  }

  private arm(e: Entry, delayMs: number): void {
    e.timer = this.timers.setTimeout(() => this.due(e), delayMs);
  }

  private due(e: Entry): void {
    if (e.removed) return;
    const { intervalMs, jitter } = e.check;
    this.arm(e, intervalMs * (1 + jitter * (2 * this.random() - 1)));
    if (e.phase !== 'idle') {
      e.skipped++;
      this.opts.onSkip?.(e.check);
      return;
    }
    e.phase = 'queued';
    this.queue.push(e);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) this.start(this.queue.shift()!);
  }

  private start(e: Entry): void {
    e.phase = 'running';
    this.active++;
    const controller = new AbortController();
    e.controller = controller;
    const check = e.check;
    let run: Promise<ProbeResult>;
    try {
      run = this.opts.run(check, controller.signal);
    } catch (err) {
      run = Promise.reject(err);
    }
    run
      .catch((err: unknown): ProbeResult => ({ ok: false, cause: `error: ${(err as Error)?.message ?? String(err)}`, durationMs: 0 }))
      .then((result) => {
        this.active--;
        e.phase = 'idle';
        e.controller = null;
        this.pump();
        if (!e.removed && !controller.signal.aborted) this.opts.onResult(check, result);
      });
  }
}
