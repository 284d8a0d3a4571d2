// Data residency for tenant subdomains: `acme.app.example.com` (under the wildcard hostname
// `*.app.example.com`) is answered with tenant acme's home region, from a map of slug → region, and
// when that region is down only with what the hostname's residency rules allow.
// Pure: the slug rules, the line formats shared by the tenants file and the bulk import, and the
// residency decision. The map itself (file entries under API overrides) is src/state/tenant-directory.ts.

import { isEscapedDot } from '../dns/name.js';
import { greatCircleKm } from '../geo/latency.js';
import type { HostnamePolicy, Region, RegionId, SteeringConfig, TenantPolicy } from './policy.js';
import type { IsOperational, OperationalState } from './stages.js';
import { TenantTable } from './tenant-table.js';

/** A slug is one DNS label (RFC 1035 §2.3.1): at most 63 octets. */
export const MAX_SLUG = 63;

/** Why `slug` is not a tenant slug (lower-case a-z, 0-9 and '-' not at either end, 1-63 long), or null. */
export function slugProblem(slug: string): string | null {
  return slugProblemIn(slug, 0, slug.length);
}

/** slugProblem of text[start, end), without slicing it unless it is bad. */
function slugProblemIn(text: string, start: number, end: number): string | null {
  const n = end - start;
  if (n === 0) return 'the slug is empty';
  if (n > MAX_SLUG) return `slug "${text.slice(start, start + 24)}…" is ${n} characters long; a DNS label holds at most ${MAX_SLUG}`;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) continue;
    const slug = (): string => text.slice(start, end);
    if (c === 0x2d) {
      if (i === start || i === end - 1) return `slug "${slug()}" must not start or end with "-"`;
      continue;
    }
    if (c >= 0x41 && c <= 0x5a) return `slug "${slug()}" has upper-case letters: write it in lower case`;
    return `slug "${slug()}" may only hold a-z, 0-9 and "-" (it is one DNS label)`;
  }
  return null;
}

/**
 * Where the tenant's slug starts in a name under a wildcard hostname: the label just below the
 * wildcard's parent, `acme` in `acme.app.example.com.` and in `www.acme.app.example.com.` for
 * `*.app.example.com.`. It ends at tenantSlugEnd(). Both names are canonical and `name` lies below the
 * wildcard's parent. -1 when that label ends in an escaped dot (no slug can).
 */
export function tenantSlugStart(name: string, wildcard: string): number {
  const end = tenantSlugEnd(name, wildcard);
  if (end <= 0) return -1;
  const dot = name.lastIndexOf('.', end - 1);
  if (dot > 0 && isEscapedDot(name, dot)) return -1;
  return dot + 1;
}

/** The dot before the wildcard's parent. */
export function tenantSlugEnd(name: string, wildcard: string): number {
  return name.length - wildcard.length + 1;
}

/** The slug as a string (explain, tests); the query path works on the range. */
export function tenantSlug(name: string, wildcard: string): string {
  const start = tenantSlugStart(name, wildcard);
  return start < 0 ? '' : name.slice(start, tenantSlugEnd(name, wildcard));
}

// ---- the tenants file and the bulk import: `slug,region` lines or JSON lines ------------------------

export type TenantFormat = 'csv' | 'jsonl';

export type TenantProblemKind = 'format' | 'bad-slug' | 'duplicate' | 'unknown-region' | 'no-pool';

export interface TenantProblem {
  line: number;
  kind: TenantProblemKind;
  message: string;
}

export interface ParsedTenants {
  /** slug → home region; complete only when `problemCount` is 0. */
  entries: TenantTable;
  /** Tenant lines read, good or bad (blank lines, comments and a header are not counted). */
  lines: number;
  /** The first problems, in line order (at most the `maxProblems` asked for). */
  problems: TenantProblem[];
  problemCount: number;
}

/** Checks a region named for a tenant: the interned id when it is good, else the problem. */
export type TenantRegionCheck = (region: string) => RegionId | { kind: 'unknown-region' | 'no-pool'; message: string };

/** The hostnames that route tenants, in the order written. */
export function tenantHostnames(steering: Pick<SteeringConfig, 'hostnames'>): HostnamePolicy[] {
  return [...steering.hostnames.values()].filter((p) => p.tenants !== undefined);
}

/**
 * A tenant's region must be a region of regions.yaml that every tenant hostname has a pool for: the
 * map is one for the whole server (`PUT /v1/tenants/{slug}` names no hostname).
 */
export function tenantRegionCheck(steering: Pick<SteeringConfig, 'regions' | 'hostnames'>): TenantRegionCheck {
  const hosts = tenantHostnames(steering);
  const good = new Map<string, RegionId>();
  for (const id of steering.regions.keys()) if (hosts.every((h) => h.pools.has(id))) good.set(id, id);
  const known = [...steering.regions.keys()].join(', ') || 'none';
  return (region) => {
    const id = good.get(region);
    if (id !== undefined) return id;
    if (!steering.regions.has(region)) return { kind: 'unknown-region', message: `unknown region "${region}" (regions.yaml defines: ${known})` };
    const without = hosts.filter((h) => !h.pools.has(region)).map((h) => h.fqdn).join(', ');
    return { kind: 'no-pool', message: `region "${region}" has no pool for ${without}: a tenant's region must be in the pools of every tenant hostname` };
  };
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d;

/** Reads a whole text of tenant lines (the tenants file): TenantLineReader fed once. */
export function parseTenants(
  text: string, format: TenantFormat, steering: Pick<SteeringConfig, 'regions' | 'hostnames'>, maxProblems = 20,
): ParsedTenants {
  const reader = new TenantLineReader(format, steering, maxProblems, text.length);
  reader.push(text);
  return reader.end();
}

/**
 * Reads tenant lines: `slug,region` (csv; an optional first line `slug,region` is a header) or
 * `{"slug": …, "region": …}` (jsonl). Blank lines and lines starting with '#' are skipped. Every line
 * is checked (slug rules, region, duplicates) so a caller can refuse the whole text on any problem.
 * The text comes in pieces split anywhere (a request body as it arrives) and none is kept past its
 * last line: a million-line import never holds its 25 MB of text. Walks each piece with indexOf and
 * copies slugs straight into the table, making no string per slug: 1,000,000 lines take well under a second.
 */
export class TenantLineReader {
  private readonly checkRegion: TenantRegionCheck;
  private readonly out: ParsedTenants;
  /** The line of each entry, in the order added: a duplicate names its first line without the text. */
  private lineOf: Int32Array;
  /** The unfinished last line of the pieces so far. */
  private rest = '';
  private started = false;
  private lineNo = 0;
  /** No tenant line read yet (a CSV header may come). */
  private first = true;

  /** `expectedChars`: the text's length when known, to size the table once. */
  constructor(
    private readonly format: TenantFormat, steering: Pick<SteeringConfig, 'regions' | 'hostnames'>, private readonly maxProblems = 20, expectedChars = 0,
  ) {
    this.checkRegion = tenantRegionCheck(steering);
    const expected = expectedChars / 16;
    this.out = { entries: new TenantTable([...steering.regions.keys()], expected), lines: 0, problems: [], problemCount: 0 };
    this.lineOf = new Int32Array(Math.max(16, Math.ceil(expected)));
  }

  push(piece: string): void {
    if (!this.started) {
      if (piece.length === 0) return;
      this.started = true;
      if (piece.charCodeAt(0) === 0xfeff) piece = piece.slice(1); // a byte-order mark
    }
    let pos = 0;
    if (this.rest !== '') {
      // Only the new piece is searched: a long line in many pieces is joined once, not rescanned per piece.
      const nl = piece.indexOf('\n');
      if (nl < 0) {
        this.rest += piece;
        return;
      }
      const line = this.rest + piece.slice(0, nl);
      this.rest = '';
      this.line(line, 0, line.length);
      pos = nl + 1;
    }
    for (let nl = piece.indexOf('\n', pos); nl >= 0; nl = piece.indexOf('\n', pos)) {
      this.line(piece, pos, nl);
      pos = nl + 1;
    }
    this.rest = piece.slice(pos);
  }

  /** The result once every piece is pushed (the last line needs no newline). */
  end(): ParsedTenants {
    const last = this.rest;
    this.rest = '';
    this.line(last, 0, last.length);
    return this.out;
  }

  /** text[start, end) is the next line, without its '\n'. */
  private line(text: string, start: number, end: number): void {
    const out = this.out;
    const lineNo = ++this.lineNo;
    let a = start;
    let b = end;
    while (a < b && isSpace(text.charCodeAt(a))) a++;
    while (b > a && isSpace(text.charCodeAt(b - 1))) b--;
    if (a === b || text.charCodeAt(a) === 0x23 /* # */) return;
    out.lines++;
    // The slug is src[s, e) (the text itself for CSV, a parsed JSON string for JSON lines).
    let src = text;
    let s: number;
    let e: number;
    let region: string;
    if (this.format === 'csv') {
      const comma = text.indexOf(',', a);
      const second = comma < 0 ? -1 : text.indexOf(',', comma + 1);
      if (comma < 0 || comma >= b || (second >= 0 && second < b)) {
        this.problem(lineNo, 'format', `expected "slug,region", got ${JSON.stringify(clip(text.slice(a, b)))}`);
        this.first = false;
        return;
      }
      s = a;
      e = comma;
      while (e > s && isSpace(text.charCodeAt(e - 1))) e--;
      region = text.slice(comma + 1, b).trim();
      if (this.first && text.slice(s, e).toLowerCase() === 'slug' && region.toLowerCase() === 'region') {
        this.first = false;
        out.lines--;
        return; // the header
      }
    } else {
      const parsed = jsonLine(text.slice(a, b));
      if (typeof parsed === 'string') {
        this.problem(lineNo, 'format', parsed);
        return;
      }
      src = parsed.slug;
      s = 0;
      e = src.length;
      region = parsed.region;
    }
    this.first = false;
    const bad = slugProblemIn(src, s, e);
    if (bad !== null) {
      this.problem(lineNo, 'bad-slug', bad);
      return;
    }
    const id = this.checkRegion(region);
    if (typeof id !== 'string') {
      this.problem(lineNo, id.kind, `tenant ${src.slice(s, e)}: ${id.message}`);
      return;
    }
    const entries = out.entries;
    if (entries.add(src, s, e, id)) {
      const i = entries.size - 1;
      if (i === this.lineOf.length) {
        const bigger = new Int32Array(i * 2);
        bigger.set(this.lineOf);
        this.lineOf = bigger;
      }
      this.lineOf[i] = lineNo;
      return;
    }
    // Only a listed duplicate looks its first line up (a walk of the table): at most maxProblems walks.
    const listed = out.problems.length < this.maxProblems;
    this.problem(lineNo, 'duplicate', listed ? `duplicate slug "${src.slice(s, e)}": already on line ${this.lineOf[entries.indexOf(src, s, e)]}` : '');
  }

  private problem(line: number, kind: TenantProblemKind, message: string): void {
    this.out.problemCount++;
    if (this.out.problems.length < this.maxProblems) this.out.problems.push({ line, kind, message });
  }
}

function jsonLine(s: string): { slug: string; region: string } | string {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch (err) {
    return `not a JSON object: ${(err as Error).message}`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'expected a JSON object {"slug": …, "region": …}';
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => k !== 'slug' && k !== 'region');
  if (extra.length) return `unknown key ${JSON.stringify(extra[0])}: a line holds "slug" and "region" only`;
  if (typeof o.slug !== 'string' || typeof o.region !== 'string') return '"slug" and "region" must both be strings';
  return { slug: o.slug, region: o.region };
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

// ---- the residency decision --------------------------------------------------------------------------

export interface TenantRoute {
  /** pinned: home up; residency-fallback: home down, an allowed region answers; fail-open; servfail. */
  outcome: 'pinned' | 'residency-fallback' | 'fail-open' | 'servfail';
  /** The regions answered, in order, at most `policy.answers`; empty on servfail. Never outside [home, ...residency]. */
  regions: RegionId[];
  /** The policy's TTL, halved on fail-open. */
  ttl: number;
  /** The home region, then the allowed ones nearest to home first, with their state (for explain). */
  health: { region: RegionId; up: boolean; reason: string }[];
  /** Why a fallback was or was not taken, one reason per line (for explain). */
  why: string[];
}

/**
 * Where a tenant whose home is `home` goes for this hostname. Depends on the snapshot only (health,
 * drains), never on the client: its answers carry ECS scope /0, and the caller memoises it per home.
 *  - home operational → home (then allowed regions that are up, when `answers` > 1);
 *  - home down → when-home-down: `servfail`; `fail-open` (home anyway, half TTL); `fallback`: the
 *    allowed regions that are up, nearest to home first, and when none is, home and the allowed
 *    regions as if up, half TTL: never a region outside the tenant's list.
 * A home region the hostname has no pool for counts as down.
 */
export function routeTenant(
  policy: HostnamePolicy, tenants: TenantPolicy, home: RegionId, isOperational: IsOperational, regions: ReadonlyMap<RegionId, Region>,
): TenantRoute {
  const state = (r: RegionId): OperationalState => (policy.pools.has(r) ? isOperational(r) : { up: false, reason: `no pool for ${policy.fqdn}` });
  const homeState = state(home);
  const allowed = tenants.residency.get(home) ?? [];
  const from = regions.get(home)?.location;
  const km = (r: RegionId): number => {
    const to = regions.get(r)?.location;
    return from && to ? greatCircleKm(from, to) : Infinity;
  };
  const others = allowed.map((region) => ({ region, km: km(region), ...state(region) })).sort((x, y) => x.km - y.km);
  const health = [{ region: home, up: homeState.up, reason: homeState.reason }, ...others.map(({ region, up, reason }) => ({ region, up, reason }))];
  const upOthers = others.filter((o) => o.up).map((o) => o.region);
  const list = allowed.length ? `residency lets ${home} tenants go to ${others.map((o) => o.region).join(', ')}` : `residency lets ${home} tenants go nowhere else`;
  const half = Math.floor(policy.ttl / 2);
  const route = (outcome: TenantRoute['outcome'], rs: RegionId[], ttl: number, why: string[]): TenantRoute =>
    ({ outcome, regions: rs.slice(0, policy.answers), ttl, health, why });

  if (homeState.up) return route('pinned', [home, ...upOthers], policy.ttl, [`home ${home} is up: no fallback needed`]);
  const why = [`home ${home} is down: ${homeState.reason}`];
  switch (tenants.whenHomeDown) {
    case 'servfail':
      return route('servfail', [], policy.ttl, [...why, 'when-home-down: servfail: no fallback, answering SERVFAIL']);
    case 'fail-open':
      if (!policy.pools.has(home)) return route('servfail', [], policy.ttl, [...why, 'when-home-down: fail-open, but the home region has no pool: SERVFAIL']);
      return route('fail-open', [home], half, [...why, 'when-home-down: fail-open: answering the home region anyway, TTL halved']);
    case 'fallback': {
      if (upOthers.length > 0) {
        const order = others.filter((o) => o.up).map((o) => (Number.isFinite(o.km) ? `${o.region} (${Math.round(o.km)} km)` : o.region));
        return route('residency-fallback', upOthers, policy.ttl, [...why, `${list}; operational, nearest to ${home} first: ${order.join(', ')}`]);
      }
      const inList = [home, ...others.map((o) => o.region)].filter((r) => policy.pools.has(r));
      const none = allowed.length ? `${list}, and none of them is operational` : list;
      if (inList.length === 0) return route('servfail', [], policy.ttl, [...why, `${none}; no region of the tenant has a pool: SERVFAIL`]);
      return route('fail-open', inList, half, [...why, `${none}: answering ${inList.slice(0, policy.answers).join(', ')} anyway (fail-open inside the tenant's regions), TTL halved`]);
    }
  }
}
