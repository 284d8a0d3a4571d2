// What the serving side asks the reload process, and what comes back. Everything here crosses the
// IPC channel by structured clone (zones as files, see flat-file.ts): plain data only.

import type { ConfigError } from '../../config/errors.js';
import type { HealthPlan } from '../../health/plan.js';
import type { SteeringConfig, TenantFile } from '../../steering/policy.js';
import type { TenantTableParts } from '../../steering/tenant-table.js';
import type { FlatZoneFile } from './flat-file.js';

export interface LoadRequest {
  id: number;
  zonesDir: string;
  /** DNSSEC keys folder; null: keys/ in the zones folder. */
  keysDir: string | null;
  maxFileBytes: number;
  /** Keys of the zones the serving side holds built: those are not sent again. */
  have: string[];
}

export interface PreparedZone {
  origin: string;
  file: string;
  /** Content hash of the file and its $INCLUDEs. */
  hash: string;
  /** The content hash and the steered names in the zone: equal keys, equal built Zone. */
  key: string;
  records: number;
  /** The built zone; absent when the serving side has this key already. */
  data?: FlatZoneFile;
}

export interface LoadResponse {
  id: number;
  zones: PreparedZone[];
  steering: Omit<SteeringConfig, 'tenants'> & { tenants?: Omit<TenantFile, 'entries'> & { entries: TenantTableParts } };
  health: HealthPlan;
  errors: ConfigError[];
  warnings: ConfigError[];
  unchanged: string[];
  /** How long the load took in the reload process. */
  loadMs: number;
  /** Set when the load itself threw (a bug, out of memory): nothing else is meaningful. */
  crash?: string;
}
