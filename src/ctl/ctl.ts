// `regiondns ctl`: the ops API from a shell. A thin client over global fetch: it validates the
// command line (exit 2), sends one request, prints the answer readably (or --json), and exits 0 on
// 2xx, 1 on an API error (with the API's message) or when the server cannot be reached.

import { parseArgs } from 'node:util';
import { formatTrace, type Trace } from '../steering/trace.js';

export const CTL_USAGE = `regiondns ctl: drive a running regiondns fleet through its ops API

Usage:
  regiondns ctl state
  regiondns ctl drain REGION --reason TEXT [--hostname HOST]... [--force]
  regiondns ctl undrain REGION [--reason TEXT]
  regiondns ctl drain-endpoint ADDRESS --reason TEXT [--hostname HOST]... [--force]
  regiondns ctl undrain-endpoint ADDRESS [--reason TEXT]
  regiondns ctl split HOST SET=WEIGHT... [--reason TEXT]
  regiondns ctl split HOST --clear [--reason TEXT]
  regiondns ctl ramp HOST --set SET --steps 0.1,1,5,25,100 --every 10m [--no-halt] [--reason TEXT]
  regiondns ctl ramp --show HOST
  regiondns ctl ramp --stop HOST [--reason TEXT]
  regiondns ctl explain HOST --client IP[/PREFIX] [--type AAAA]
  regiondns ctl audit [--limit N]

Options for every command:
  --server URL   the HTTP listener (default $REGIONDNS_SERVER, else http://127.0.0.1:8053)
  --token TOKEN  a token of --ops-tokens / REGIONDNS_OPS_TOKENS (default $REGIONDNS_TOKEN)
  --json         print the API's JSON answer

Exit status: 0 done, 1 the API refused (its message is printed) or the server is unreachable, 2 usage error.`;

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
} as const;

type OptionName = keyof typeof OPTIONS;
const GLOBAL: OptionName[] = ['server', 'token', 'json', 'help'];
const ALLOWED: Record<string, OptionName[]> = {
  state: [],
  drain: ['reason', 'hostname', 'force'],
  undrain: ['reason'],
  'drain-endpoint': ['reason', 'hostname', 'force'],
  'undrain-endpoint': ['reason'],
  split: ['reason', 'clear'],
  ramp: ['set', 'steps', 'every', 'no-halt', 'stop', 'show', 'reason'],
  explain: ['client', 'type'],
  audit: ['limit'],
};

type Values = { [K in OptionName]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : (typeof OPTIONS)[K]['type'] extends 'string' ? string : boolean };

interface Request {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  print(data: Record<string, unknown>): string;
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
    io.err(`${(err as Error).message}\n\n${CTL_USAGE}`);
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
    if (!allowed) throw new UsageError(`unknown ctl command "${cmd}"`);
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
  const token = values.token ?? io.env.REGIONDNS_TOKEN;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await io.fetch(`${server}${req.path}`, { method: req.method, headers, body: req.body === undefined ? undefined : JSON.stringify(req.body) });
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
    else io.err(`error: ${e?.message ?? `HTTP ${res.status} ${text.slice(0, 200)}`}${e?.code ? ` (${e.code})` : ''}`);
    return 1;
  }
  if (data === null || typeof data !== 'object') {
    io.err(`error: the server answered HTTP ${res.status} with something that is not JSON: ${text.slice(0, 200)}`);
    return 1;
  }
  io.out(values.json ? JSON.stringify(data, null, 2) : req.print(data as Record<string, unknown>));
  return 0;
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
      return { method: 'PUT', path: `/v1/hostnames/${enc(host)}/split`, body: { sets, ...(reasonBody ?? {}) }, print: message };
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
  }
  throw new UsageError(`unknown ctl command "${cmd}"`);
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
