// answer(): one query, one snapshot, one RNG → one Answer. Pure: no I/O, no clock, no Math.random.

import { RRClass, RRType } from '../dns/constants.js';
import { ipToBytes } from '../dns/address.js';
import type { Answer, Query, WireRR } from '../dns/types.js';
import type { SteeredName, Snapshot, TenantAnswer } from '../state/snapshot.js';
import { steer, traceAnswer, traceClient, type SteeringResult } from '../steering/pipeline.js';
import type { HostnamePolicy, RegionId } from '../steering/policy.js';
import type { SteeringClient } from '../steering/stages.js';
import { routeTenant, tenantSlugEnd, tenantSlugStart, type TenantRoute } from '../steering/tenants.js';
import type { Trace, TraceTenant } from '../steering/trace.js';
import { lookup, refused, type DynamicAnswer, type DynamicNames } from '../zone/lookup.js';

export interface QueryContext {
  query: Query;
  /** The address the query came from (the resolver), as the socket reports it. */
  source: string;
  rng: () => number;
  trace: Trace | null;
  /** Set when a steered name was answered: what the pipeline decided (for metrics and logs). */
  steering: SteeringResult | null;
  steeredName: string | null;
}

export function newContext(query: Query, source: string, rng: () => number, trace: Trace | null = null): QueryContext {
  return { query, source, rng, trace, steering: null, steeredName: null };
}

export function answer(ctx: QueryContext, snap: Snapshot): Answer {
  const q = ctx.query;
  // Only class IN is served; QCLASS * (255) asks for any class, which here means IN.
  if (q.qclass !== RRClass.IN && q.qclass !== RRClass.ANY) return refused();
  // No zone transfers: refuse rather than pretend (RFC 5936 §4.2 leaves the policy to the server).
  if (q.qtype === RRType.AXFR || q.qtype === RRType.IXFR) return refused();
  return lookup(snap.zones, q.qname, q.qtype, steeredNames(snap, ctx));
}

const NONE: readonly WireRR[] = Object.freeze([]);

function steeredNames(snap: Snapshot, ctx: QueryContext): DynamicNames | null {
  if (snap.steered.size === 0) return null;
  return { answer: (owner, qtype, name) => answerSteered(snap, ctx, owner, qtype, name) };
}

/** Who asked: the ECS subnet when the query has one with a non-zero prefix, else the resolver. */
function steeringClient(ctx: QueryContext): SteeringClient {
  const ecs = ctx.query.edns?.ecs ?? null;
  // RFC 7871 §7.1.2: a SOURCE PREFIX-LENGTH of 0 asks us not to use client information;
  // we then steer by the resolver's address and answer with SCOPE 0.
  const useEcs = ecs !== null && ecs.sourcePrefix > 0;
  const address = useEcs ? ecs.address : ipToBytes(ctx.source) ?? LOOPBACK;
  return { address, sourcePrefix: useEcs ? ecs.sourcePrefix : address.length * 8, fromEcs: useEcs };
}

/** `owner` is the steered hostname that matched `name`: the name itself, or a wildcard covering it. */
function answerSteered(snap: Snapshot, ctx: QueryContext, owner: string, qtype: number, name: string): DynamicAnswer | null {
  const steered = snap.steered.get(owner);
  if (!steered) return null;
  const policy = steered.policy;
  // A tenant's subdomain: one table probe on its slug (in place: no string made), then the answer
  // memoised for its home region.
  if (policy.tenants !== undefined && name !== owner) {
    const start = tenantSlugStart(name, owner);
    const end = tenantSlugEnd(name, owner);
    const home = start < 0 ? null : snap.tenants.home(name, start, end);
    // The slug as a string only for explain.
    const slug = ctx.trace === null || start < 0 ? '' : name.slice(start, end);
    if (home !== null) return answerTenant(snap, ctx, steered, slug, home, qtype);
    if (ctx.trace) traceUnknownTenant(ctx.trace, snap, policy, slug, steeringClient(ctx));
    if (policy.tenants.unknown === 'servfail') {
      ctx.steering = { regions: [], setName: 'tenant', outcome: 'servfail', ttl: policy.ttl, ecsScope: 0 };
      ctx.steeredName = owner;
      return TENANT_SERVFAIL;
    }
    // unknown: nearest: steered by latency over every pool, like any client of the hostname.
  }
  const ecs = ctx.query.edns?.ecs ?? null;
  const client = steeringClient(ctx);
  const location = snap.geo ? snap.geo.locate(client.address) : null;
  const result = steer(
    {
      policy,
      weights: snap.weightOverrides.get(owner),
      client,
      location,
      isOperational: snap.isOperationalFor(owner),
      regions: snap.steering.regions,
      latencyTable: snap.latencyTable,
      rng: ctx.rng,
      cache: snap.steeringCache,
    },
    ctx.trace,
  );
  ctx.steering = result;
  ctx.steeredName = owner;
  const ecsScope = ecs !== null && ecs.sourcePrefix === 0 ? 0 : result.ecsScope;
  if (result.outcome === 'servfail') return { records: NONE, servfail: true, ecsScope };
  const halved = result.outcome === 'fail-open';
  const records: WireRR[] = [];
  for (const region of result.regions) {
    const r = steered.records.get(region);
    if (!r) continue;
    const list = qtype === RRType.AAAA ? (halved ? r.aaaaHalf : r.aaaa) : halved ? r.aHalf : r.a;
    for (const rr of list) records.push(rr);
  }
  return { records, servfail: false, ecsScope };
}

const LOOPBACK = new Uint8Array([127, 0, 0, 1]);
const TENANT_SERVFAIL: DynamicAnswer = Object.freeze({ records: NONE, servfail: true, ecsScope: 0 });

// ---- tenant subdomains ---------------------------------------------------------------------------

/**
 * A tenant with a home region. Its answer depends on the snapshot only (never on the client: ECS
 * scope /0), so it is built once per snapshot, hostname and home region, and a query only looks it up.
 */
function answerTenant(snap: Snapshot, ctx: QueryContext, steered: SteeredName, slug: string, home: RegionId, qtype: number): DynamicAnswer {
  let t: TenantAnswer | undefined;
  if (ctx.trace === null) {
    let byHome = snap.tenantAnswers.get(steered);
    if (byHome === undefined) {
      byHome = new Map();
      snap.tenantAnswers.set(steered, byHome);
    }
    t = byHome.get(home);
    if (t === undefined) {
      t = tenantAnswer(snap, steered, home);
      byHome.set(home, t);
    }
  } else {
    t = tenantAnswer(snap, steered, home);
    traceTenant(ctx.trace, snap, steered.policy, slug, steeringClient(ctx), t.route);
  }
  ctx.steering = t.result;
  ctx.steeredName = steered.policy.fqdn;
  return qtype === RRType.AAAA ? t.aaaa : t.a;
}

function tenantAnswer(snap: Snapshot, steered: SteeredName, home: RegionId): TenantAnswer {
  const policy = steered.policy;
  const route = routeTenant(policy, policy.tenants!, home, snap.isOperationalFor(policy.fqdn), snap.steering.regions);
  const halved = route.outcome === 'fail-open';
  const a: WireRR[] = [];
  const aaaa: WireRR[] = [];
  for (const region of route.regions) {
    const r = steered.records.get(region);
    if (!r) continue;
    a.push(...(halved ? r.aHalf : r.a));
    aaaa.push(...(halved ? r.aaaaHalf : r.aaaa));
  }
  const servfail = route.outcome === 'servfail';
  return {
    route,
    result: { regions: route.regions, setName: 'tenant', outcome: route.outcome, ttl: route.ttl, ecsScope: 0 },
    a: { records: a, servfail, ecsScope: 0 },
    aaaa: { records: aaaa, servfail, ecsScope: 0 },
  };
}

const VERDICT: Record<TenantRoute['outcome'], TraceTenant['verdict']> = {
  pinned: 'pinned', 'residency-fallback': 'fallback', 'fail-open': 'fail-open', servfail: 'servfail',
};

function traceTenant(trace: Trace, snap: Snapshot, policy: HostnamePolicy, slug: string, client: SteeringClient, route: TenantRoute): void {
  traceClient(trace, policy, client);
  trace.tenant = { ...tenantSource(snap, slug), regions: route.regions, verdict: VERDICT[route.outcome], why: route.why };
  trace.health = route.health;
  trace.answer = traceAnswer(policy, route.regions);
  trace.outcome = route.outcome;
  trace.ttl = route.ttl;
  trace.ecsScope = 0;
  trace.ecsScopeWhy = "a tenant's answer does not depend on the client";
}

function traceUnknownTenant(trace: Trace, snap: Snapshot, policy: HostnamePolicy, slug: string, client: SteeringClient): void {
  traceClient(trace, policy, client);
  const rule = policy.tenants!.unknown === 'servfail'
    ? 'unknown: servfail: answering SERVFAIL'
    : 'unknown: nearest: steered by latency over every pool of the hostname';
  trace.tenant = { ...tenantSource(snap, slug), regions: [], verdict: 'unknown', why: [rule] };
  if (policy.tenants!.unknown === 'servfail') {
    trace.outcome = 'servfail';
    trace.answer = [];
  }
}

function tenantSource(snap: Snapshot, slug: string): Pick<TraceTenant, 'slug' | 'home' | 'source' | 'sourceDetail'> {
  const t = snap.tenants.lookup(slug);
  let detail: string | null = null;
  if (t.override) {
    // A worker's copy holds the region only; the primary's has who and when.
    const when = t.override.by === undefined ? 'through the ops API' : `by ${t.override.by} at ${new Date(t.override.at).toISOString()}`;
    detail = t.override.region === null
      ? `deleted ${when}${t.fileRegion ? `, hiding the file's ${t.fileRegion}` : ''}`
      : `set ${when}${t.fileRegion ? `, over the file's ${t.fileRegion}` : ''}`;
  } else if (t.source === 'file') {
    detail = snap.tenants.file.file;
  }
  return { slug, home: t.region, source: t.source, sourceDetail: detail };
}

