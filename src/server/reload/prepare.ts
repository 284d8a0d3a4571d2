// Prepares a new configuration aside while the old one serves: the reload process reads, validates
// and builds (zones in their flat form); this side wraps what it sent, and keeps the zones whose
// content (and steered names) did not change. Nothing is swapped here: the caller swaps the result
// in one step, or keeps the old snapshot when it failed.

import type { ConfigError } from '../../config/errors.js';
import { maxConfigFileBytes, readConfigFile } from '../../config/read-file.js';
import { parseLatencyTable, type LatencyTable } from '../../geo/latency-table.js';
import type { HealthPlan } from '../../health/plan.js';
import type { SteeringConfig } from '../../steering/policy.js';
import { TenantTable } from '../../steering/tenant-table.js';
import { defaultKeysDir, zoneSigner } from '../../dnssec/load.js';
import { flatZone } from '../../zone/flat-zone.js';
import type { Zone } from '../../zone/tree.js';
import { ConfigProcess } from './config-process.js';
import { readFlatZone } from './flat-file.js';
import type { LoadResponse, PreparedZone } from './protocol.js';
import { LatencyError, OtherConfigError } from '../../config/error-codes.js';

export interface ZoneSummary {
  origin: string;
  file: string;
  records: number;
  serial: number;
  /** Content hash of the file and its $INCLUDEs (sha256, hex). */
  hash: string;
}

export interface PreparedConfig {
  zones: Zone[];
  summary: ZoneSummary[];
  steering: SteeringConfig;
  /** Plain data, as the reload process made it: the prober takes the checks, snapshots the ids. */
  health: HealthPlan;
  latencyTable: LatencyTable | null;
  warnings: ConfigError[];
  /** Files skipped because their content was unchanged. */
  unchanged: string[];
  loadMs: number;
  buildMs: number;
}

export type PrepareResult = { ok: true; config: PreparedConfig } | { ok: false; errors: ConfigError[] };

export interface PrepareOptions {
  zonesDir: string;
  /** DNSSEC keys folder (default: keys/ in the zones folder). */
  keysDir?: string | null;
  latencyTablePath?: string | null;
  maxFileBytes?: number;
}

export class ConfigPreparer {
  private readonly thread = new ConfigProcess();
  /** The built zones of the last good result, by key. */
  private built = new Map<string, Zone>();

  constructor(private readonly opts: PrepareOptions) {}

  async prepare(): Promise<PrepareResult> {
    let res: LoadResponse;
    try {
      res = await this.thread.load({ zonesDir: this.opts.zonesDir, keysDir: this.opts.keysDir ?? null, maxFileBytes: this.opts.maxFileBytes ?? maxConfigFileBytes(), have: [...this.built.keys()] });
    } catch (err) {
      return { ok: false, errors: [crashError(this.opts.zonesDir, (err as Error).message)] };
    }
    if (res.crash) return { ok: false, errors: [crashError(this.opts.zonesDir, res.crash)] };
    const errors = [...res.errors];
    const latencyTable = this.latencyTable(errors);
    if (errors.length) return { ok: false, errors };

    const t0 = performance.now();
    const { tenants: _tenants, ...sent } = res.steering;
    const steering: SteeringConfig = {
      ...sent, // regions and hostnames: plain data, as the reload process made them
      ...(res.steering.tenants ? { tenants: { file: res.steering.tenants.file, entries: TenantTable.fromParts(res.steering.tenants.entries) } } : {}),
    };
    const built = new Map<string, Zone>();
    const zones: Zone[] = [];
    const keysDir = this.opts.keysDir ?? defaultKeysDir(this.opts.zonesDir);
    for (const p of res.zones) {
      const zone = this.built.get(p.key) ?? (await build(p));
      // Signers hold private keys and signature caches: they live here, never in the reload process.
      // A zone with keys signs its RRsets on first use (and keeps them while the keys stay the same).
      zone.dnssec = zoneSigner(zone.origin, keysDir, errors) ?? undefined;
      built.set(p.key, zone);
      zones.push(zone);
    }
    if (errors.length) return { ok: false, errors };
    this.built = built;
    return {
      ok: true,
      config: {
        zones,
        summary: res.zones.map((p, i) => ({ origin: p.origin, file: p.file, records: p.records, serial: soaSerial(zones[i]), hash: p.hash })),
        steering,
        health: res.health,
        latencyTable,
        warnings: res.warnings,
        unchanged: res.unchanged,
        loadMs: res.loadMs,
        buildMs: performance.now() - t0,
      },
    };
  }

  /** The latency table (`--latency-table`, a small CSV outside the zones folder) is read here. */
  private latencyTable(errors: ConfigError[]): LatencyTable | null {
    const file = this.opts.latencyTablePath;
    if (!file) return null;
    try {
      const parsed = parseLatencyTable(readConfigFile(file), file);
      errors.push(...parsed.errors);
      return parsed.table;
    } catch (err) {
      errors.push({ code: LatencyError.TABLE, file, line: 0, message: `cannot read the latency table: ${(err as Error).message}` });
      return null;
    }
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}

async function build(p: PreparedZone): Promise<Zone> {
  if (!p.data) throw new Error(`zone ${p.origin} was not sent and is not held`);
  return flatZone(await readFlatZone(p.data));
}

function crashError(dir: string, why: string): ConfigError {
  return { code: OtherConfigError.RELOAD_CRASH, file: dir, line: 0, message: `loading the zones folder failed: ${why}` };
}

/** SOA SERIAL (RFC 1035 §3.3.13): the first 32 bits after MNAME and RNAME, which are uncompressed in zone rdata. */
export function soaSerial(z: Zone): number {
  const r = z.soa.rdata;
  let o = 0;
  for (let names = 0; names < 2; names++) {
    while (o < r.length && r[o] !== 0) o += r[o] + 1;
    o++;
  }
  return o + 4 <= r.length ? ((r[o] << 24) | (r[o + 1] << 16) | (r[o + 2] << 8) | r[o + 3]) >>> 0 : 0;
}

