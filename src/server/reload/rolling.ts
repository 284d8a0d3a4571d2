// A multi-core reload: the primary prepares and validates first; only a good configuration goes to
// the workers, and to one worker at a time, each answering when its new snapshot is in force. A
// worker wraps the primary's shared arrays (no parsing) and keeps answering meanwhile; one at a
// time keeps a bad surprise in one worker (a DNSSEC key it cannot read) from reaching all.

/** How long one worker may take before the next one is told anyway. */
const WORKER_RELOAD_TIMEOUT_MS = 300_000;

export interface RollingTarget {
  id: number;
  /** Sends the reload message; false when the worker is gone. */
  send(): boolean;
}

export class RollingReload {
  private readonly waiting = new Map<number, (ok: boolean) => void>();

  /** A worker said its reload ended. */
  done(workerId: number, ok: boolean): void {
    const w = this.waiting.get(workerId);
    this.waiting.delete(workerId);
    w?.(ok);
  }

  /** A worker died: do not wait for it. */
  gone(workerId: number): void {
    this.done(workerId, false);
  }

  async run(workers: RollingTarget[]): Promise<{ ok: number; failed: number }> {
    let ok = 0;
    let failed = 0;
    for (const w of workers) {
      const result = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => { this.waiting.delete(w.id); resolve(false); }, WORKER_RELOAD_TIMEOUT_MS);
        timer.unref();
        this.waiting.set(w.id, (v) => { clearTimeout(timer); resolve(v); });
      });
      if (!w.send()) this.gone(w.id);
      if (await result) ok++;
      else failed++;
    }
    return { ok, failed };
  }
}
