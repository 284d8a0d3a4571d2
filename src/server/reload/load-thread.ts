// The reload thread: reads, parses and validates the zones folder (zones, policies, the tenants
// file) away from the thread that answers queries, and hands back a result the serving side builds
// from in slices. It lives as long as the server, so its cache skips files whose content is unchanged.

import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { loadConfig } from '../../config/load-config.js';
import { ZoneFileCache } from '../../zone/load.js';
import type { LoadRequest, LoadResponse, PreparedZone } from './protocol.js';
import { encodeZone, transferables } from './zone-codec.js';

const cache = new ZoneFileCache();

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
      const steered = (steeredByZone.get(z.origin) ?? []).sort().join(' ');
      const key = createHash('sha256').update(`${z.hash ?? ''}\n${z.origin}\n${z.file}\n${steered}`).digest('hex');
      const p: PreparedZone = { origin: z.origin, file: z.file, hash: z.hash ?? '', key, records: z.records.length };
      if (!have.has(key)) {
        p.encoded = encodeZone(z);
        transfer.push(...transferables(p.encoded));
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
