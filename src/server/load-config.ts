// Loads everything a zones folder holds (zone files, regions.yaml, *.steer.yaml) into values,
// with every problem as a ConfigError naming file:line. Nothing here touches the running server.

import fs from 'node:fs';
import { RRType } from '../dns/constants.js';
import { attachKeys, defaultKeysDir } from '../dnssec/load.js';
import { parseLatencyTable, type LatencyTable } from '../geo/latency-table.js';
import { loadPolicy } from '../health/load-plan.js';
import { emptyHealthPlan, type HealthPlan } from '../health/plan.js';
import type { SteeringConfig } from '../steering/policy.js';
import { loadZoneDir, type LoadedZone, type ZoneFileCache } from '../zone/load.js';
import type { ConfigError } from '../config/errors.js';
import { readConfigFile, setMaxConfigFileBytes } from '../config/read-file.js';
import { LatencyError, OtherConfigError } from '../config/error-codes.js';

export interface LoadedConfig {
  zones: LoadedZone[];
  steering: SteeringConfig;
  /** The health checks written beside the steering policies. */
  health: HealthPlan;
  latencyTable: LatencyTable | null;
  errors: ConfigError[];
  /** Not fatal: the zone loads (e.g. TTLs of one RRset evened out, RFC 2181 §5.2). */
  warnings: ConfigError[];
  /** Files not parsed again: their content was unchanged since the last load with the same cache. */
  unchanged: string[];
}

export interface LoadConfigOptions {
  latencyTablePath?: string | null;
  /** DNSSEC keys folder (default: keys/ in the zones folder). */
  keysDir?: string | null;
  /**
   * Give signed zones their signer and sign their static RRsets (default true). The reload process
   * adds the key records only: signers live on the serving side (src/server/reload/prepare.ts).
   */
  signing?: boolean;
  /** Keeps what the last load parsed, so unchanged zone files are skipped (see ZoneFileCache). */
  cache?: ZoneFileCache;
  /** Bound on the size of any one file read (`--max-file-size`). */
  maxFileBytes?: number;
}

export function loadConfig(zonesDir: string, opts: LoadConfigOptions = {}): LoadedConfig {
  if (opts.maxFileBytes !== undefined) setMaxConfigFileBytes(opts.maxFileBytes);
  if (!fs.existsSync(zonesDir) || !fs.statSync(zonesDir).isDirectory()) {
    return { zones: [], steering: { regions: new Map(), hostnames: new Map() }, health: emptyHealthPlan(), latencyTable: null, warnings: [], unchanged: [], errors: [{ code: OtherConfigError.ZONES_DIR, file: zonesDir, line: 0, message: 'zones folder not found: pass --zones DIR' }] };
  }
  const { zones, errors, warnings, unchanged, failedOrigins } = loadZoneDir(zonesDir, opts.cache);
  attachKeys(zones, opts.keysDir ?? defaultKeysDir(zonesDir), errors, {}, Date.now(), opts.signing !== false);
  const addressOwners = new Set<string>();
  for (const z of zones) for (const r of z.records) if (r.type === RRType.A || r.type === RRType.AAAA) addressOwners.add(r.owner);
  const policy = loadPolicy(zonesDir, zones.map((z) => z.origin), (fqdn) => addressOwners.has(fqdn), failedOrigins);
  errors.push(...policy.errors);
  unchanged.push(...(policy.unchanged ?? []));
  let latencyTable: LatencyTable | null = null;
  if (opts.latencyTablePath) {
    try {
      const parsed = parseLatencyTable(readConfigFile(opts.latencyTablePath), opts.latencyTablePath);
      latencyTable = parsed.table;
      errors.push(...parsed.errors);
    } catch (err) {
      errors.push({ code: LatencyError.TABLE, file: opts.latencyTablePath, line: 0, message: `cannot read the latency table: ${(err as Error).message}` });
    }
  }
  if (zones.length === 0 && errors.length === 0) {
    errors.push({ code: OtherConfigError.NO_ZONES, file: zonesDir, line: 0, message: 'no zone files (*.zone) in the zones folder' });
  }
  return { zones, steering: policy.steering, health: policy.health, latencyTable, errors, warnings, unchanged };
}
