// answer(): one query, one snapshot, one RNG → one Answer. Pure: no I/O, no clock, no Math.random.

import { Rcode, RRClass, RRType } from '../dns/constants.js';
import { NXNAME } from '../dnssec/nsec.js';
import type { Answer, Query, WireRR } from '../dns/types.js';
import { regionRecords } from '../state/endpoint-health.js';
import type { SteeredName, Snapshot } from '../state/snapshot.js';
import { tenantAnswer } from '../state/tenant-answers.js';
import { steer, traceAnswer, traceClient, type SteeringResult } from '../steering/pipeline.js';
import type { HostnamePolicy, RegionId } from '../steering/policy.js';
import type { Rng } from '../steering/rng.js';
import type { SteeringClient } from '../steering/stages.js';
import { tenantSlugEnd, tenantSlugStart, type TenantRoute } from '../steering/tenant-residency.js';
import type { Trace, TraceTenant } from '../steering/trace.js';
import { lookup, refused, type DynamicAnswer, type DynamicNames } from '../zone/lookup.js';

const LOOPBACK = new Uint8Array([127, 0, 0, 1]);

/** What answer() found: the answer, and for a steered name what the pipeline decided (for metrics and logs). */
export interface Resolution {
  answer: Answer;
  steering: SteeringResult | null;
  /** The steered hostname that answered (a wildcard's owner for a tenant's subdomain); null when none did. */
  steeredName: string | null;
}

/**
 * `source`: the resolver's address as octets (parsed once at the socket edge); `trace`: explain's
 * steering trace, filled as the pipeline runs. Reads the snapshot; fills only its derived-data memo.
 */
export function answer(query: Query, snap: Snapshot, rng: Rng, source: Uint8Array = LOOPBACK, trace: Trace | null = null): Resolution {
  const q = query;
  // Only class IN is served; QCLASS * (255) asks for any class, which here means IN.
  if (q.qclass !== RRClass.IN && q.qclass !== RRClass.ANY) return unsteered(refused());
  // No zone transfers: refuse rather than pretend (RFC 5936 §4.2 leaves the policy to the server).
  if (q.qtype === RRType.AXFR || q.qtype === RRType.IXFR) return unsteered(refused());
  // RFC 9824 §3.5: NXNAME is a meta-type that only marks a compact denial; asking for it is FORMERR.
  if (q.qtype === NXNAME) return unsteered(formerr());
  if (snap.steered.size === 0) return unsteered(lookup(snap.zones, q.qname, q.qtype, null));
  const run = new SteeredQuery(snap, query, source, rng, trace);
  const ans = lookup(snap.zones, q.qname, q.qtype, run);
  return { answer: ans, steering: run.steering, steeredName: run.steeredName };
}

function unsteered(ans: Answer): Resolution {
  return { answer: ans, steering: null, steeredName: null };
}

/**
 * One query's view of the steered names: lookup() calls answer() when it reaches one. Lives for one
 * query, and records what the pipeline decided for the Resolution.
 */
class SteeredQuery implements DynamicNames {
  steering: SteeringResult | null = null;
  steeredName: string | null = null;
  constructor(
    readonly snap: Snapshot,
    readonly query: Query,
    readonly source: Uint8Array,
    readonly rng: Rng,
    readonly trace: Trace | null,
  ) {}

  answer(owner: string, qtype: number, name: string): DynamicAnswer | null {
    return answerSteered(this, owner, qtype, name);
  }
}

const NONE: readonly WireRR[] = Object.freeze([]);

function formerr(): Answer {
  return { rcode: Rcode.FORMERR, aa: false, answer: NONE, authority: NONE, additional: NONE, ecsScope: 0 };
}

/** Who asked: the ECS subnet when the query has one with a non-zero prefix, else the resolver. */
function steeringClient(ctx: SteeredQuery): SteeringClient {
  const ecs = ctx.query.edns?.ecs ?? null;
  // RFC 7871 §7.1.2: a SOURCE PREFIX-LENGTH of 0 asks us not to use client information;
  // we then steer by the resolver's address and answer with SCOPE 0.
  const useEcs = ecs !== null && ecs.sourcePrefix > 0;
  // An address the edge could not read (empty) steers like a local client.
  const address = useEcs ? ecs.address : ctx.source.length !== 0 ? ctx.source : LOOPBACK;
  return { address, sourcePrefix: useEcs ? ecs.sourcePrefix : address.length * 8, fromEcs: useEcs };
}

/** `owner` is the steered hostname that matched `name`: the name itself, or a wildcard covering it. */
function answerSteered(ctx: SteeredQuery, owner: string, qtype: number, name: string): DynamicAnswer | null {
  const snap = ctx.snap;
  const steered = snap.steered.get(owner);
  if (!steered) return null;
  const policy = steered.policy;
  // A tenant's subdomain: one table probe on its slug (in place: no string made), then the answer
  // made for its home region.
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
  const v6 = qtype === RRType.AAAA;
  const result = steer(
    {
      policy,
      weights: snap.weightOverrides.get(owner),
      client,
      location,
      isOperational: snap.isOperationalFor(owner, v6 ? 6 : 4),
      regions: snap.steering.regions,
      latencyTable: snap.latencyTable,
      rng: ctx.rng,
      memo: snap.memo.steering(v6 ? 6 : 4),
    },
    ctx.trace,
  );
  ctx.steering = result;
  ctx.steeredName = owner;
  if (ctx.trace) traceEndpoints(ctx.trace, steered, v6 ? 6 : 4);
  const ecsScope = ecs !== null && ecs.sourcePrefix === 0 ? 0 : result.ecsScope;
  if (result.outcome === 'servfail') return { records: NONE, servfail: true, ecsScope };
  const records: WireRR[] = [];
  for (const region of result.regions) {
    const list = regionRecords(steered, region, result.outcome, v6);
    for (const rr of list) records.push(rr);
  }
  return { records, servfail: false, ecsScope };
}

/** Each endpoint of the regions the pipeline weighed, with its state, for explain. */
function traceEndpoints(trace: Trace, steered: SteeredName, family: 4 | 6): void {
  const regions = trace.health?.map((h) => h.region) ?? [...steered.policy.pools.keys()];
  trace.endpoints = [];
  for (const region of regions) {
    const folded = steered.endpoints?.get(region);
    const pool = steered.policy.pools.get(region);
    if (!pool) continue;
    const states = folded?.states ?? [...pool.v4Text.map((address) => ({ address, family: 4 as const })), ...pool.v6Text.map((address) => ({ address, family: 6 as const }))]
      .map((e) => ({ ...e, up: true, drained: false, reason: 'up (no checks)' }));
    for (const e of states) {
      if (e.family !== family) continue;
      trace.endpoints.push({ region, address: e.address, up: e.up, drained: e.drained, reason: e.reason });
    }
  }
}

const TENANT_SERVFAIL: DynamicAnswer = Object.freeze({ records: NONE, servfail: true, ecsScope: 0 });

// ---- tenant subdomains ---------------------------------------------------------------------------

/**
 * A tenant with a home region. Its answer depends on the snapshot only (never on the client: ECS
 * scope /0), so it was built with the snapshot per hostname and home region (state/tenant-answers.ts).
 */
function answerTenant(snap: Snapshot, ctx: SteeredQuery, steered: SteeredName, slug: string, home: RegionId, qtype: number): DynamicAnswer {
  // Made with the snapshot for every configured region; a home outside them (an override naming a
  // region a reload removed) is answered as it comes.
  const t = snap.tenantAnswers.get(steered.policy.fqdn)?.get(home) ?? tenantAnswer(steered, home, snap.isOperationalFor, snap.steering.regions);
  if (ctx.trace !== null) {
    const v6 = qtype === RRType.AAAA;
    traceTenant(ctx.trace, snap, steered.policy, slug, steeringClient(ctx), v6 ? t.route6 : t.route);
    traceEndpoints(ctx.trace, steered, v6 ? 6 : 4);
  }
  ctx.steering = qtype === RRType.AAAA ? t.result6 : t.result;
  ctx.steeredName = steered.policy.fqdn;
  return qtype === RRType.AAAA ? t.aaaa : t.a;
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

