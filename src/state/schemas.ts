// What each namespace of the fleet store may hold, as schemas. Everything read back from a store
// (Redis hashes, the local database, pub/sub and worker messages) is untrusted input: it is parsed
// here before any snapshot sees it, so a bad entry is skipped and counted, never a SERVFAIL or a 500.

import * as z from 'zod';
import type { Logger } from 'pino';
import { fleetStoreBadEntries } from '../obs/metrics.js';
import { slugProblem } from '../steering/tenant-residency.js';
import type { Verdict } from '../health/verdict.js';
import type { AuditEntry, Drain, EndpointDrain, Namespace, NamespaceValues, Ramp, TenantOverride, WeightOverride } from './fleet-store.js';

export type { NamespaceValues };

const Actor = z.string();
const Millis = z.number().finite();

export const DrainSchema = z.object({
  region: z.string().min(1),
  reason: z.string(),
  hostnames: z.array(z.string().min(1)).nullable(),
  by: Actor,
  at: Millis,
});

export const EndpointDrainSchema = z.object({
  address: z.string().min(1),
  reason: z.string(),
  hostnames: z.array(z.string().min(1)).nullable(),
  by: Actor,
  at: Millis,
});

export const WeightOverrideSchema = z.object({
  fqdn: z.string().min(1),
  weights: z.record(z.string(), z.number().finite().min(0)),
  by: Actor,
  at: Millis,
});

export const RampSchema = z.object({
  fqdn: z.string().min(1),
  set: z.string().min(1),
  steps: z.array(z.number().finite().min(0).max(100)).min(1),
  everyMs: z.number().int().positive(),
  step: z.number().int().min(0),
  nextAt: Millis,
  state: z.enum(['running', 'halted', 'done']),
  haltReason: z.string().nullable(),
  haltOnUnhealthyRegions: z.boolean(),
  by: Actor,
  startedAt: Millis,
  base: z.record(z.string(), z.number().finite().min(0)).optional(),
}).refine((r) => r.step < r.steps.length, { message: 'step is past the last step' });

/** In a worker a tenant value travels as `{ region }` only; `by` and `at` are optional for that reason. */
export const TenantOverrideSchema = z.object({
  region: z.string().min(1).nullable(),
  by: Actor.optional(),
  at: Millis.optional(),
});

const SCHEMAS: { [N in Namespace]: z.ZodType<unknown> } = {
  drain: DrainSchema,
  weights: WeightOverrideSchema,
  ramp: RampSchema,
  tenant: TenantOverrideSchema,
  endpoint: EndpointDrainSchema,
};

export type ParsedValue<N extends Namespace> = { ok: true; value: NamespaceValues[N] } | { ok: false; error: string };

/** Parses one stored value of `ns` (already JSON-decoded). Never throws. */
export function parseNamespaceValue<N extends Namespace>(ns: N, value: unknown): ParsedValue<N> {
  const r = SCHEMAS[ns].safeParse(value);
  if (r.success) return { ok: true, value: r.data as NamespaceValues[N] };
  return { ok: false, error: issues(r.error) };
}

function issues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.length ? i.path.join('.') : 'value'}: ${i.message}`).join('; ');
}

/** The key a value must be stored under: a drain under its region, an override or ramp under its hostname. */
/** Why a value cannot sit under `key` (a drain filed under another region, a tenant whose key is no slug), or null. */
export function keyProblem(ns: Namespace, key: string, value: unknown): string | null {
  const v = value as { region?: unknown; fqdn?: unknown };
  if (ns === 'drain' && v.region !== key) return `stored under "${key}" but drains region ${JSON.stringify(v.region)}`;
  if ((ns === 'weights' || ns === 'ramp') && v.fqdn !== key) return `stored under "${key}" but is for ${JSON.stringify(v.fqdn)}`;
  if (ns === 'tenant') return slugProblem(key);
  if (ns === 'endpoint' && (value as { address?: unknown }).address !== key) return `stored under "${key}" but drains endpoint ${JSON.stringify((value as { address?: unknown }).address)}`;
  return null;
}

/** What TenantOverrideSchema accepts, without extra keys. */
function isPlainTenant(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  let n = 1;
  if (!(o.region === null || (typeof o.region === 'string' && o.region !== ''))) return false;
  if (o.by !== undefined) { if (typeof o.by !== 'string') return false; n++; }
  if (o.at !== undefined) { if (typeof o.at !== 'number' || !Number.isFinite(o.at)) return false; n++; }
  return Object.keys(o).length === n;
}

export const AuditEntrySchema = z.looseObject({
  id: z.number().finite(),
  at: Millis,
  version: z.number().finite(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  reason: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  detail: z.record(z.string(), z.unknown()).optional(),
});

export const VerdictSchema = z.object({
  checkId: z.string().min(1),
  prober: z.string().min(1),
  up: z.boolean(),
  cause: z.string(),
  at: Millis,
  intervalMs: z.number().finite().positive(),
});

/** Where a bad entry was read: a namespace, or the audit, verdicts, change messages, worker messages. */
export type BadEntrySource = Namespace | 'audit' | 'verdict' | 'message' | 'worker';

/**
 * The gate every value read back from a store passes: parse with the schema, check it sits under the
 * right key; a bad one is skipped, counted in regiondns_fleet_store_bad_entries_total and logged once
 * per key (a resync reads it again every few seconds: one line, not one per resync).
 */
export class EntryGate {
  private readonly logged = new Set<string>();
  constructor(private readonly log?: Logger) {}

  /** The value of `ns`/`key`, or undefined (counted, logged once) when it does not parse. */
  value<N extends Namespace>(ns: N, key: string, raw: unknown): NamespaceValues[N] | undefined {
    // A store can hold a million tenants: the common good case is checked by hand (the schema walk
    // costs more than the JSON parse); anything else goes through the schema for its error message.
    if (ns === 'tenant' && isPlainTenant(raw) && slugProblem(key) === null) return raw as NamespaceValues[N];
    const r = parseNamespaceValue(ns, raw);
    const problem = r.ok ? keyProblem(ns, key, r.value) : r.error;
    if (problem === null && r.ok) return r.value;
    this.bad(ns, key, problem ?? 'invalid');
    return undefined;
  }

  /** A JSON text of `ns`/`key`, parsed and checked; undefined when bad. */
  json<N extends Namespace>(ns: N, key: string, text: string): NamespaceValues[N] | undefined {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.bad(ns, key, 'not JSON');
      return undefined;
    }
    return this.value(ns, key, raw);
  }

  audit(raw: string): AuditEntry | undefined {
    return this.parse('audit', AuditEntrySchema, raw, (v) => `id ${String((v as { id?: unknown } | null)?.id)}`) as AuditEntry | undefined;
  }

  verdict(raw: string, where: string): Verdict | undefined {
    return this.parse('verdict', VerdictSchema, raw, () => where);
  }

  /** Counts and logs (once per source and key) an entry that was skipped. */
  bad(source: BadEntrySource, key: string, problem: string): void {
    fleetStoreBadEntries.labels(source).inc();
    const k = `${source}\u0000${key}`;
    if (this.logged.has(k)) return;
    if (this.logged.size < 10_000) this.logged.add(k);
    this.log?.warn({ namespace: source, key: key.slice(0, 200), problem: problem.slice(0, 500) }, 'skipped a bad entry read back from the fleet store');
  }

  private parse<T>(source: BadEntrySource, schema: z.ZodType<T>, text: string, keyOf: (v: unknown) => string): T | undefined {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.bad(source, text.slice(0, 60), 'not JSON');
      return undefined;
    }
    const r = schema.safeParse(raw);
    if (r.success) return r.data;
    this.bad(source, keyOf(raw), issues(r.error));
    return undefined;
  }
}
