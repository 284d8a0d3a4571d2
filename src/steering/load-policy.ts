// Loads regions.yaml and <origin>.steer.yaml files into a SteeringConfig. Every problem is a
// ConfigError naming file:line and what to fix; loading never throws on bad input. Health checks
// written in these files are handed, where they are written, to a CheckReader (the health side's,
// src/health/load-plan.ts): steering keeps none of them.
// Two passes: a zod schema checks each value's shape and types, then plain code checks ranges and
// references (regions, pools, zones) with the YAML nodes at hand for line numbers.

import { parseDuration } from '../config/duration.js';
import { readdirSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import * as z from 'zod';
import type { ConfigError } from '../config/errors.js';
import { describeValue, readYaml, strict, type Path, type YamlFile } from '../config/yaml-source.js';
import { addressToString, parseSubnet } from '../dns/ecs.js';
import { canonicalName, isSubdomain } from '../dns/name.js';
import { loadTenantFile } from './load-tenants.js';
import type { Endpoint, Endpoints, HostnamePolicy, RecordSet, Region, RegionId, SteeringConfig, TenantPolicy, WhenAllDown } from './policy.js';
import { SteerError } from '../config/error-codes.js';
import type { ConfigErrorCode } from '../config/error-codes.js';

export { SteerError };

export const REGIONS_FILE = 'regions.yaml';
export const STEER_SUFFIX = '.steer.yaml';

export const DEFAULT_TTL = 30;
export const DEFAULT_ANSWERS = 1;
/** RFC 2181 §8: a TTL is an unsigned 31-bit number. */
export const MAX_TTL = 2147483647;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

// --- schemas: shape and types only --------------------------------------------------------------

const mapping = z.record(z.string(), z.unknown());
const RegionsFileSchema = strict({ regions: mapping });
const RegionSchema = strict({
  location: strict({ lat: z.number(), lon: z.number() }),
  checks: z.array(z.unknown()).optional(),
});
const SteerFileSchema = strict({ hostnames: mapping });
const SetSchema = strict({ name: z.string(), weight: z.number(), regions: z.array(z.string()) });
const TenantsSchema = strict({
  source: z.string().optional(),
  residency: z.record(z.string(), z.array(z.string())).optional(),
  'when-home-down': z.enum(['fallback', 'servfail', 'fail-open']).optional(),
  unknown: z.enum(['nearest', 'servfail']).optional(),
});
const HostnameSchema = strict({
  ttl: z.union([z.number(), z.string()]).optional(),
  answers: z.number().optional(),
  pools: z.record(z.string(), z.array(z.unknown())),
  split: z.array(SetSchema).optional(),
  sticky: z.enum(['none', 'subnet']).optional(),
  'when-all-down': z.string().optional(),
  'min-healthy': z.number().optional(),
  tenants: TenantsSchema.optional(),
});
/** A pool entry with its own checks; a bare address is the other form. */
const EndpointSchema = strict({ address: z.string(), checks: z.array(z.unknown()).optional() });

/**
 * Takes the health checks written in the files, as they are met (so their errors fall in file order
 * with the others). `y` records errors with line numbers; `path` is where the list is written.
 */
export interface CheckReader {
  region(y: YamlFile, path: Path, region: RegionId, raw: readonly unknown[]): void;
  /** Called only for an endpoint whose entry lists checks. */
  endpoint(y: YamlFile, path: Path, region: RegionId, endpoint: Endpoint, raw: readonly unknown[]): void;
}

/** For loading steering alone (tools and tests that judge no health): the checks are not read. */
export const SKIP_CHECKS: CheckReader = { region() {}, endpoint() {} };

// --- regions.yaml -------------------------------------------------------------------------------

interface RegionsResult {
  regions: Map<RegionId, Region>;
  /** Every id written, valid or not, so a bad region does not also surface as "unknown" in steer files. */
  declared: Set<RegionId>;
}

function loadRegions(y: YamlFile, checks: CheckReader): RegionsResult {
  const regions = new Map<RegionId, Region>();
  const declared = new Set<RegionId>();
  if (!y.check(RegionsFileSchema, [])) return { regions, declared };
  for (const id of y.keys(['regions'])) {
    declared.add(id);
    const path = ['regions', id];
    let ok = true;
    if (!ID_PATTERN.test(id)) {
      y.error(SteerError.BAD_ID, path, `region id "${id}" must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
      ok = false;
    }
    const r = y.check(RegionSchema, path);
    if (!r) continue;
    const { lat, lon } = r.location;
    if (lat < -90 || lat > 90) {
      y.error(SteerError.LOCATION_RANGE, [...path, 'location', 'lat'], `latitude ${lat} of region "${id}" must be between -90 and 90`);
      ok = false;
    }
    if (lon < -180 || lon > 180) {
      y.error(SteerError.LOCATION_RANGE, [...path, 'location', 'lon'], `longitude ${lon} of region "${id}" must be between -180 and 180`);
      ok = false;
    }
    checks.region(y, [...path, 'checks'], id, r.checks ?? []);
    if (ok) regions.set(id, { id, location: { lat, lon }, file: y.file, line: y.line(path) });
  }
  return { regions, declared };
}

// --- <origin>.steer.yaml ------------------------------------------------------------------------

interface SteerContext {
  origin: string;
  /** Canonical origins of every served zone, to find the most specific one for a name. */
  origins: readonly string[];
  /** Null when there is no regions.yaml: region references are then not checked (one NO_REGIONS error says why). */
  declared: Set<RegionId> | null;
  staticAddressNames: (fqdn: string) => boolean;
  /** fqdn → "file:line" of the hostnames already loaded. */
  seen: Map<string, string>;
  /** The zones folder: `tenants.source` is relative to it. */
  dir: string;
  /** The one tenants file of the server, once a hostname names it. */
  tenantSource: { path: string; name: string; where: { file: string; line: number } } | null;
  checks: CheckReader;
}

function loadSteerFile(y: YamlFile, ctx: SteerContext, out: Map<string, HostnamePolicy>): void {
  if (!y.check(SteerFileSchema, [])) return;
  for (const key of y.keys(['hostnames'])) {
    const policy = loadHostname(y, key, ctx);
    if (policy) out.set(policy.fqdn, policy);
  }
}

/** The canonical name a hostname key stands for ("@" is the origin, names without a final dot are relative). */
function hostnameFqdn(key: string, origin: string): string {
  if (key === '@') return origin;
  if (key.endsWith('.')) return canonicalName(key);
  return canonicalName(origin === '.' ? `${key}.` : `${key}.${origin}`);
}

function loadHostname(y: YamlFile, key: string, ctx: SteerContext): HostnamePolicy | null {
  const path = ['hostnames', key];
  const before = y.errors.length;
  const line = y.line(path);

  let fqdn: string | null = null;
  try {
    fqdn = key === '' ? null : hostnameFqdn(key, ctx.origin);
    if (fqdn === null) y.error(SteerError.BAD_NAME, path, 'a hostname key must not be empty (use "@" for the zone apex)');
  } catch (e) {
    y.error(SteerError.BAD_NAME, path, `hostname "${key}": ${(e as Error).message}`);
  }
  if (fqdn !== null) {
    const zone = mostSpecificOrigin(fqdn, ctx.origins);
    if (zone !== ctx.origin) {
      const hint = zone === null ? 'no served zone contains it' : `it belongs to zone ${zone}; move it to ${zoneFileName(zone)}`;
      y.error(SteerError.OUTSIDE_ZONE, path, `hostname ${fqdn} is outside zone ${ctx.origin}: ${hint}`);
    }
    const other = ctx.seen.get(fqdn);
    if (other !== undefined) y.error(SteerError.DUPLICATE_HOSTNAME, path, `hostname ${fqdn} is already steered at ${other}`);
    else ctx.seen.set(fqdn, `${y.file}:${line}`);
    if (ctx.staticAddressNames(fqdn)) {
      y.error(SteerError.STATIC_CONFLICT, path, `${fqdn} has A/AAAA records in the zone file; remove them or stop steering the name`);
    }
  }

  const h = y.check(HostnameSchema, path);
  if (!h) return null;

  // Seconds, as everywhere in DNS, or a duration with its unit ("30s", "5m", "1h").
  const ttlParsed = h.ttl === undefined ? { ok: true as const, ms: DEFAULT_TTL * 1000 } : parseDuration(h.ttl, 's');
  const ttl = ttlParsed.ok ? ttlParsed.ms / 1000 : NaN;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) {
    const why = ttlParsed.ok ? `${h.ttl}` : ttlParsed.message;
    y.error(SteerError.TTL_RANGE, [...path, 'ttl'], `ttl ${why}: must be a whole number of seconds from 0 to ${MAX_TTL} (or a duration like 30s or 5m)`);
  }
  const answers = h.answers ?? DEFAULT_ANSWERS;
  if (!Number.isInteger(answers) || answers < 1) {
    y.error(SteerError.ANSWERS_RANGE, [...path, 'answers'], `answers ${answers} must be a whole number of regions, 1 or more`);
  }

  const pools = loadPools(y, [...path, 'pools'], h.pools, ctx);
  const minHealthy = h['min-healthy'] ?? 1;
  if (!Number.isInteger(minHealthy) || minHealthy < 1) {
    y.error(SteerError.MIN_HEALTHY_RANGE, [...path, 'min-healthy'], `min-healthy ${minHealthy} must be a whole number of endpoints, 1 or more`);
  }
  const sets = h.split ? loadSplit(y, [...path, 'split'], h.split, pools, ctx) : [{ name: 'all', weight: 100, regions: [...pools.keys()] }];
  const whenAllDown = parseWhenAllDown(y, [...path, 'when-all-down'], h['when-all-down'] ?? 'fail-open', pools, ctx);
  const tenants = h.tenants ? loadTenantPolicy(y, [...path, 'tenants'], h.tenants, fqdn, pools, ctx) : undefined;

  if (y.errors.length > before || fqdn === null || whenAllDown === null) return null;
  return {
    fqdn, zone: ctx.origin, ttl, answers, pools, sets, weights: sets.map((s) => s.weight),
    sticky: h.sticky ?? 'none', minHealthy,
    whenAllDown, ...(tenants ? { tenants } : {}), file: y.file, line,
  };
}

/** `tenants:` of a hostname: residency rules, and the file of the server's tenant map (loaded once all steer files are read). */
function loadTenantPolicy(
  y: YamlFile, path: Path, raw: z.infer<typeof TenantsSchema>, fqdn: string | null, pools: Map<RegionId, Endpoints>, ctx: SteerContext,
): TenantPolicy {
  if (fqdn !== null && !fqdn.startsWith('*.')) {
    y.error(SteerError.TENANTS_NOT_WILDCARD, path, `tenants need a wildcard hostname such as "*.app": the label the wildcard stands for names the tenant, and ${fqdn} has none`);
  }
  const residency = new Map<RegionId, RegionId[]>();
  const rpath = [...path, 'residency'];
  for (const home of y.keys(rpath)) {
    const homePath = [...rpath, home];
    hasPool(y, homePath, home, pools, 'residency', ctx);
    const list = raw.residency?.[home] ?? [];
    const seen = new Set<string>();
    list.forEach((region, i) => {
      const p = [...homePath, i];
      if (region === home) y.error(SteerError.DUPLICATE_REGION, p, `the residency of ${home} lists ${home} itself: list the other regions its tenants may go to`);
      else if (seen.has(region)) y.error(SteerError.DUPLICATE_REGION, p, `region "${region}" is listed twice in the residency of ${home}`);
      seen.add(region);
      hasPool(y, p, region, pools, `the residency of ${home}`, ctx);
    });
    residency.set(home, list.slice());
  }
  if (raw.source !== undefined) {
    const spath = [...path, 'source'];
    const file = resolve(ctx.dir, raw.source);
    const rel = relative(resolve(ctx.dir), file);
    if (raw.source === '' || rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      y.error(SteerError.TENANTS_SOURCE, spath, `tenants.source "${raw.source}" must name a file inside the zones folder (relative to it)`);
    } else if (ctx.tenantSource && ctx.tenantSource.path !== file) {
      const other = ctx.tenantSource;
      y.error(SteerError.TENANTS_SOURCE, spath, `the server has one tenant map: name the same file as ${other.where.file}:${other.where.line} (${other.name}) or leave source out`);
    } else {
      ctx.tenantSource ??= { path: file, name: join(ctx.dir, raw.source), where: { file: y.file, line: y.line(spath) } };
    }
  }
  return { residency, whenHomeDown: raw['when-home-down'] ?? 'fallback', unknown: raw.unknown ?? 'nearest' };
}

function mostSpecificOrigin(fqdn: string, origins: readonly string[]): string | null {
  let best: string | null = null;
  for (const o of origins) if (isSubdomain(fqdn, o) && (best === null || o.length > best.length)) best = o;
  return best;
}

function zoneFileName(origin: string): string {
  return `${origin === '.' ? '' : origin.slice(0, -1)}${STEER_SUFFIX}`;
}

/** Checks that `region` exists; true when it does (or when regions cannot be checked). */
function knownRegion(y: YamlFile, path: Path, region: string, ctx: SteerContext): boolean {
  if (ctx.declared === null || ctx.declared.has(region)) return true;
  const known = [...ctx.declared].join(', ') || 'none';
  y.error(SteerError.UNKNOWN_REGION, path, `unknown region "${region}"; ${REGIONS_FILE} defines: ${known}`);
  return false;
}

function hasPool(y: YamlFile, path: Path, region: string, pools: Map<RegionId, Endpoints>, what: string, ctx: SteerContext): void {
  if (!knownRegion(y, path, region, ctx) || pools.has(region)) return;
  // A pool under a misspelt region was reported already; "no pool" for the real name would be its echo.
  if (MISSPELT_POOLS.has(pools)) return;
  y.error(SteerError.REGION_WITHOUT_POOL, path, `${what} names region "${region}", which has no pool: add it under pools`);
}

/** Pools of a hostname that had a region unknown to regions.yaml (see hasPool). */
const MISSPELT_POOLS = new WeakSet<Map<RegionId, Endpoints>>();

function loadPools(y: YamlFile, path: Path, raw: Record<string, unknown[]>, ctx: SteerContext): Map<RegionId, Endpoints> {
  const pools = new Map<RegionId, Endpoints>();
  const regions = y.keys(path);
  if (regions.length === 0) {
    y.error(SteerError.EMPTY_POOL, path, 'pools is empty: give at least one region and its endpoints');
  }
  for (const region of regions) {
    const poolPath = [...path, region];
    if (!knownRegion(y, poolPath, region, ctx)) {
      MISSPELT_POOLS.add(pools);
      continue;
    }
    const list = raw[region];
    if (list.length === 0) {
      y.error(SteerError.EMPTY_POOL, poolPath, `pool of region "${region}" has no endpoints`);
      continue;
    }
    const e: Endpoints = { v4: [], v6: [], v4Text: [], v6Text: [], list: [] };
    const seen = new Set<string>();
    list.forEach((item, i) => {
      const itemPath = [...poolPath, i];
      const written = endpointEntry(y, itemPath, item);
      if (!written) return;
      const address = parseEndpoint(written.address);
      const where = [...itemPath, ...(typeof item === 'string' ? [] : ['address'])];
      if (!address) {
        y.error(SteerError.BAD_ADDRESS, where, `${describeValue(written.address)} in the pool of "${region}" is not an IPv4 or IPv6 address`);
        return;
      }
      const text = address.text;
      if (seen.has(text)) {
        y.error(SteerError.DUPLICATE_ADDRESS, where, `${text} is listed twice in the pool of "${region}"`);
        return;
      }
      seen.add(text);
      const family = address.bytes.length === 4 ? 4 : 6;
      const endpoint: Endpoint = { text, bytes: address.bytes, family, line: y.line(itemPath) };
      if (written.checks.length > 0) ctx.checks.endpoint(y, [...itemPath, 'checks'], region, endpoint, written.checks);
      e.list!.push(endpoint);
      if (family === 4) { e.v4.push(address.bytes); e.v4Text.push(text); }
      else { e.v6.push(address.bytes); e.v6Text.push(text); }
    });
    pools.set(region, e);
  }
  return pools;
}

/** A pool entry: a bare address, or `{ address, checks }`; null (error recorded) when it is neither. */
function endpointEntry(y: YamlFile, path: Path, item: unknown): { address: string; checks: readonly unknown[] } | null {
  if (typeof item === 'string') return { address: item, checks: [] };
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    y.error(SteerError.BAD_ADDRESS, path, `${describeValue(item)} is not a pool endpoint: write an address, or { address: ..., checks: [...] }`);
    return null;
  }
  const shaped = y.check(EndpointSchema, path);
  return shaped ? { address: shaped.address, checks: shaped.checks ?? [] } : null;
}

/** An endpoint address (no prefix length); text is the canonical form (RFC 5952 for IPv6). */
function parseEndpoint(text: string): { bytes: Uint8Array; text: string } | null {
  if (text.includes('/')) return null;
  try {
    const s = parseSubnet(text);
    return { bytes: s.address, text: addressToString(s.family, s.address) };
  } catch {
    return null;
  }
}

function loadSplit(
  y: YamlFile, path: Path, raw: z.infer<typeof SetSchema>[], pools: Map<RegionId, Endpoints>, ctx: SteerContext,
): RecordSet[] {
  if (raw.length === 0) {
    y.error(SteerError.EMPTY_SET, path, 'split is empty: list at least one record set, or remove split to use all pools');
    return [];
  }
  const names = new Set<string>();
  raw.forEach((s, i) => {
    const setPath = [...path, i];
    if (!ID_PATTERN.test(s.name)) {
      y.error(SteerError.BAD_ID, [...setPath, 'name'], `record set name "${s.name}" must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
    } else if (names.has(s.name)) {
      y.error(SteerError.DUPLICATE_SET, [...setPath, 'name'], `record set name "${s.name}" is used twice; give each set its own name`);
    }
    names.add(s.name);
    if (s.weight < 0) {
      y.error(SteerError.NEGATIVE_WEIGHT, [...setPath, 'weight'], `weight ${s.weight} of record set "${s.name}" must not be negative`);
    }
    if (s.regions.length === 0) {
      y.error(SteerError.EMPTY_SET, [...setPath, 'regions'], `record set "${s.name}" has no regions`);
    }
    const inSet = new Set<string>();
    s.regions.forEach((region, j) => {
      const regionPath = [...setPath, 'regions', j];
      if (inSet.has(region)) y.error(SteerError.DUPLICATE_REGION, regionPath, `region "${region}" is listed twice in record set "${s.name}"`);
      inSet.add(region);
      hasPool(y, regionPath, region, pools, `record set "${s.name}"`, ctx);
    });
  });
  if (raw.every((s) => s.weight <= 0)) {
    y.error(SteerError.ZERO_WEIGHTS, path, 'every record set has weight 0: give at least one a positive weight');
  }
  return raw.map((s) => ({ name: s.name, weight: s.weight, regions: s.regions.slice() }));
}

function parseWhenAllDown(y: YamlFile, path: Path, text: string, pools: Map<RegionId, Endpoints>, ctx: SteerContext): WhenAllDown | null {
  if (text === 'fail-open') return { kind: 'fail-open' };
  if (text === 'servfail') return { kind: 'servfail' };
  if (text.startsWith('region:') && text.length > 'region:'.length) {
    const region = text.slice('region:'.length);
    hasPool(y, path, region, pools, 'when-all-down', ctx);
    return { kind: 'region', region };
  }
  y.error(SteerError.BAD_VALUE, path, `when-all-down "${text}" must be "fail-open", "servfail" or "region:<id>"`);
  return null;
}

// --- the directory ------------------------------------------------------------------------------

/**
 * Loads `dir/regions.yaml` and every `dir/<origin>.steer.yaml`. `zoneOrigins` are the served zones
 * (with or without the final dot); `staticAddressNames(fqdn)` says whether a zone file gives the name
 * A/AAAA records. The config holds what loaded cleanly; callers reject it when `errors` is not empty.
 */
export function loadSteering(
  dir: string,
  zoneOrigins: readonly string[],
  staticAddressNames: (fqdn: string) => boolean,
  /** Zones whose file has errors: their steer files wait until the zone loads (its errors say why). */
  failedOrigins: readonly string[] = [],
  checks: CheckReader = SKIP_CHECKS,
): { config: SteeringConfig; errors: ConfigError[]; /** The tenants file, when its content was unchanged (not parsed again). */ unchanged?: string[] } {
  const errors: ConfigError[] = [];
  const config: SteeringConfig = { regions: new Map(), hostnames: new Map() };
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { config, errors };
    errors.push({ code: SteerError.READ, file: dir, line: 0, message: `cannot read directory: ${(e as Error).message}` });
    return { config, errors };
  }

  let declared: Set<RegionId> | null = null;
  if (entries.includes(REGIONS_FILE)) {
    const y = readYaml(join(dir, REGIONS_FILE), errors, SteerError);
    declared = new Set();
    if (y) {
      const r = loadRegions(y, checks);
      config.regions = r.regions;
      declared = r.declared;
    }
  }

  const origins = zoneOrigins.map((o) => canonicalName(o));
  const seen = new Map<string, string>();
  const shared = { seen, dir, tenantSource: null as SteerContext['tenantSource'], checks };
  for (const name of entries) {
    if (!name.endsWith(STEER_SUFFIX)) continue;
    const file = join(dir, name);
    const originText = name.slice(0, -STEER_SUFFIX.length);
    let origin: string | null = null;
    try {
      origin = canonicalName(originText === '' ? '.' : originText);
    } catch {
      origin = null;
    }
    if (origin !== null && failedOrigins.includes(origin)) continue;
    if (origin === null || !origins.includes(origin)) {
      const served = origins.join(', ') || 'none';
      errors.push({
        code: SteerError.UNSERVED_ORIGIN, file, line: 0,
        message: `no zone file serves "${originText}"; name the file <origin>${STEER_SUFFIX} after a served zone (${served}) or add the zone`,
      });
      continue;
    }
    if (declared === null) {
      errors.push({
        code: SteerError.NO_REGIONS, file, line: 0,
        message: `steering needs regions: create ${join(dir, REGIONS_FILE)} defining every region used here`,
      });
    }
    const y = readYaml(file, errors, SteerError);
    if (y) {
      const ctx: SteerContext = { origin, origins, declared, staticAddressNames, ...shared };
      loadSteerFile(y, ctx, config.hostnames);
      shared.tenantSource = ctx.tenantSource;
    }
  }
  const t = shared.tenantSource;
  if (t && declared !== null) {
    const loaded = loadTenantFile(t.path, t.name, t.where, config);
    config.tenants = loaded.file;
    errors.push(...loaded.errors);
    if (loaded.unchanged) return { config, errors, unchanged: [t.path] };
  }
  return { config, errors };
}
