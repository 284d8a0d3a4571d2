// A real fault for a DNS worker thread, injected from outside: preloaded into every thread with
// NODE_OPTIONS=--import (see workerFaultEnv in workers.ts). A thread that finds the file
// `crash-<its index>` in REGIONDNS_TEST_FAULT_DIR removes it and throws from a timer: an uncaught
// error, which ends that thread and nothing else, as a bug in a worker would.
import fs from 'node:fs';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';

const index = process.env.REGIONDNS_WORKER_INDEX;
const dir = process.env.REGIONDNS_TEST_FAULT_DIR;
if (!isMainThread && index !== undefined && dir) {
  const file = path.join(dir, `crash-${index}`);
  const timer = setInterval(() => {
    try {
      fs.unlinkSync(file);
    } catch {
      return; // not asked to fail
    }
    throw new Error(`fault injected into worker ${index}`);
  }, 50);
  timer.unref();
}
