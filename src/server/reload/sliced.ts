// Runs a long job on the serving thread in slices of a few milliseconds, yielding to the event loop
// between them (setImmediate runs after pending I/O), so queries keep being answered while it runs.

/** Longest a slice runs before the event loop gets a turn. */
export const SLICE_MS = 4;

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Calls `step()` until it returns true, yielding every SLICE_MS. */
export async function runSliced(step: () => boolean): Promise<void> {
  for (;;) {
    const until = performance.now() + SLICE_MS;
    do {
      if (step()) return;
    } while (performance.now() < until);
    await turn();
  }
}
