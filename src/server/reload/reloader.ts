// Reloads of the zones folder for one process: prepare aside (the reload process), then
// hand the result to `apply`, which swaps it in one step. A failed reload keeps the old snapshot,
// logs every problem as file:line, and is what /readyz shows until the next reload.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { formatConfigError, type ConfigError } from '../../config/errors.js';
import type { Logger } from '../../obs/logger.js';
import { zoneFilesUnchanged, zoneReloadLastFailure, zoneReloadLastSuccess, zoneReloads } from '../../obs/metrics.js';
import { coalesce } from './coalesce.js';
import { ConfigPreparer, type PreparedConfig, type PrepareOptions, type ZoneSummary } from './prepare.js';
import { OtherConfigError } from '../../config/error-codes.js';

/** Errors listed in /readyz (all of them go to the log). */
const LISTED_ERRORS = 20;

export interface ReloadReport {
  /** ISO time the reload ended. */
  at: string;
  ok: boolean;
  durationMs: number;
  /** The longest the serving thread's event loop was held up while this reload ran (what it cost queries, at worst). */
  eventLoopDelayMaxMs: number;
  /** file:line: message [code], the first few. */
  errors: string[];
  errorCount: number;
  /** The zones in force after this reload (the previous ones when it failed). */
  zones: ZoneSummary[];
  unchanged: string[];
}

export interface ReloadStatus {
  last: ReloadReport | null;
  /** ISO time of the last successful load (start-up counts). */
  lastSuccessAt: string | null;
}

export interface ReloaderOptions extends PrepareOptions {
  log: Logger;
}

export class ConfigLoadError extends Error {
  constructor(readonly errors: string[]) {
    super(`the zones folder has errors:\n${errors.join('\n')}`);
  }
}

export class Reloader {
  private readonly preparer: ConfigPreparer;
  private last: ReloadReport | null = null;
  private lastSuccessAt: string | null = null;
  private zones: ZoneSummary[] = [];
  /** Runs one reload at a time; SIGHUPs during one share the next. */
  readonly reload: () => Promise<{ ok: boolean; errors: string[] }>;

  constructor(private readonly opts: ReloaderOptions, private readonly apply: (c: PreparedConfig) => void) {
    this.preparer = new ConfigPreparer(opts);
    this.reload = coalesce(() => this.run());
  }

  /** The first load, at start-up: throws ConfigLoadError when the folder has errors. */
  async initial(): Promise<PreparedConfig> {
    const r = await this.preparer.prepare();
    if (!r.ok) throw new ConfigLoadError(r.errors.map(formatConfigError));
    this.succeeded(r.config);
    return r.config;
  }

  status(): ReloadStatus {
    return { last: this.last, lastSuccessAt: this.lastSuccessAt };
  }

  private succeeded(c: PreparedConfig): void {
    this.zones = c.summary;
    this.lastSuccessAt = new Date().toISOString();
    zoneReloadLastSuccess.set(Date.now() / 1000);
    zoneFilesUnchanged.inc(c.unchanged.length);
  }

  private async run(): Promise<{ ok: boolean; errors: string[] }> {
    const t0 = performance.now();
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const timing = () => {
      delay.disable();
      return { durationMs: Math.round(performance.now() - t0), eventLoopDelayMaxMs: Math.round(delay.max / 1e6) };
    };
    const r = await this.preparer.prepare();
    if (!r.ok) return this.failed(r.errors, timing());
    try {
      this.apply(r.config);
    } catch (err) {
      return this.failed([{ code: OtherConfigError.RELOAD_APPLY, file: this.opts.zonesDir, line: 0, message: `the new configuration could not be put in force: ${(err as Error).message}` }], timing());
    }
    const t = timing();
    this.succeeded(r.config);
    zoneReloads.labels('ok').inc();
    this.last = { at: new Date().toISOString(), ok: true, ...t, errors: [], errorCount: 0, zones: this.zones, unchanged: r.config.unchanged };
    this.opts.log.info({ ...t, loadMs: Math.round(r.config.loadMs) }, 'reload done');
    return { ok: true, errors: [] };
  }

  private failed(problems: ConfigError[], t: { durationMs: number; eventLoopDelayMaxMs: number }): { ok: false; errors: string[] } {
    const errors = problems.map(formatConfigError);
    for (const e of errors) this.opts.log.error({ error: e }, 'reload failed: keeping the previous zones');
    zoneReloads.labels('error').inc();
    zoneReloadLastFailure.set(Date.now() / 1000);
    this.last = { at: new Date().toISOString(), ok: false, ...t, errors: errors.slice(0, LISTED_ERRORS), errorCount: errors.length, zones: this.zones, unchanged: [] };
    return { ok: false, errors };
  }

  close(): Promise<void> {
    return this.preparer.close();
  }
}
