// `regiondns plan --zones NEW [--against DIR | --server URL]`: loads the new configuration, compares
// it with the files in force (a folder) or with what a running instance serves (its ops API), and
// prints what would change. Exit 0: no change; 2: changes; 1: the new configuration has errors or
// the server cannot be asked.

import { formatConfigError } from '../config/errors.js';
import { loadConfig } from '../server/load-config.js';
import { parseCommand, UsageError, type OptionSpec } from '../cli/options.js';
import type { Endpoints, HostnamePolicy, Region, SteeringConfig } from '../steering/policy.js';
import { countryPlaces } from './places.js';
import { formatPlan, hasChanges, plan, planChecks, type PlanCheck, type PlanConfig } from './plan.js';

export const PLAN_HELP = `Usage: regiondns plan --zones NEW [--against DIR | --server URL] [options]

What a new configuration would change, before it reaches the fleet: for each steered hostname,
which client populations get a different answer (per country, and by region), which record sets,
weights and pools change, and which health checks are added or removed. Exit 0 with no change,
2 with changes, 1 when the new configuration has errors.

Options (default in parentheses):
  --zones NEW            the new zones folder (required)
  --against DIR          the folder in force to compare with (./zones)
  --server URL           compare with a running instance instead (its ops API): record sets,
                         weights in force and checks; pools, TTLs and answer counts need --against
  --token TOKEN          ops API token for --server ($REGIONDNS_TOKEN)
  --latency-table FILE   a latency table both sides use
  --json                 the plan as JSON`;

export const PLAN_OPTIONS = {
  zones: { type: 'string' },
  against: { type: 'string' },
  server: { type: 'string' },
  token: { type: 'string' },
  'latency-table': { type: 'string' },
  json: { type: 'boolean', default: false },
} as const satisfies OptionSpec;

const USAGE_LINE = 'regiondns plan --zones NEW [--against DIR | --server URL]';

export async function cmdPlan(argv: string[], io: { out(t: string): void; err(t: string): void; env: NodeJS.ProcessEnv } = { out: console.log, err: console.error, env: process.env }): Promise<number> {
  const parsed = parseCommand('plan', argv, PLAN_OPTIONS, PLAN_HELP);
  if (!parsed) {
    io.out(PLAN_HELP);
    return 0;
  }
  const v = parsed.values;
  if (!v.zones) throw new UsageError('plan needs --zones NEW (the folder you are about to deploy)', USAGE_LINE);
  if (v.against && v.server) throw new UsageError('plan compares with --against DIR or --server URL, not both', USAGE_LINE);
  if (parsed.positionals.length) throw new UsageError(`plan takes no arguments (got ${parsed.positionals.join(' ')})`, USAGE_LINE);
  const latencyTablePath = v['latency-table'] ?? null;
  const next = loadConfig(v.zones, { latencyTablePath });
  if (next.errors.length) {
    for (const e of next.errors) io.err(formatConfigError(e));
    io.err(`${v.zones} has ${next.errors.length} error${next.errors.length === 1 ? '' : 's'}: nothing to plan`);
    return 1;
  }
  const after: PlanConfig = { steering: next.steering, checks: planChecks(next.health.regions), latencyTable: next.latencyTable };
  let before: PlanConfig;
  let what: string;
  if (v.server) {
    const server = v.server.replace(/\/+$/, '');
    try {
      before = await fromServer(server, v.token ?? io.env.REGIONDNS_TOKEN, after);
    } catch (err) {
      io.err(`error: cannot read the state of ${server}: ${(err as Error).message}`);
      return 1;
    }
    what = `${v.zones} against what ${server} serves now`;
  } else {
    const dir = v.against ?? 'zones';
    const cur = loadConfig(dir, { latencyTablePath });
    if (cur.errors.length) {
      for (const e of cur.errors) io.err(formatConfigError(e));
      io.err(`${dir} (the configuration in force) has errors; compare with --server URL instead`);
      return 1;
    }
    before = { steering: cur.steering, checks: planChecks(cur.health.regions), latencyTable: cur.latencyTable };
    what = `${v.zones} against ${dir}`;
  }
  const report = plan(before, after, countryPlaces());
  io.out(v.json ? JSON.stringify(report, null, 2) : formatPlan(report, what));
  return hasChanges(report) ? 2 : 0;
}

interface StateBody {
  regions: { id: string; location: { lat: number; lon: number } | null }[];
  hostnames: { fqdn: string; sets: { name: string; regions: string[]; weight: number }[] }[];
}

interface HealthBody {
  regions: Record<string, { checks: Record<string, { target: string; intervalMs: number; rise: number; fall: number }> }>;
}

/**
 * The configuration a running instance serves, as far as its ops API shows it: regions, record sets
 * with the weights in force, and checks. Pools, TTLs and answer counts are taken from the new
 * configuration, so only --against compares those.
 */
async function fromServer(server: string, token: string | undefined, like: PlanConfig): Promise<PlanConfig> {
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${server}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const body = (await res.json()) as T & { error?: { message?: string } };
    if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
    return body;
  };
  const state = await get<StateBody>('/v1/state');
  const health = await get<HealthBody>('/v1/health').catch(() => ({ regions: {} }) as HealthBody);
  const regions = new Map<string, Region>();
  const checks = new Map<string, PlanCheck[]>();
  for (const r of state.regions) {
    regions.set(r.id, { id: r.id, location: r.location ?? { lat: 0, lon: 0 }, file: server, line: 0 });
    checks.set(r.id, Object.entries(health.regions[r.id]?.checks ?? {}).map(([name, c]) => ({ name, target: c.target, intervalMs: c.intervalMs, rise: c.rise, fall: c.fall })));
  }
  const hostnames = new Map<string, HostnamePolicy>();
  const empty: Endpoints = { v4: [], v6: [], v4Text: [], v6Text: [] };
  for (const h of state.hostnames) {
    const same = like.steering.hostnames.get(h.fqdn);
    const sets = h.sets.map((s) => ({ name: s.name, weight: s.weight, regions: s.regions }));
    hostnames.set(h.fqdn, {
      fqdn: h.fqdn, zone: same?.zone ?? '', ttl: same?.ttl ?? 0, answers: same?.answers ?? 1,
      pools: same?.pools ?? new Map(h.sets.flatMap((s) => s.regions).map((r) => [r, empty])),
      sets, weights: sets.map((s) => s.weight), sticky: same?.sticky ?? 'none', whenAllDown: same?.whenAllDown ?? { kind: 'fail-open' },
      file: server, line: 0,
    });
  }
  const steering: SteeringConfig = { regions, hostnames };
  return { steering, checks, latencyTable: like.latencyTable };
}
