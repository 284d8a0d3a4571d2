// What a worker thread and its primary say to each other. What a worker accepts is parsed like
// anything read back from a store (same schemas), and a bad one is skipped and counted, so it can
// never become a SERVFAIL. Tenant entries (up to a million per message) are checked by hand: a
// schema walk over each would cost seconds.

import type { Registry } from 'prom-client';
import * as z from 'zod';
import { DrainSchema, EndpointDrainSchema, type EntryGate } from '../state/schemas.js';
import type { Drain, EndpointDrain } from '../state/fleet-store.js';
import type { RegionHealth } from '../state/snapshot.js';
import type { RegionId } from '../steering/policy.js';
import type { BindError } from './bind-error.js';
import type { SharedConfig } from './reload/prepare.js';

/** The runtime state a worker needs, as plain data (structured clone). */
export interface StateMessage {
  type: 'state';
  version: number;
  regionHealth: [RegionId, RegionHealth][];
  drains: [RegionId, Drain][];
  weightOverrides: [string, readonly number[]][];
  /** Endpoint checks that are down, and endpoint drains: each worker folds them into its own snapshot. */
  endpointHealth: [string, RegionHealth][];
  endpointDrains: [string, EndpointDrain][];
}

/** Tenant overrides (the store's 'tenant' namespace): every entry (`full`), or the slugs that changed. */
export interface TenantsMessage {
  type: 'tenants';
  /** Numbered by the primary: a worker applies a delta only on top of the one before it. */
  seq: number;
  full: boolean;
  /** slug → region (null: the API hides the file's entry). */
  set: [string, RegionId | null][];
  /** Slugs with no API entry any more. */
  removed: string[];
}

/** A configuration the primary validated and put in force: the worker puts it in force too. */
export interface ConfigMessage {
  type: 'config';
  config: SharedConfig;
}

/** `stop`: close the sockets and end the thread (the instance is shutting down). */
/** `ping`: the primary's heartbeat, answered by `pong` from the worker's event loop. */
export type ToWorker = StateMessage | TenantsMessage | ConfigMessage | { type: 'metrics'; id: number } | { type: 'stop' } | { type: 'ping' };

/** Metrics of a worker's registry, as prom-client's AggregatorRegistry takes them. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export type ToPrimary = { type: 'ready' } | { type: 'tenants-resync' } | { type: 'metrics'; id: number; data: MetricsJson }
  | { type: 'reloaded'; ok: boolean; version: number } | { type: 'pong' } | StartFailedMessage;

/** A worker could not start for a reason a restart will not fix (a listener that cannot bind). */
export interface StartFailedMessage {
  type: 'start-failed';
  bind: ReturnType<BindError['toJSON']>;
}

const RegionHealthSchema = z.object({ up: z.boolean(), reason: z.string() });

const StateMessageSchema = z.object({
  type: z.literal('state'),
  version: z.number().finite(),
  regionHealth: z.array(z.tuple([z.string().min(1), RegionHealthSchema])),
  drains: z.array(z.tuple([z.string().min(1), DrainSchema])).refine((d) => d.every(([k, v]) => k === v.region), 'a drain under another region'),
  weightOverrides: z.array(z.tuple([z.string().min(1), z.array(z.number().finite().min(0))])),
  endpointHealth: z.array(z.tuple([z.string().min(1), RegionHealthSchema])),
  endpointDrains: z.array(z.tuple([z.string().min(1), EndpointDrainSchema])).refine((d) => d.every(([k, v]) => k === v.address), 'an endpoint drain under another address'),
});

const TenantsHeadSchema = z.object({
  type: z.literal('tenants'),
  seq: z.number().int(),
  full: z.boolean(),
  set: z.array(z.unknown()),
  removed: z.array(z.string()),
});

// A configuration comes from this process's own primary, which validated it: only its frame is checked.
const ConfigHeadSchema = z.object({
  type: z.literal('config'),
  config: z.object({ zones: z.array(z.object({ key: z.string(), origin: z.string(), data: z.object({}).passthrough() }).passthrough()), steering: z.object({}).passthrough() }).passthrough(),
});

const OtherSchema = z.union([z.object({ type: z.literal('metrics'), id: z.number() }), z.object({ type: z.literal('stop') }), z.object({ type: z.literal('ping') })]);

/** The message, or undefined (counted under namespace "worker", logged once per type) when it does not parse. */
export function parseWorkerMessage(raw: unknown, gate: EntryGate): ToWorker | undefined {
  const type = (raw as { type?: unknown } | null)?.type;
  const bad = (problem: string) => {
    gate.bad('worker', String(type), problem);
    return undefined;
  };
  if (type === 'state') {
    const r = StateMessageSchema.safeParse(raw);
    return r.success ? (r.data as StateMessage) : bad(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  if (type === 'tenants') {
    const r = TenantsHeadSchema.safeParse(raw);
    if (!r.success) return bad(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    for (const e of r.data.set) {
      const ok = Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && e[0] !== '' && (e[1] === null || (typeof e[1] === 'string' && e[1] !== ''));
      if (!ok) return bad(`set: not a [slug, region] pair: ${JSON.stringify(e)?.slice(0, 80)}`);
    }
    return r.data as TenantsMessage;
  }
  if (type === 'config') {
    const r = ConfigHeadSchema.safeParse(raw);
    return r.success ? (raw as ConfigMessage) : bad(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const r = OtherSchema.safeParse(raw);
  return r.success ? r.data : bad(`unknown message type ${JSON.stringify(type)?.slice(0, 40)}`);
}
