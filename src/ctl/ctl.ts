// `regiondns ctl`: the ops API from a shell. A thin client over global fetch: it validates the
// command line (exit 2), sends one request, prints the answer readably (or --json), and exits 0 on
// 2xx, 1 on an API error (with the API's message) or when the server cannot be reached.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { closestOption } from '../cli/options.js';
import { localTokenFor } from '../ops/local-token.js';
import { formatTrace, type Trace } from '../steering/trace.js';

export const CTL_USAGE = `regiondns ctl: drive a running regiondns fleet through its ops API

Usage:
  regiondns ctl state
  regiondns ctl drain REGION --reason TEXT [--hostname HOST]... [--force]
  regiondns ctl undrain REGION [--reason TEXT]
  regiondns ctl drain-endpoint ADDRESS --reason TEXT [--hostname HOST]... [--force]
  regiondns ctl undrain-endpoint ADDRESS [--reason TEXT]
  regiondns ctl split HOST SET=WEIGHT... [--reason TEXT] [--force]
  regiondns ctl split HOST --clear [--reason TEXT]
  regiondns ctl ramp HOST --set SET --steps 0.1,1,5,25,100 --every 10m [--no-halt] [--reason TEXT]
  regiondns ctl ramp --show HOST
  regiondns ctl ramp --stop HOST [--reason TEXT]
  regiondns ctl explain HOST --client IP[/PREFIX] [--type AAAA]
  regiondns ctl audit [--limit N]
  regiondns ctl health                       every region and check, with each prober's verdict
  regiondns ctl drift                        what is in force that the files do not say (exit 1 if any)
  regiondns ctl reload [--reason TEXT]       every instance reloads its zones from its own files;
                                             one line per instance (exit 1 if any failed or did not report)
  regiondns ctl tenants list [--prefix P] [--limit N] [--cursor SLUG]
  regiondns ctl tenants get SLUG
  regiondns ctl tenants set SLUG REGION [--reason TEXT]
  regiondns ctl tenants delete SLUG [--reason TEXT]
  regiondns ctl tenants import FILE [--reason TEXT]   (CSV "slug,region" lines, or JSON lines)

Options for every command:
  --server URL   the HTTP listener (default $REGIONDNS_SERVER, else http://127.0.0.1:8053)
  --token TOKEN  the token part of a line of the server's --ops-tokens / REGIONDNS_OPS_TOKENS
                 (default $REGIONDNS_TOKEN, else for a loopback server the local token
                 in ./.regiondns/ops-token that a server without tokens made)
  --json         print the API's JSON answer

Exit status: 0 done, 1 the API refused (its message is printed), the server is unreachable, or
(drift) the fleet differs from its files, or (reload) an instance failed or did not report; 2 usage error.`;

export const DEFAULT_SERVER = 'http://127.0.0.1:8053';

export interface CtlIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  fetch: typeof fetch;
  now(): number;
}

class UsageError extends Error {}

const OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  reason: { type: 'string' },
  hostname: { type: 'string', multiple: true },
  force: { type: 'boolean' },
  clear: { type: 'boolean' },
  set: { type: 'string' },
  steps: { type: 'string' },
  every: { type: 'string' },
  'no-halt': { type: 'boolean' },
  stop: { type: 'boolean' },
  show: { type: 'boolean' },
  client: { type: 'string' },
  type: { type: 'string' },
  limit: { type: 'string' },
  prefix: { type: 'string' },
  cursor: { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;
const GLOBAL: OptionName[] = ['server', 'token', 'json', 'help'];
const ALLOWED: Record<string, OptionName[]> = {
  state: [],
  drain: ['reason', 'hostname', 'force'],
  undrain: ['reason'],
  'drain-endpoint': ['reason', 'hostname', 'force'],
  'undrain-endpoint': ['reason'],
  split: ['reason', 'clear', 'force'],
  ramp: ['set', 'steps', 'every', 'no-halt', 'stop', 'show', 'reason'],
  explain: ['client', 'type'],
  audit: ['limit'],
  health: [],
  drift: [],
  reload: ['reason'],
  tenants: ['limit', 'prefix', 'cursor', 'reason'],
};

type Values = { [K in OptionName]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : (typeof OPTIONS)[K]['type'] extends 'string' ? string : boolean };

interface Request {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  /** A body sent as it is (a tenants import), with its content type. */
  raw?: { text: string; type: string };
  print(data: Record<string, unknown>): string;
  /** The exit status of a successful answer (default 0). */
  exit?(data: Record<string, unknown>): number;
}

export async function runCtl(argv: string[], ioIn: Partial<CtlIo> = {}): Promise<number> {
  const io: CtlIo = {
    out: (t) => console.log(t),
    err: (t) => console.error(t),
    env: process.env,
    fetch: globalThis.fetch,
    now: Date.now,
    ...ioIn,
  };
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] });
  } catch (err) {
    const unknown = /Unknown option '(-{1,2})([^']+)'/.exec((err as Error).message);
    const near = unknown ? closestOption(unknown[2], Object.keys(OPTIONS)) : null;
    const what = unknown ? `unknown option ${unknown[1]}${unknown[2]}${near ? `; did you mean --${near}?` : ''}` : (err as Error).message.replace(/\. To specify .*$/s, '');
    io.err(`${what}\n\n${CTL_USAGE}`);
    return 2;
  }
  const [cmd, ...args] = positionals;
  if (values.help) {
    io.out(CTL_USAGE);
    return 0;
  }
  if (cmd === undefined) {
    io.err(CTL_USAGE);
    return 2;
  }
  let req: Request;
  try {
    const allowed = ALLOWED[cmd];
    if (!allowed) {
      const near = closestOption(cmd, Object.keys(ALLOWED));
      throw new UsageError(`unknown ctl command "${cmd}"${near ? `; did you mean ctl ${near}?` : ''}`);
    }
    for (const k of Object.keys(values) as OptionName[]) {
      if (!GLOBAL.includes(k) && !allowed.includes(k)) throw new UsageError(`--${k} is not an option of ctl ${cmd}`);
    }
    req = buildRequest(cmd, args, values, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${CTL_USAGE}`);
      return 2;
    }
    throw err;
  }

  const server = (values.server ?? io.env.REGIONDNS_SERVER ?? DEFAULT_SERVER).replace(/\/+$/, '');
  // Without one given: the local token of a server started by hand in this directory (loopback only).
  const local = values.token === undefined && io.env.REGIONDNS_TOKEN === undefined ? localTokenFor(server) : null;
  const tokenFrom = values.token !== undefined ? '--token' : local !== null ? './.regiondns/ops-token' : 'REGIONDNS_TOKEN';
  let token = values.token ?? io.env.REGIONDNS_TOKEN ?? local ?? undefined;
  // A whole line of the server's token file ("name:token" or "name:token:read"): the token is the
  // second field (tokens never hold a colon, the file format splits on it).
  const line = token ? /^([^:\s]+):([^:\s]+)(?::(read|write))?$/.exec(token) : null;
  if (line) {
    io.err(`note: ${tokenFrom} looks like a line of the server's token file (name:token); using the token part, "${line[2].slice(0, 4)}…", for ${line[1]}`);
    token = line[2];
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  if (req.raw) headers['content-type'] = req.raw.type;
  let res: Response;
  try {
    const body = req.raw ? req.raw.text : req.body === undefined ? undefined : JSON.stringify(req.body);
    res = await io.fetch(`${server}${req.path}`, { method: req.method, headers, body });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    io.err(`error: cannot reach ${server}: ${cause?.code ?? cause?.message ?? (err as Error).message} (is regiondns serve running with --http? set --server or REGIONDNS_SERVER)`);
    return 1;
  }
  const text = await res.text();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = (data as { error?: { code?: string; message?: string } } | null)?.error;
    if (values.json && data !== null) io.out(JSON.stringify(data, null, 2));
    else {
      const code = e?.code ? ` (${e.code})` : '';
      if (res.status === 401 && !token) io.err(`error: ${server} wants a token: pass --token TOKEN or set REGIONDNS_TOKEN (the token part of a line of the server's --ops-tokens file or REGIONDNS_OPS_TOKENS)${code}`);
      else if (res.status === 401) io.err(`error: ${server} does not accept the token from ${tokenFrom}: ${e?.message ?? 'unauthorized'}; check it against the server's --ops-tokens file${code}`);
      else if (res.status === 403) io.err(`error: ${e?.message ?? 'forbidden'}; ${tokenFrom} holds a read-only token (name:token:read on the server)${code}`);
      else io.err(`error: ${e?.message ?? `HTTP ${res.status} ${text.slice(0, 200)}`}${code}`);
    }
    return 1;
  }
  if (data === null || typeof data !== 'object') {
    io.err(`error: the server answered HTTP ${res.status} with something that is not JSON: ${text.slice(0, 200)}`);
    return 1;
  }
  io.out(values.json ? JSON.stringify(data, null, 2) : req.print(data as Record<string, unknown>));
  return req.exit?.(data as Record<string, unknown>) ?? 0;
}

function buildRequest(cmd: string, args: string[], v: Values, io: CtlIo): Request {
  const one = (what: string): string => {
    if (args.length !== 1) throw new UsageError(`ctl ${cmd} takes one ${what}${args.length ? `, not ${args.join(' ')}` : ''}`);
    return args[0];
  };
  const reasonBody = v.reason !== undefined ? { reason: v.reason } : undefined;
  const message = (d: Record<string, unknown>) => String(d.message ?? '');
  switch (cmd) {
    case 'state':
      if (args.length) throw new UsageError('ctl state takes no arguments');
      return { method: 'GET', path: '/v1/state', print: (d) => formatState(d as unknown as StateView, io.now()) };
    case 'drain':
    case 'drain-endpoint': {
      const endpoint = cmd === 'drain-endpoint';
      const target = one(endpoint ? 'ADDRESS' : 'REGION');
      if (!v.reason) throw new UsageError(`ctl ${cmd} needs --reason TEXT (it goes to the audit log)`);
      const body: Record<string, unknown> = { reason: v.reason };
      if (v.hostname?.length) body.hostnames = v.hostname;
      if (v.force) body.force = true;
      return { method: 'POST', path: `/v1/${endpoint ? 'endpoints' : 'regions'}/${enc(target)}/drain`, body, print: message };
    }
    case 'undrain':
      return { method: 'DELETE', path: `/v1/regions/${enc(one('REGION'))}/drain`, body: reasonBody, print: message };
    case 'undrain-endpoint':
      return { method: 'DELETE', path: `/v1/endpoints/${enc(one('ADDRESS'))}/drain`, body: reasonBody, print: message };
    case 'split': {
      const [host, ...pairs] = args;
      if (!host) throw new UsageError('ctl split needs a HOST');
      if (v.clear) {
        if (pairs.length) throw new UsageError('ctl split HOST --clear takes no SET=WEIGHT');
        return { method: 'DELETE', path: `/v1/hostnames/${enc(host)}/split`, body: reasonBody, print: message };
      }
      if (!pairs.length) throw new UsageError('ctl split needs SET=WEIGHT for every record set (e.g. stable=99 canary=1), or --clear');
      const sets = pairs.map((p) => {
        const m = /^([^=]+)=(.+)$/.exec(p);
        const weight = m ? Number(m[2]) : NaN;
        if (!m || !Number.isFinite(weight)) throw new UsageError(`"${p}" is not SET=WEIGHT (e.g. canary=1)`);
        return { name: m[1], weight };
      });
      return { method: 'PUT', path: `/v1/hostnames/${enc(host)}/split`, body: { sets, ...(reasonBody ?? {}), ...(v.force ? { force: true } : {}) }, print: message };
    }
    case 'ramp': {
      const host = one('HOST');
      if (v.show && v.stop) throw new UsageError('ctl ramp takes --show or --stop, not both');
      const startOpts = (['set', 'steps', 'every', 'no-halt'] as const).filter((k) => v[k] !== undefined);
      if ((v.show || v.stop) && startOpts.length) throw new UsageError(`--${startOpts[0]} starts a ramp; it does not go with --${v.show ? 'show' : 'stop'}`);
      if (v.show) {
        if (v.reason !== undefined) throw new UsageError('--reason does not go with --show');
        return { method: 'GET', path: `/v1/hostnames/${enc(host)}/ramp`, print: (d) => formatRamp(d.ramp as RampView, d.nextStepInMs as number | null) };
      }
      if (v.stop) return { method: 'DELETE', path: `/v1/hostnames/${enc(host)}/ramp`, body: reasonBody, print: message };
      if (!v.set || !v.steps || !v.every) throw new UsageError('ctl ramp HOST needs --set SET --steps LIST --every DURATION (or --show / --stop)');
      const steps = v.steps.split(',').map((s) => {
        const n = Number(s.trim());
        if (s.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--steps: "${s}" is not a number (e.g. 0.1,1,5,25,100)`);
        return n;
      });
      const body: Record<string, unknown> = { set: v.set, steps, every: v.every, 'halt-on': { 'unhealthy-regions': !v['no-halt'] } };
      if (v.reason !== undefined) body.reason = v.reason;
      return { method: 'POST', path: `/v1/hostnames/${enc(host)}/ramp`, body, print: message };
    }
    case 'explain': {
      const host = one('HOST');
      if (!v.client) throw new UsageError('ctl explain needs --client IP[/PREFIX]');
      const q = new URLSearchParams({ hostname: host, client: v.client, ...(v.type ? { type: v.type } : {}) });
      return {
        method: 'GET', path: `/v1/explain?${q}`,
        print: (d) => (d.trace ? formatTrace(d.trace as Trace) + '\n' : '') + String(d.summary ?? ''),
      };
    }
    case 'audit': {
      if (args.length) throw new UsageError('ctl audit takes no arguments');
      if (v.limit !== undefined && !/^[0-9]+$/.test(v.limit)) throw new UsageError('--limit takes a number');
      return { method: 'GET', path: `/v1/audit${v.limit ? `?limit=${v.limit}` : ''}`, print: (d) => formatAudit(d.entries as AuditView[]) };
    }
    case 'health':
      if (args.length) throw new UsageError('ctl health takes no arguments');
      return { method: 'GET', path: '/v1/health', print: (d) => formatHealth(d as unknown as HealthView) };
    case 'drift':
      if (args.length) throw new UsageError('ctl drift takes no arguments');
      return {
        method: 'GET', path: '/v1/drift',
        print: (d) => ((d.findings as string[]).length ? (d.findings as string[]).join('\n') : 'in sync: the fleet does what its files say'),
        exit: (d) => (d.inSync ? 0 : 1),
      };
    case 'reload':
      if (args.length) throw new UsageError('ctl reload takes no arguments (every instance reloads its own zones folder)');
      return {
        method: 'POST', path: '/v1/reload', body: reasonBody ?? {},
        print: (d) => formatReload(d as unknown as ReloadView),
        exit: (d) => (d.ok ? 0 : 1),
      };
    case 'tenants':
      return tenantsRequest(args, v, reasonBody, message);
  }
  throw new UsageError(`unknown ctl command "${cmd}"`);
}

function tenantsRequest(args: string[], v: Values, reasonBody: { reason: string } | undefined, message: (d: Record<string, unknown>) => string): Request {
  const [sub, ...rest] = args;
  const want = (n: number, what: string) => {
    if (rest.length !== n) throw new UsageError(`ctl tenants ${sub} takes ${what}`);
  };
  if (sub !== 'list' && (v.prefix !== undefined || v.cursor !== undefined || v.limit !== undefined)) throw new UsageError('--prefix, --cursor and --limit go with ctl tenants list');
  switch (sub) {
    case 'list': {
      want(0, 'no arguments (filter with --prefix)');
      if (v.limit !== undefined && !/^[0-9]+$/.test(v.limit)) throw new UsageError('--limit takes a number');
      const q = new URLSearchParams({ ...(v.prefix ? { prefix: v.prefix } : {}), ...(v.cursor ? { cursor: v.cursor } : {}), ...(v.limit ? { limit: v.limit } : {}) });
      return {
        method: 'GET', path: `/v1/tenants${q.size ? `?${q}` : ''}`,
        print: (d) => {
          const rows = (d.tenants as { slug: string; region: string; source: string }[]).map((t) => [t.slug, t.region, t.source]);
          const more = d.next ? `\n(more: --cursor ${String(d.next)})` : '';
          return rows.length ? columns([['TENANT', 'REGION', 'FROM'], ...rows]) + more : 'no tenants';
        },
      };
    }
    case 'get':
      want(1, 'one SLUG');
      return {
        method: 'GET', path: `/v1/tenants/${enc(rest[0])}`,
        print: (d) => `${String(d.slug)} → ${String(d.region)} (from the ${d.source === 'api' ? 'ops API' : 'tenants file'})`,
      };
    case 'set':
      want(2, 'SLUG REGION');
      return { method: 'PUT', path: `/v1/tenants/${enc(rest[0])}`, body: { region: rest[1], ...(reasonBody ?? {}) }, print: message };
    case 'delete':
      want(1, 'one SLUG');
      return { method: 'DELETE', path: `/v1/tenants/${enc(rest[0])}`, body: reasonBody, print: message };
    case 'import': {
      want(1, 'one FILE (CSV "slug,region" lines, or JSON lines)');
      let text: string;
      try {
        text = readFileSync(rest[0], 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read ${rest[0]}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const type = /\.(jsonl|ndjson|json)$/i.test(rest[0]) ? 'application/x-ndjson' : 'text/csv';
      const q = v.reason !== undefined ? `?${new URLSearchParams({ reason: v.reason })}` : '';
      return { method: 'POST', path: `/v1/tenants:import${q}`, raw: { text, type }, print: message };
    }
  }
  throw new UsageError(`ctl tenants takes list, get, set, delete or import${sub ? ` (not "${sub}")` : ''}`);
}

interface HealthView {
  prober: string | null;
  regions: Record<string, { operational: boolean; reason: string; stale: boolean; checks: Record<string, { target: string; up: boolean; stale: boolean; cause: string; voters: { prober: string; up: boolean; fresh?: boolean; cause?: string }[] }> }>;
}

function formatHealth(d: HealthView): string {
  const rows = [['REGION', 'CHECK', 'VERDICT', 'TARGET', 'CAUSE', 'VOTES']];
  for (const [region, r] of Object.entries(d.regions)) {
    const checks = Object.entries(r.checks);
    if (checks.length === 0) rows.push([region, '-', r.operational ? 'up' : 'DOWN', '-', 'no checks', '']);
    for (const [name, c] of checks) {
      const votes = c.voters.map((x) => `${x.prober}:${x.up ? 'up' : 'down'}`).join(' ');
      rows.push([region, name, c.stale ? 'STALE' : c.up ? 'up' : 'DOWN', c.target, c.cause, votes]);
    }
  }
  return columns(rows);
}

interface ReloadView {
  ok: boolean;
  instances: { id: string; ok: boolean; hash: string; serials: Record<string, number | null>; error: string | null }[];
  notReported: string[];
  error: string | null;
}

/** One line per instance: reloaded (what it serves now), failed (its errors, indented), or silent. */
function formatReload(d: ReloadView): string {
  const width = Math.max(0, ...d.instances.map((i) => i.id.length), ...d.notReported.map((i) => i.length));
  const lines: string[] = [];
  for (const i of d.instances) {
    const serials = Object.entries(i.serials).map(([z, n]) => `${z} ${n ?? 'no SOA'}`).join(', ');
    if (i.ok) lines.push(`${i.id.padEnd(width)}  reloaded: content ${i.hash}${serials ? `, serials ${serials}` : ''}`);
    else lines.push(`${i.id.padEnd(width)}  FAILED, still serving content ${i.hash}: ${(i.error ?? '').split('\n').join(`\n${' '.repeat(width + 4)}`)}`);
  }
  for (const id of d.notReported) lines.push(`${id.padEnd(width)}  did not report the reload in time`);
  if (d.error) lines.push(`note: ${d.error}`);
  return lines.join('\n');
}

const enc = encodeURIComponent;

// ---- text output ---------------------------------------------------------------------------------

interface RampView { fqdn: string; set: string; steps: number[]; everyMs: number; step: number; nextAt: number; state: string; haltReason: string | null; by: string; startedAt: number }
interface StateView {
  version: number;
  snapshotVersion: number;
  instance: string;
  store?: { detail: string };
  regions: { id: string; health: { up: boolean; reason: string }; drained: boolean; drain: { reason: string; by: string; at: number; hostnames: string[] | null } | null }[];
  endpointDrains?: { address: string; reason: string; by: string; at: number; hostnames: string[] | null }[];
  hostnames: {
    fqdn: string;
    sets: { name: string; regions: string[]; fileWeight: number; weight: number; share: number }[];
    override: { by: string; at: number } | null;
    ramp: RampView | null;
  }[];
}
interface AuditView { id: number; at: number; version: number; actor: string; action: string; target: string; reason: string | null }

/** Left-aligned columns, two spaces apart. */
export function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

function ago(at: number, now: number): string {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

function inTime(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}` : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function formatState(d: StateView, now: number): string {
  const out: string[] = [`fleet store version ${d.version}${d.store ? ` (${d.store.detail})` : ''}, snapshot ${d.snapshotVersion}, instance ${d.instance}`, ''];
  const rows = [['REGION', 'HEALTH', 'DRAIN']];
  for (const r of d.regions) {
    const drain = r.drain
      ? `drained by ${r.drain.by} ${ago(r.drain.at, now)}: ${r.drain.reason}${r.drain.hostnames ? ` (only ${r.drain.hostnames.join(', ')})` : ''}`
      : '-';
    rows.push([r.id, r.health.up ? 'up' : `DOWN: ${r.health.reason}`, drain]);
  }
  out.push(columns(rows));
  if (d.endpointDrains?.length) {
    const eps = [['ENDPOINT', 'DRAIN']];
    for (const e of d.endpointDrains) eps.push([e.address, `drained by ${e.by} ${ago(e.at, now)}: ${e.reason}${e.hostnames ? ` (only ${e.hostnames.join(', ')})` : ''}`]);
    out.push('', columns(eps));
  }
  for (const h of d.hostnames) {
    out.push('', h.fqdn);
    const setRows = [['  SET', 'REGIONS', 'FILE', 'NOW', 'SHARE']];
    for (const s of h.sets) setRows.push([`  ${s.name}`, s.regions.join(','), String(s.fileWeight), String(s.weight), `${s.share}%`]);
    out.push(columns(setRows));
    if (h.override) out.push(`  split set by ${h.override.by} ${ago(h.override.at, now)}`);
    if (h.ramp) out.push(`  ${formatRamp(h.ramp, h.ramp.state === 'running' ? h.ramp.nextAt - now : null)}`);
  }
  return out.join('\n');
}

function formatRamp(r: RampView, nextInMs: number | null): string {
  const where = `step ${r.step + 1}/${r.steps.length} (${r.set} ${r.steps[r.step]}%; steps ${r.steps.join(', ')}; every ${inTime(r.everyMs)})`;
  const status = r.state === 'running'
    ? `next step${nextInMs !== null && nextInMs > 0 ? ` in ${inTime(nextInMs)}` : ' due now'}`
    : r.state === 'halted' ? `HALTED: ${r.haltReason ?? ''}` : 'done';
  return `ramp of ${r.fqdn} by ${r.by}: ${r.state}, ${where}, ${status}`;
}

function formatAudit(entries: AuditView[]): string {
  if (!entries.length) return 'no audit entries';
  return columns([
    ['AT', 'VERSION', 'ACTOR', 'ACTION', 'TARGET', 'REASON'],
    ...entries.map((e) => [new Date(e.at).toISOString(), String(e.version), e.actor, e.action, e.target, e.reason ?? '']),
  ]);
}
