// Prepares a new configuration aside while the old one serves: the reload process reads, validates
// and builds (zones in their flat form); this side reads what it sent into shared memory
// (SharedConfig), wraps it, and keeps the zones whose content (and steered names) did not change.
// A DNS worker thread wraps the same SharedConfig (ConfigBuilder) without loading anything itself.
// Nothing is swapped here: the caller swaps the result in one step, or keeps the old snapshot when it failed.

import type { ConfigError } from '../../config/errors.js';
import { maxConfigFileBytes, readConfigFile } from '../../config/read-file.js';
import { parseLatencyTable, type LatencyTable } from '../../geo/latency-table.js';
import type { HealthPlan } from '../../health/plan.js';
import type { SteeringConfig } from '../../steering/policy.js';
import { TenantTable, type TenantTableParts } from '../../steering/tenant-table.js';
import { defaultKeysDir, zoneSigner } from '../../dnssec/load.js';
import { flatZone, type FlatZoneData } from '../../zone/flat-zone.js';
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
  /** The same configuration as another thread takes it (a DNS worker): see SharedConfig. */
  shared: SharedConfig;
}

export type PrepareResult = { ok: true; config: PreparedConfig } | { ok: false; errors: ConfigError[] };

/**
 * A validated configuration as it crosses to another thread: the zones' and the tenants file's
 * arrays in shared memory (the thread takes views of them, no copy), the rest plain data. The DNS
 * worker threads put in force exactly what the primary validated, without reading a file again.
 */
export interface SharedConfig {
  zones: SharedZone[];
  steering: LoadResponse['steering'];
  health: HealthPlan;
  /** The latency table's text as read when the configuration was loaded. */
  latencyTable: { file: string; text: string } | null;
  warnings: ConfigError[];
  unchanged: string[];
  loadMs: number;
}

export interface SharedZone extends Omit<PreparedZone, 'data'> {
  data: FlatZoneData;
}

export interface PrepareOptions {
  zonesDir: string;
  /** DNSSEC keys folder (default: keys/ in the zones folder). */
  keysDir?: string | null;
  latencyTablePath?: string | null;
  maxFileBytes?: number;
}

/** Loads the zones folder in the reload process and puts what it sent in force on this thread. */
export class ConfigPreparer {
  private readonly thread = new ConfigProcess();
  private readonly builder: ConfigBuilder;
  /** The flat zones of the last good result, by key: a worker started later gets every zone. */
  private flat = new Map<string, FlatZoneData>();

  constructor(private readonly opts: PrepareOptions) {
    this.builder = new ConfigBuilder(opts.keysDir ?? defaultKeysDir(opts.zonesDir));
  }

  async prepare(): Promise<PrepareResult> {
    let res: LoadResponse;
    try {
      res = await this.thread.load({ zonesDir: this.opts.zonesDir, keysDir: this.opts.keysDir ?? null, maxFileBytes: this.opts.maxFileBytes ?? maxConfigFileBytes(), have: [...this.flat.keys()] });
    } catch (err) {
      return { ok: false, errors: [crashError(this.opts.zonesDir, (err as Error).message)] };
    }
    if (res.crash) return { ok: false, errors: [crashError(this.opts.zonesDir, res.crash)] };
    const errors = [...res.errors];
    const latencyTable = this.latencyText(errors);
    if (errors.length) return { ok: false, errors };
    const zones: SharedZone[] = [];
    for (const { data: file, ...p } of res.zones) {
      const data = file ? await readFlatZone(file) : this.flat.get(p.key);
      if (!data) return { ok: false, errors: [crashError(this.opts.zonesDir, `zone ${p.origin} was not sent and is not held`)] };
      zones.push({ ...p, data });
    }
    const { tenants, ...steering } = res.steering;
    const shared: SharedConfig = {
      zones,
      // The tenants file's table can hold millions of entries: shared, like the zones.
      steering: tenants ? { ...steering, tenants: { ...tenants, entries: shareTenantParts(tenants.entries) } } : steering,
      health: res.health,
      latencyTable,
      warnings: res.warnings,
      unchanged: res.unchanged,
      loadMs: res.loadMs,
    };
    const r = this.builder.build(shared);
    if (r.ok) this.flat = new Map(zones.map((z) => [z.key, z.data]));
    return r;
  }

  /** The latency table (`--latency-table`, a small CSV outside the zones folder) is read here. */
  private latencyText(errors: ConfigError[]): SharedConfig['latencyTable'] {
    const file = this.opts.latencyTablePath;
    if (!file) return null;
    try {
      return { file, text: readConfigFile(file) };
    } catch (err) {
      errors.push({ code: LatencyError.TABLE, file, line: 0, message: `cannot read the latency table: ${(err as Error).message}` });
      return null;
    }
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}

/**
 * Puts a SharedConfig in force on this thread: wraps the flat zones (keeping the zones it holds
 * already under the same key, with their caches), the tenants table and the latency table, and
 * opens the DNSSEC signers. Nothing is swapped here: the caller swaps the result in one step.
 */
export class ConfigBuilder {
  /** The built zones of the last good result, by key. */
  private built = new Map<string, Zone>();

  constructor(private readonly keysDir: string) {}

  build(shared: SharedConfig): PrepareResult {
    const t0 = performance.now();
    const errors: ConfigError[] = [];
    let latencyTable: LatencyTable | null = null;
    if (shared.latencyTable) {
      const parsed = parseLatencyTable(shared.latencyTable.text, shared.latencyTable.file);
      errors.push(...parsed.errors);
      latencyTable = parsed.table;
    }
    if (errors.length) return { ok: false, errors };
    const { tenants, ...sent } = shared.steering;
    const steering: SteeringConfig = {
      ...sent, // regions and hostnames: plain data, as the reload process made them
      ...(tenants ? { tenants: { file: tenants.file, entries: TenantTable.fromParts(tenants.entries) } } : {}),
    };
    const built = new Map<string, Zone>();
    const zones: Zone[] = [];
    for (const p of shared.zones) {
      const zone = this.built.get(p.key) ?? flatZone(p.data);
      // Signers hold private keys and signature caches: they live here, never in the reload process.
      // A zone with keys signs its RRsets on first use (and keeps them while the keys stay the same).
      zone.dnssec = zoneSigner(zone.origin, this.keysDir, errors) ?? undefined;
      built.set(p.key, zone);
      zones.push(zone);
    }
    if (errors.length) return { ok: false, errors };
    this.built = built;
    return {
      ok: true,
      config: {
        zones,
        summary: shared.zones.map((p, i) => ({ origin: p.origin, file: p.file, records: p.records, serial: soaSerial(zones[i]), hash: p.hash })),
        steering,
        health: shared.health,
        latencyTable,
        warnings: shared.warnings,
        unchanged: shared.unchanged,
        loadMs: shared.loadMs,
        buildMs: performance.now() - t0,
        shared,
      },
    };
  }
}

/** The parts in shared memory (copied once), so every thread that takes the config reads one copy. */
function shareTenantParts(p: TenantTableParts): TenantTableParts {
  const slots = new Int32Array(new SharedArrayBuffer(p.slots.byteLength));
  slots.set(p.slots);
  const arena = new Uint8Array(new SharedArrayBuffer(p.arena.byteLength));
  arena.set(p.arena);
  return { ...p, slots, arena };
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

