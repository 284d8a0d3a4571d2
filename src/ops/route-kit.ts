// The shared kit of the ops API: what every resource's routes use (dependencies, token checks,
// body parsing, compare-and-set commits, store error mapping, request helpers, the body schemas
// several resources share, and the last-region guard). Each resource's plugin (*-routes.ts) and
// routes.ts, which mounts them, import it; it imports none of them, so no resource depends on another.

import { canonicalName } from '../dns/name.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as z from 'zod';
import type { Logger } from '../obs/logger.js';
import type { ConfigIdentity } from '../config/identity.js';
import { alignWeights } from '../state/coordinator.js';
import { StoreConflictError, type AuditInput, type Change, type ChangeList, type Drain, type EndpointDrain, type FleetStore, type WeightOverride } from '../state/fleet-store.js';
import { operational, type Snapshot } from '../state/snapshot.js';
import type { HostnamePolicy, RegionId } from '../steering/policy.js';
import { bearerToken, HOW_TO_CONFIGURE_TOKENS, type Access, type TokenIdentity, type TokenSet } from './auth.js';
import type { InstanceReport } from './drift.js';
import { OpsError, OpsErrors } from './errors.js';
import type { FleetReloader } from './fleet-reload.js';

export interface OpsDeps {
  store: FleetStore;
  snapshot(): Snapshot;
  tokens: TokenSet;
  /** Reads (state, explain, audit) without a token. Writes always need one. */
  openReads: boolean;
  now(): number;
  instanceId: string;
  healthReport?(): unknown;
  /** What this instance serves (content hash and zone serials), and what the others report. */
  identity?(): ConfigIdentity;
  /** Every other live instance's report, or why they cannot be listed now. */
  otherInstances?(): Promise<{ instances: InstanceReport[]; error: string | null }>;
  /** POST /v1/reload: the fleet's presence, through which every instance is asked and reports. */
  reloader?: FleetReloader;
  /** Subscribes to snapshot swaps (health, drains, reloads); for the console's event stream. */
  onSnapshot?(fn: () => void): () => void;
  log?: Logger;
}

export const OPS_PREFIX = '/v1';

// ---- request bodies ------------------------------------------------------------------------------

export const Reason = z.string().trim().min(1, 'must not be empty').max(1000);

export const DrainBody = z.strictObject({
  reason: Reason,
  hostnames: z.array(z.string().min(1)).min(1, 'list at least one hostname, or leave "hostnames" out to drain for every hostname').optional(),
  force: z.boolean().optional(),
});

/** DELETE bodies are optional; a reason, when given, goes to the audit log. */
export const ReasonBody = z.strictObject({ reason: Reason.optional() });

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const msg = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
  throw new OpsError('BAD_REQUEST', `invalid request body: ${msg}`);
}

/** Absent body (DELETE without one) counts as {}. */
export const orEmpty = (b: unknown): unknown => (b === undefined || b === null || b === '' ? {} : b);

// ---- pure helpers (exported for tests) -----------------------------------------------------------

/** The regions a hostname can answer from: the union of its record sets' regions, in first-seen order. */
export function regionsOf(policy: HostnamePolicy): RegionId[] {
  const out: RegionId[] = [];
  for (const s of policy.sets) for (const r of s.regions) if (!out.includes(r)) out.push(r);
  return out;
}

export interface Stranded {
  fqdn: string;
  /** The record set left with no operational region (its weight in force is above 0). */
  set: string;
  regions: { region: RegionId; reason: string }[];
}

/** The fleet state a guard judges: by default the snapshot's, in a route the store's at the version it commits on. */
export interface GuardState {
  drains?: ReadonlyMap<RegionId, Drain>;
  weights?: ReadonlyMap<string, WeightOverride>;
}

/**
 * Record sets the drain would leave with no operational region, given health, the other drains and
 * this one. Every set whose weight in force (file, split override or ramp step) is above 0 counts: a
 * hostname whose 99.9% set is stranded is stranded for 99.9% of its answers, whatever its canary has.
 */
export function strandedBy(snap: Snapshot, drain: Drain, state: GuardState = {}): Stranded[] {
  const drains = new Map(state.drains ?? snap.drains);
  drains.set(drain.region, drain);
  const out: Stranded[] = [];
  const affected = drain.hostnames ?? [...snap.steering.hostnames.keys()];
  for (const fqdn of affected) {
    const policy = snap.steering.hostnames.get(fqdn);
    if (!policy) continue;
    const override = state.weights ? state.weights.get(fqdn) : undefined;
    const weights = override ? alignWeights(policy, override) : state.weights ? policy.weights : (snap.weightOverrides.get(fqdn) ?? policy.weights);
    for (const [i, set] of policy.sets.entries()) {
      if (!(weights[i] > 0) || !set.regions.includes(drain.region)) continue;
      const states = set.regions.map((region) => ({ region, ...operational(fqdn, region, snap.regionHealth, drains) }));
      if (!states.some((s) => s.up)) out.push({ fqdn, set: set.name, regions: states.map(({ region, reason }) => ({ region, reason })) });
    }
  }
  return out;
}

/**
 * Record sets a split would send more of the hostname's answers to while none of their regions is
 * operational (drained or down): the split guard. A split that lowers such a set's share (moving
 * traffic away from it) is never refused.
 */
export function strandedBySplit(snap: Snapshot, policy: HostnamePolicy, next: Record<string, number>, state: GuardState = {}): Stranded[] {
  const drains = state.drains ?? snap.drains;
  const override = state.weights ? state.weights.get(policy.fqdn) : undefined;
  const nowWeights = override ? alignWeights(policy, override) : state.weights ? policy.weights : (snap.weightOverrides.get(policy.fqdn) ?? policy.weights);
  const before = shares(nowWeights);
  const after = shares(policy.sets.map((s) => next[s.name] ?? 0));
  const out: Stranded[] = [];
  for (const [i, set] of policy.sets.entries()) {
    if (!(after[i] > before[i])) continue;
    const states = set.regions.map((region) => ({ region, ...operational(policy.fqdn, region, snap.regionHealth, drains) }));
    if (!states.some((st) => st.up)) out.push({ fqdn: policy.fqdn, set: set.name, regions: states.map(({ region, reason }) => ({ region, reason })) });
  }
  return out;
}

/** A drain's `hostnames`, canonical and each once; `check` throws for one the drain cannot name. Absent: null (every hostname). */
export function drainHostnames(list: readonly string[] | undefined, check: (fqdn: string) => void): string[] | null {
  if (!list) return null;
  const out: string[] = [];
  for (const h of list) {
    const fqdn = hostnameParam(h, 'hostnames');
    check(fqdn);
    if (!out.includes(fqdn)) out.push(fqdn);
  }
  return out;
}

/**
 * The 409 of a drain that would strand hostnames, naming each (with `label`'s words on the stranded
 * record set, if any) and its regions' reasons. A hostname with several stranded sets counts once.
 */
export function lastRegionError(target: string, stranded: Stranded[], label: (s: Stranded) => string = () => ''): OpsError {
  const what = stranded.map((s) => `${s.fqdn}${label(s)} (${s.regions.map((r) => `${r.region}: ${r.reason}`).join('; ')})`).join(', ');
  const n = strandedNames(stranded).length;
  return new OpsError('LAST_REGION', `draining ${target} would leave ${n === 1 ? 'a hostname' : `${n} hostnames`} with no operational region: ${what}. Pass force: true (ctl: --force) to drain anyway`, { hostnames: stranded });
}

/** The hostnames a forced drain strands, each once. */
export function strandedNames(stranded: Stranded[]): string[] {
  return [...new Set(stranded.map((s) => s.fqdn))];
}

/** What a forced drain adds to its audit entry and to its answer's message (nothing when it strands no hostname). */
export function forcedDrain(stranded: Stranded[]): { audit: { detail?: { forced: true; stranded: string[] } }; message: string } {
  if (!stranded.length) return { audit: {}, message: '' };
  const names = strandedNames(stranded);
  return {
    audit: { detail: { forced: true, stranded: names } },
    message: `; forced: ${names.join(', ')} now ${names.length === 1 ? 'has' : 'have'} no operational region`,
  };
}

/** Percentages of traffic per set for aligned weights. */
export function shares(weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => (total > 0 ? Math.round((w / total) * 100 * 1e6) / 1e6 : 0));
}

export type Handler = (req: FastifyRequest, who: TokenIdentity | null, reply: FastifyReply) => Promise<unknown>;
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Who made a request, set by the route's onRequest hook (before any body byte is read). */
const callers = new WeakMap<FastifyRequest, TokenIdentity | null>();

/**
 * A route whose handler runs once the caller holds `access` (a token check; 'public' needs none).
 * The token is checked in onRequest, before the body is read: a caller without one costs no body
 * buffer, whatever the route's body limit.
 */
export function addRoute(
  app: FastifyInstance, deps: OpsDeps, method: Method, url: string, access: Access | 'public', handler: Handler, bodyLimit?: number,
): void {
  app.route({
    method,
    url,
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    ...(access === 'public' ? {} : { onRequest: async (req: FastifyRequest) => { callers.set(req, authorize(deps, req, access)); } }),
    handler: async (req, reply) => handler(req, callers.get(req) ?? null, reply),
  });
}

/** At most this many tries when other writes keep moving the fleet state under a change. */
const CAS_ATTEMPTS = 8;

/** A change prepared on one version of the fleet state: what to write, and the answer once written. */
export interface Prepared<T> {
  changes: ChangeList;
  audit: AuditInput;
  answer(version: number): T;
}

/**
 * Prepares a change on the store's view at version v (checking its invariants on exactly that state)
 * and commits it only if the store is still at v (compare-and-set). When another write came first —
 * on this instance or another — the store's view has moved on and the change is prepared again, so a
 * guard never passes on a state the write does not commit on.
 */
export async function commitChecked<T>(store: FleetStore, prepare: () => Prepared<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const at = store.version();
    const p = prepare();
    try {
      return p.answer(await store.write(p.changes, p.audit, { expectVersion: at }));
    } catch (err) {
      if (err instanceof StoreConflictError && attempt < CAS_ATTEMPTS) continue;
      throw storeError(err);
    }
  }
}

/** Lifts a drain (a region's or an endpoint's), judged where the write commits: NOT_DRAINED when there is none. */
export function commitUndrain(
  store: FleetStore, ns: 'drain' | 'endpoint', key: string, action: 'undrain' | 'endpoint.undrain', actor: string, reason: string | null,
): Promise<{ undrained: Drain | EndpointDrain; version: number; message: string }> {
  return commitChecked(store, () => {
    const before = store.get(ns).get(key) ?? null;
    if (!before) throw new OpsError('NOT_DRAINED', `${key} is not drained`);
    return {
      changes: [{ ns, key, value: null }],
      audit: { actor, action, target: key, reason, before, after: null },
      answer: (version) => ({ undrained: before, version, message: `${key} is no longer drained` }),
    };
  });
}

/** Persists changes with their audit entry, unconditionally (no invariant depends on the state). */
export async function commitChanges(store: FleetStore, changes: Change[], audit: AuditInput): Promise<number> {
  try {
    return await store.write(changes, audit);
  } catch (err) {
    throw storeError(err);
  }
}

/** A store's refusal as the ops API's answer: "nothing changed" only when the store is sure. */
export function storeError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  const msg = (err as Error)?.message;
  if (code === OpsErrors.STORE_UNAVAILABLE.code) return new OpsError('STORE_UNAVAILABLE', `the change was not persisted; nothing changed (${msg})`);
  if (code === OpsErrors.STORE_RESETTING.code) return new OpsError('STORE_RESETTING', `the change was not persisted; nothing changed: ${msg}`);
  if (code === OpsErrors.STORE_OUTCOME_UNKNOWN.code) {
    const writeId = (err as { writeId?: string }).writeId;
    return new OpsError('STORE_OUTCOME_UNKNOWN',
      `the change MAY have been applied: the fleet store's reply was lost and it could not be asked (${msg}). ` +
      `Check GET ${OPS_PREFIX}/state (ctl state) or GET ${OPS_PREFIX}/audit (the entry's writeId is ${writeId}) before sending it again`,
      { writeId });
  }
  if (err instanceof StoreConflictError) {
    return new OpsError('STORE_CONTENDED', `the fleet state kept changing while this change was prepared (${CAS_ATTEMPTS} tries); nothing changed: send it again`);
  }
  return err;
}

// ---- auth ----------------------------------------------------------------------------------------

function authorize(deps: OpsDeps, req: FastifyRequest, need: Access): TokenIdentity | null {
  if (need === 'read' && deps.openReads) {
    // Open reads still name a token holder when one is presented, for logs.
    const t = bearerToken(req.headers.authorization);
    return t ? deps.tokens.authenticate(t) : null;
  }
  if (deps.tokens.size === 0) throw new OpsError('NO_TOKENS', HOW_TO_CONFIGURE_TOKENS);
  const presented = bearerToken(req.headers.authorization);
  if (presented === null) throw new OpsError('UNAUTHORIZED', 'send a token: Authorization: Bearer <token>');
  const who = deps.tokens.authenticate(presented);
  if (!who) throw new OpsError('UNAUTHORIZED', 'the token is not valid');
  if (need === 'write' && who.access !== 'write') throw new OpsError('FORBIDDEN', `token "${who.name}" is read-only; this change needs a write token`);
  return who;
}

export function param(req: FastifyRequest, name: string): string {
  return (req.params as Record<string, string>)[name] ?? '';
}

export function query(req: FastifyRequest): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v)) throw new OpsError('BAD_REQUEST', `query parameter "${k}" is given more than once`);
  }
  return out;
}

export function isStoreUnavailable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === OpsErrors.STORE_UNAVAILABLE.code;
}

/** Names for an error message: all of them, or the first 20 and how many more. */
export function listOf(it: Iterable<string>): string {
  const all = [...it];
  if (all.length === 0) return 'none';
  return all.length > 20 ? `${all.slice(0, 20).join(', ')}, … ${all.length - 20} more` : all.join(', ');
}

export function hostnameParam(raw: string, what: string): string {
  try {
    return canonicalName(raw);
  } catch (err) {
    throw new OpsError('BAD_REQUEST', `${what}: ${(err as Error).message}`);
  }
}
