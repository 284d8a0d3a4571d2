// Real faults for a DNS worker thread, injected from outside: preloaded into every thread with
// NODE_OPTIONS=--import (see workerFaultEnv in workers.ts). A thread that finds, in
// REGIONDNS_TEST_FAULT_DIR, the file
// - `crash-<its index>` removes it and throws from a timer: an uncaught error, which ends that
//   thread and nothing else, as a bug in a worker would;
// - `stall-<its index>` removes it and loops forever: its event loop is stuck, as with a bug that
//   never returns, and only the primary's heartbeat can notice.
import fs from 'node:fs';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';

const index = process.env.REGIONDNS_WORKER_INDEX;
const dir = process.env.REGIONDNS_TEST_FAULT_DIR;
if (!isMainThread && index !== undefined && dir) {
  const asked = (fault) => {
    try {
      fs.unlinkSync(path.join(dir, `${fault}-${index}`));
      return true;
    } catch {
      return false;
    }
  };
  const timer = setInterval(() => {
    if (asked('crash')) throw new Error(`fault injected into worker ${index}`);
    if (asked('stall')) for (;;);
  }, 50);
  timer.unref();
}
