// What each namespace of the fleet store may hold, as schemas. Everything read back from a store
// (Redis hashes, the local database, pub/sub and worker messages) is untrusted input: it is parsed
// here before any snapshot sees it, so a bad entry is skipped and counted, never a SERVFAIL or a 500.

import * as z from 'zod';
import type { Drain, EndpointDrain, Namespace, Ramp, TenantOverride, WeightOverride } from './fleet-store.js';

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
}).refine((r) => r.step < r.steps.length, { message: 'step is past the last step' });

/** In a worker a tenant value travels as `{ region }` only; `by` and `at` are optional for that reason. */
export const TenantOverrideSchema = z.object({
  region: z.string().min(1).nullable(),
  by: Actor.optional(),
  at: Millis.optional(),
});

/** The value type of each namespace. */
export interface NamespaceValues {
  drain: Drain;
  weights: WeightOverride;
  ramp: Ramp;
  tenant: TenantOverride;
  endpoint: EndpointDrain;
}

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
  return { ok: false, error: r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'value'}: ${i.message}`).join('; ') };
}
