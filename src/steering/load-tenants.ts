// Loads the tenants file (`tenants.source` of a tenant hostname): `slug,region` per line. Every
// problem is a ConfigError naming file:line. A reload parses the file again only when its content
// changed (or the regions did): a million lines cost about a second, a SIGHUP for a zone edit should not.

import { createHash } from 'node:crypto';
import type { ConfigError } from '../config/errors.js';
import { readConfigBytes } from '../config/read-file.js';
import type { SteeringConfig, TenantFile } from './policy.js';
import { NO_TENANT_FILE } from './tenant-table.js';
import { parseTenants, tenantHostnames, type TenantProblemKind } from './tenant-residency.js';
import { TenantError, type ConfigErrorCode } from '../config/error-codes.js';

export { TenantError };

const CODE: Record<TenantProblemKind, ConfigErrorCode> = {
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
