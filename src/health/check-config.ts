// Health checks as users write them under a region in regions.yaml, and what a probe reports.
// Validation is two passes like the rest of the steering files: zod schemas check each check's
// shape (run by the loader, which knows the YAML lines), then plain code checks values and ranges.
// Every error names the check ("eu-central/http#0") and what to write instead.

import { parseDuration } from '../config/duration.js';
import * as z from 'zod';
import type { RegionId } from '../core/region-id.js';
import { CheckError } from '../config/error-codes.js';
import type { ConfigErrorCode } from '../config/error-codes.js';

/** `<region>/<name>`, or `<region>/<type>#<index in the checks list>` for a check without a name. */
export type CheckId = string;

export { CheckError };

export const CHECK_TYPES = ['http', 'tcp'] as const;
export type CheckType = (typeof CHECK_TYPES)[number];

export const CHECK_DEFAULTS = {
  intervalMs: 5_000,
  timeoutMs: 2_000,
  rise: 2,
  fall: 3,
  initialState: 'up',
  /** Each wait is interval × (1 ± jitter), so probers started together drift apart. */
  jitter: 0.1,
  method: 'GET',
  expect: [200] as readonly number[],
  tlsVerify: true,
} as const;

export const MIN_INTERVAL_MS = 100;
export const MAX_INTERVAL_MS = 3_600_000;
export const MIN_TIMEOUT_MS = 10;
export const MAX_THRESHOLD = 100;
/** An http check reads at most this much of a body to look for `body`. */
export const MAX_BODY_BYTES = 64 * 1024;

interface CheckBase {
  id: CheckId;
  region: RegionId;
  /** The part of the id after "<region>/": the name, or "<type>#<index>". */
  name: string;
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  /** Fraction of the interval each wait may vary by (0.1 = ±10%). */
  jitter: number;
  /** The state before the first verdict (and of a check nobody has a fresh verdict for yet). */
  initialState: 'up' | 'down';
  /** Written under a pool endpoint rather than a region: no per-check metric series (see endpoint-checks.ts). */
  endpoint?: true;
  file: string;
  line: number;
}

export interface HttpCheck extends CheckBase {
  type: 'http';
  url: string;
  method: string;
  /** Statuses that pass. */
  expect: readonly number[];
  /** A substring the first MAX_BODY_BYTES of the body must contain; null = body not read. */
  body: string | null;
  /** Sent as given; `Host` overrides the URL's host (and the TLS server name follows it). */
  headers: Readonly<Record<string, string>>;
  tlsVerify: boolean;
}

export interface TcpCheck extends CheckBase {
  type: 'tcp';
  host: string;
  port: number;
}

export type CheckConfig = HttpCheck | TcpCheck;

/** What one probe found: raw pass/fail, before any rise/fall. */
export interface ProbeResult {
  ok: boolean;
  /** "HTTP 200", "HTTP 500 (expected 200)", "timeout after 2000 ms", "connection refused", "TLS: …", "DNS: …" */
  cause: string;
  durationMs: number;
  /**
   * Set when the probe failed for a reason of this prober's own (out of descriptors or buffers, no
   * local address, an event loop stalled past the timeout): it says nothing about the target.
   */
  local?: LocalFailure;
}

/** A prober's own failures, as the `reason` of regiondns_probes_skipped_total. */
export const LOCAL_FAILURES = ['emfile', 'enfile', 'enobufs', 'eaddrnotavail', 'stalled'] as const;
export type LocalFailure = (typeof LOCAL_FAILURES)[number];

/** Whether two checks probe the same way (where they were written does not count): a reload keeps such a check running. */
export function sameCheck(a: CheckConfig, b: CheckConfig): boolean {
  return probeKey(a) === probeKey(b);
}

function probeKey(c: CheckConfig): string {
  const { file: _file, line: _line, ...rest } = c;
  return sortedJson(rest);
}

/** What a check probes and how, without its name or where it is written: equal for identical checks. */
export function probeIdentity(c: CheckConfig): string {
  const { file: _file, line: _line, id: _id, region: _region, name: _name, endpoint: _endpoint, ...rest } = c;
  return sortedJson(rest);
}

function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1))) : v);
}

/** What a check probes, for reports and logs: never headers (they may carry credentials). */
export function checkTarget(c: CheckConfig): string {
  if (c.type === 'tcp') return `tcp ${formatHostPort(c.host, c.port)}`;
  const u = new URL(c.url);
  u.username = '';
  u.password = '';
  return `${c.method} ${u.href}`;
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

// --- shapes (run by the loader, which maps issues to lines) ---------------------------------------

function strictShape<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `allowed keys: ${allowed}` : undefined),
  });
}

// Durations and `expect` take several forms; they are checked by hand for better messages.
const common = {
  type: z.enum(CHECK_TYPES),
  name: z.string().optional(),
  interval: z.unknown().optional(),
  timeout: z.unknown().optional(),
  rise: z.number().optional(),
  fall: z.number().optional(),
  'initial-state': z.enum(['up', 'down']).optional(),
};
const HttpCheckSchema = strictShape({
  ...common,
  url: z.string(),
  method: z.string().optional(),
  expect: z.unknown().optional(),
  body: z.string().optional(),
  headers: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  'tls-verify': z.boolean().optional(),
});
const TcpCheckSchema = strictShape({ ...common, address: z.string() });
const TypeOnly = z.object({ type: z.string() });

// --- values ---------------------------------------------------------------------------------------

/** A path below the region's `checks` list: [index, key, ...]. */
export type CheckPath = readonly (string | number)[];

/** Where checks are read from: the loader gives line numbers and records errors. */
export interface CheckSite {
  readonly file: string;
  line(path: CheckPath): number;
  error(code: ConfigErrorCode, path: CheckPath, message: string): void;
  /** Runs a shape schema on the value at `path`, recording every issue; null on failure. */
  shape<T>(schema: z.ZodType<T>, path: CheckPath): T | null;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Validates a region's `checks` list; returns the checks that are valid (errors go to `site`). */
export function parseChecks(region: RegionId, raw: readonly unknown[], site: CheckSite): CheckConfig[] {
  const out: CheckConfig[] = [];
  const ids = new Map<CheckId, number>();
  raw.forEach((_item, index) => {
    const c = parseCheck(region, index, site);
    if (!c) return;
    const first = ids.get(c.id);
    if (first !== undefined) {
      site.error(CheckError.DUPLICATE, [index, 'name'], `check id ${c.id} is used twice (first at line ${first}); give each check its own name`);
      return;
    }
    ids.set(c.id, c.line);
    out.push(c);
  });
  return out;
}

function parseCheck(region: RegionId, index: number, site: CheckSite): CheckConfig | null {
  const typed = site.shape(TypeOnly, [index]);
  if (!typed) return null;
  if (!(CHECK_TYPES as readonly string[]).includes(typed.type)) {
    site.error(CheckError.BAD_VALUE, [index, 'type'], `check type "${typed.type}" must be one of ${CHECK_TYPES.map((t) => `"${t}"`).join(', ')}`);
    return null;
  }
  const http = typed.type === 'http' ? site.shape(HttpCheckSchema, [index]) : null;
  const tcp = typed.type === 'tcp' ? site.shape(TcpCheckSchema, [index]) : null;
  const shaped = http ?? tcp;
  if (!shaped) return null;
  const { site: s, count } = countingSite(site);

  let name = `${typed.type}#${index}`;
  if (shaped.name !== undefined) {
    if (NAME_PATTERN.test(shaped.name)) name = shaped.name;
    else s.error(CheckError.BAD_NAME, [index, 'name'], `check name "${shaped.name}" must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  const id = `${region}/${name}`;
  const at = (key: string): CheckPath => [index, key];

  const intervalMs = duration(s, at('interval'), id, 'interval', shaped.interval, CHECK_DEFAULTS.intervalMs, MIN_INTERVAL_MS, MAX_INTERVAL_MS);
  // With a short interval and no timeout written, the default shrinks to half the interval rather than fail.
  const defaultTimeout = Math.min(CHECK_DEFAULTS.timeoutMs, Math.floor((intervalMs ?? CHECK_DEFAULTS.intervalMs) / 2));
  const timeoutMs = duration(s, at('timeout'), id, 'timeout', shaped.timeout, defaultTimeout, MIN_TIMEOUT_MS, MAX_INTERVAL_MS);
  if (intervalMs !== null && timeoutMs !== null && timeoutMs >= intervalMs) {
    s.error(CheckError.TIMEOUT, at('timeout'), `check ${id}: timeout ${timeoutMs} ms must be shorter than interval ${intervalMs} ms (a probe must end before the next is due)`);
  }
  const rise = threshold(s, at('rise'), id, 'rise', shaped.rise ?? CHECK_DEFAULTS.rise);
  const fall = threshold(s, at('fall'), id, 'fall', shaped.fall ?? CHECK_DEFAULTS.fall);

  const base: CheckBase = {
    id, region, name, intervalMs: intervalMs ?? 0, timeoutMs: timeoutMs ?? 0, rise, fall,
    jitter: CHECK_DEFAULTS.jitter, initialState: shaped['initial-state'] ?? CHECK_DEFAULTS.initialState,
    file: site.file, line: site.line([index]),
  };

  const check = http ? httpCheck(s, index, id, base, http) : tcpCheck(s, index, id, base, tcp!.address);
  return count() > 0 ? null : check;
}

function httpCheck(s: CheckSite, index: number, id: CheckId, base: CheckBase, h: z.infer<typeof HttpCheckSchema>): HttpCheck | null {
  let url: URL | null = null;
  try {
    url = new URL(h.url);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    s.error(CheckError.URL, [index, 'url'], `check ${id}: url ${JSON.stringify(h.url)} must be an absolute http:// or https:// URL`);
  }
  const method = (h.method ?? CHECK_DEFAULTS.method).toUpperCase();
  if (!TOKEN.test(method)) s.error(CheckError.METHOD, [index, 'method'], `check ${id}: method ${JSON.stringify(h.method)} is not an HTTP method`);
  const expect = statuses(s, [index, 'expect'], id, h.expect);
  if (h.body === '') s.error(CheckError.BAD_VALUE, [index, 'body'], `check ${id}: body "" matches anything; remove it or give the text the body must contain`);

  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(h.headers ?? {})) {
    const value = String(v);
    if (!TOKEN.test(k)) s.error(CheckError.HEADER, [index, 'headers', k], `check ${id}: header name ${JSON.stringify(k)} is not a valid HTTP header name`);
    else if (/[\r\n\0]/.test(value)) s.error(CheckError.HEADER, [index, 'headers', k], `check ${id}: header ${k} must not contain line breaks`);
    else headers[k] = value;
  }
  if (!url || expect === null) return null;
  return {
    ...base, type: 'http', url: url.href, method, expect, body: h.body ?? null, headers,
    tlsVerify: h['tls-verify'] ?? CHECK_DEFAULTS.tlsVerify,
  };
}

function tcpCheck(s: CheckSite, index: number, id: CheckId, base: CheckBase, address: string): TcpCheck | null {
  const hp = parseHostPort(address);
  if (!hp) {
    s.error(CheckError.ADDRESS, [index, 'address'], `check ${id}: address ${JSON.stringify(address)} must be host:port, e.g. 10.1.0.10:443 or [2001:db8::10]:443`);
    return null;
  }
  return { ...base, type: 'tcp', host: hp.host, port: hp.port };
}

/** "host:port", "[v6]:port"; null when malformed. */
export function parseHostPort(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2], port };
}

function duration(s: CheckSite, path: CheckPath, id: CheckId, key: string, raw: unknown, dflt: number, min: number, max: number): number | null {
  if (raw === undefined) return dflt;
  const parsed = typeof raw === 'string' || typeof raw === 'number' ? parseDuration(raw, null) : null;
  if (!parsed?.ok) {
    s.error(CheckError.DURATION, path, `check ${id}: ${key} ${parsed ? parsed.message : `${JSON.stringify(raw)} is not a duration like 500ms, 5s or 1m`}`);
    return null;
  }
  const ms = parsed.ms;
  if (ms < min || ms > max) {
    s.error(CheckError.DURATION, path, `check ${id}: ${key} ${raw} must be from ${min} ms to ${max / 60_000} m`);
    return null;
  }
  return ms;
}

function threshold(s: CheckSite, path: CheckPath, id: CheckId, key: string, n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_THRESHOLD) {
    s.error(CheckError.THRESHOLD, path, `check ${id}: ${key} ${n} must be a whole number of probes from 1 to ${MAX_THRESHOLD}`);
  }
  return n;
}

function statuses(s: CheckSite, path: CheckPath, id: CheckId, raw: unknown): readonly number[] | null {
  if (raw === undefined) return CHECK_DEFAULTS.expect;
  const list = Array.isArray(raw) ? raw : [raw];
  const bad = list.find((n) => typeof n !== 'number' || !Number.isInteger(n) || n < 100 || n > 599);
  if (list.length === 0 || bad !== undefined) {
    const what = list.length === 0 ? 'is an empty list' : `has ${JSON.stringify(bad)}`;
    s.error(CheckError.STATUS, path, `check ${id}: expect ${what}; give an HTTP status (100-599) or a list of them, e.g. [200, 204]`);
    return null;
  }
  return [...new Set(list as number[])];
}

/** Wraps a site to count the errors recorded through it. */
function countingSite(site: CheckSite): { site: CheckSite; count: () => number } {
  let n = 0;
  return {
    count: () => n,
    site: {
      file: site.file,
      line: (p) => site.line(p),
      error: (code, p, m) => { n++; site.error(code, p, m); },
      shape: (schema, p) => site.shape(schema, p),
    },
  };
}
