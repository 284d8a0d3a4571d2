// The reload process: reads, parses and validates the zones folder (zones, policies, the tenants
// file) apart from the process that answers queries, at the lowest CPU priority, and builds each
// zone in its flat form (src/zone/flat-zone.ts), handed over as a file the serving side takes as it
// is. A process, not a thread: its allocations and collections (a million records make millions of
// objects) share no heap, thread pool or address space with the serving thread, which measurably
// held it up from a thread. It lives as long as the server, so its cache skips unchanged files.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { emptyHealthPlan } from '../../health/plan.js';
import { loadConfig } from '../load-config.js';
import { CDNSKEY, CDS, DNSKEY } from '../../dnssec/nsec.js';
import { encodeFlatZone } from '../../zone/flat-zone.js';
import { ZoneFileCache } from '../../zone/load.js';
import { writeFlatZone } from './flat-file.js';
import type { LoadRequest, LoadResponse, PreparedZone } from './protocol.js';

const cache = new ZoneFileCache();
/** Where built zones wait for the serving side (which removes each file once read). */
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-reload-'));
process.once('exit', () => fs.rmSync(outDir, { recursive: true, force: true }));

function handle(req: LoadRequest): LoadResponse {
  const t0 = performance.now();
  // Key records (DNSKEY, CDS, CDNSKEY) are added here; the signer is the serving side's (prepare.ts).
  const cfg = loadConfig(req.zonesDir, { cache, maxFileBytes: req.maxFileBytes, keysDir: req.keysDir, signing: false });
  const have = new Set(req.have);
  const steeredByZone = new Map<string, string[]>();
  for (const p of cfg.steering.hostnames.values()) {
    const list = steeredByZone.get(p.zone) ?? [];
    list.push(p.fqdn);
    steeredByZone.set(p.zone, list);
  }
  const zones: PreparedZone[] = [];
  // A failed load is not built: no zone is sent.
  if (cfg.errors.length === 0) {
    cfg.zones.forEach((z, i) => {
      const steered = (steeredByZone.get(z.origin) ?? []).sort();
      // The key records count too: new keys with an unchanged zone file are a new zone.
      const keyRecords = createHash('sha256');
      for (const r of z.records) if (r.type === DNSKEY || r.type === CDS || r.type === CDNSKEY) keyRecords.update(r.rdata);
      const key = createHash('sha256').update(`${z.hash ?? ''}\n${z.origin}\n${z.file}\n${steered.join(' ')}\n${keyRecords.digest('hex')}`).digest('hex');
      const p: PreparedZone = { origin: z.origin, file: z.file, hash: z.hash ?? '', key, records: z.records.length };
      if (!have.has(key)) p.data = writeFlatZone(encodeFlatZone(z.origin, z.file, z.records, steered), path.join(outDir, `${req.id}-${i}.zone.bin`));
      zones.push(p);
    });
  }
  const { tenants, ...rest } = cfg.steering;
  return {
    id: req.id,
    zones,
    steering: { ...rest, ...(tenants ? { tenants: { file: tenants.file, entries: tenants.entries.toParts() } } : {}) },
    health: cfg.health,
    errors: cfg.errors,
    warnings: cfg.warnings,
    unchanged: cfg.unchanged,
    loadMs: performance.now() - t0,
  };
}

process.on('message', (req: LoadRequest) => {
  let res: LoadResponse;
  try {
    res = handle(req);
  } catch (err) {
    res = { id: req.id, zones: [], steering: { regions: new Map(), hostnames: new Map() }, health: emptyHealthPlan(), errors: [], warnings: [], unchanged: [], loadMs: 0, crash: (err as Error).stack ?? String(err) };
  }
  process.send?.(res);
});
// The serving process went away: nothing left to load for.
process.once('disconnect', () => process.exit(0));
