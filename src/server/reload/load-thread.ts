// The reload thread: reads, parses and validates the zones folder (zones, policies, the tenants
// file) away from the thread that answers queries, and builds each zone in its flat form
// (src/zone/flat-zone.ts), which the serving side puts in force as it is. It lives as long as the
// server, so its cache skips files whose content is unchanged.

import { createHash } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { loadConfig } from '../../config/load-config.js';
import { encodeFlatZone, flatZoneBuffers } from '../../zone/flat-zone.js';
import { ZoneFileCache } from '../../zone/load.js';
import type { LoadRequest, LoadResponse, PreparedZone } from './protocol.js';

const cache = new ZoneFileCache();

// The lowest CPU priority for this thread alone (Linux: setpriority on a thread id applies to that
// thread): on a busy machine the thread that answers queries runs first, a reload just takes longer.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, 19);
} catch {
  // Not Linux: the reload thread runs at the process's priority.
}

function handle(req: LoadRequest): { res: LoadResponse; transfer: ArrayBuffer[] } {
  const t0 = performance.now();
  const cfg = loadConfig(req.zonesDir, { cache, maxFileBytes: req.maxFileBytes });
  const have = new Set(req.have);
  const steeredByZone = new Map<string, string[]>();
  for (const p of cfg.steering.hostnames.values()) {
    const list = steeredByZone.get(p.zone) ?? [];
    list.push(p.fqdn);
    steeredByZone.set(p.zone, list);
  }
  const transfer: ArrayBuffer[] = [];
  const zones: PreparedZone[] = [];
  // A failed load is not built: no zone is sent.
  if (cfg.errors.length === 0) {
    for (const z of cfg.zones) {
      const steered = (steeredByZone.get(z.origin) ?? []).sort();
      const key = createHash('sha256').update(`${z.hash ?? ''}\n${z.origin}\n${z.file}\n${steered.join(' ')}`).digest('hex');
      const p: PreparedZone = { origin: z.origin, file: z.file, hash: z.hash ?? '', key, records: z.records.length };
      if (!have.has(key)) {
        p.data = encodeFlatZone(z.origin, z.file, z.records, steered);
        transfer.push(...flatZoneBuffers(p.data));
      }
      zones.push(p);
    }
  }
  const { tenants, ...rest } = cfg.steering;
  const res: LoadResponse = {
    id: req.id,
    zones,
    steering: { ...rest, ...(tenants ? { tenants: { file: tenants.file, entries: tenants.entries.toParts() } } : {}) },
    errors: cfg.errors,
    warnings: cfg.warnings,
    unchanged: cfg.unchanged,
    loadMs: performance.now() - t0,
  };
  return { res, transfer };
}

parentPort?.on('message', (req: LoadRequest) => {
  let out: { res: LoadResponse; transfer: ArrayBuffer[] };
  try {
    out = handle(req);
  } catch (err) {
    out = {
      res: { id: req.id, zones: [], steering: { regions: new Map(), hostnames: new Map() }, errors: [], warnings: [], unchanged: [], loadMs: 0, crash: (err as Error).stack ?? String(err) },
      transfer: [],
    };
  }
  parentPort?.postMessage(out.res, out.transfer);
});
