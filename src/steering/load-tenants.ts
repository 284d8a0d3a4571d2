// Loads the tenants file (`tenants.source` of a tenant hostname): `slug,region` per line. Every
// problem is a ConfigError naming file:line. A reload parses the file again only when its content
// changed (or the regions did): a million lines cost about a second, a SIGHUP for a zone edit should not.

import { createHash } from 'node:crypto';
import type { ConfigError } from '../config/errors.js';
import { readConfigBytes } from '../config/read-file.js';
import type { SteeringConfig, TenantFile } from './policy.js';
import { NO_TENANT_FILE } from './tenant-table.js';
import { parseTenants, tenantHostnames, type TenantProblemKind } from './tenants.js';

/** Stable error codes of the tenants file (the README's error table lists them). */
export const TenantError = {
  /** The file cannot be read (reported at the `source` line of the steer file). */
  READ: 'REGIONDNS_ERR_TENANT_READ',
  /** A line that is not `slug,region`. */
  FORMAT: 'REGIONDNS_ERR_TENANT_FORMAT',
  /** A slug that is not one lower-case DNS label (a-z, 0-9, '-' inside, at most 63). */
  BAD_SLUG: 'REGIONDNS_ERR_TENANT_BAD_SLUG',
  DUPLICATE: 'REGIONDNS_ERR_TENANT_DUPLICATE',
  UNKNOWN_REGION: 'REGIONDNS_ERR_TENANT_UNKNOWN_REGION',
  /** A region some tenant hostname has no pool for. */
  REGION_WITHOUT_POOL: 'REGIONDNS_ERR_TENANT_REGION_WITHOUT_POOL',
  /** More problems than are listed one by one. */
  TOO_MANY: 'REGIONDNS_ERR_TENANT_TOO_MANY',
} as const;

const CODE: Record<TenantProblemKind, string> = {
  format: TenantError.FORMAT,
  'bad-slug': TenantError.BAD_SLUG,
  duplicate: TenantError.DUPLICATE,
  'unknown-region': TenantError.UNKNOWN_REGION,
  'no-pool': TenantError.REGION_WITHOUT_POOL,
};

/** Problems listed one by one per file; the rest are counted in one TOO_MANY error. */
const MAX_LISTED = 50;

let cache: { key: string; file: TenantFile; errors: ConfigError[] } | null = null;

/**
 * Reads `path` (shown as `shown` in errors). `where` is the steer file's line that names it, for
 * errors about the file as a whole. Region checks need the loaded regions and tenant hostnames.
 */
export function loadTenantFile(
  path: string, shown: string, where: { file: string; line: number }, steering: Pick<SteeringConfig, 'regions' | 'hostnames'>,
): { file: TenantFile; errors: ConfigError[]; unchanged?: boolean } {
  let bytes: Buffer;
  try {
    bytes = readConfigBytes(path);
  } catch (err) {
    return failed(where, `cannot read tenants file ${shown}: ${(err as Error).message}`);
  }
  const key = `${path}|${createHash('sha256').update(bytes).digest('hex')}|${regionsSignature(steering)}`;
  if (cache?.key === key) return { ...cache, unchanged: true };
  const text = bytes.toString('utf8');
  const parsed = parseTenants(text, 'csv', steering, MAX_LISTED);
  const errors: ConfigError[] = parsed.problems.map((p) => ({ code: CODE[p.kind], file: shown, line: p.line, message: p.message }));
  if (parsed.problemCount > parsed.problems.length) {
    errors.push({ code: TenantError.TOO_MANY, file: shown, line: 0, message: `${parsed.problemCount - parsed.problems.length} more problems not listed` });
  }
  const result = { key, file: { entries: parsed.entries, file: shown }, errors };
  // One tenant map per server: keep the last one only (a failed load is not worth keeping).
  cache = errors.length === 0 ? result : null;
  return result;
}

function failed(where: { file: string; line: number }, message: string): { file: TenantFile; errors: ConfigError[] } {
  return { file: NO_TENANT_FILE, errors: [{ code: TenantError.READ, ...where, message }] };
}

/** What the region checks depend on: the regions, and the pools of the tenant hostnames. */
function regionsSignature(steering: Pick<SteeringConfig, 'regions' | 'hostnames'>): string {
  return [[...steering.regions.keys()].join(','), ...tenantHostnames(steering).map((h) => [...h.pools.keys()].join(','))].join(';');
}
