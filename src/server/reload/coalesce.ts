// One run at a time: a call while a run is in progress shares the next run (started once the
// current one ends), so a burst of SIGHUPs costs at most two reloads and none is lost.

export function coalesce<T>(run: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  let queued: Promise<T> | null = null;
  const start = (): Promise<T> => {
    running = run().finally(() => { running = null; });
    return running;
  };
  return () => {
    if (!running) return start();
    queued ??= running.then(() => undefined, () => undefined).then(() => { queued = null; return start(); });
    return queued;
  };
}
