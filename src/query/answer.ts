// answer(): one query, one snapshot, one RNG → one Answer. Pure: no I/O, no clock, no Math.random.

import { RRClass, RRType } from '../dns/constants.js';
import { ipToBytes } from '../dns/ip.js';
import type { Answer, Query, WireRR } from '../dns/types.js';
import type { Snapshot } from '../state/snapshot.js';
import { steer, type SteeringResult } from '../steering/pipeline.js';
import type { Trace } from '../steering/trace.js';
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
  return { answer: (name, qtype) => answerSteered(snap, ctx, name, qtype) };
}

function answerSteered(snap: Snapshot, ctx: QueryContext, name: string, qtype: number): DynamicAnswer | null {
  const steered = snap.steered.get(name);
  if (!steered) return null;
  const policy = steered.policy;
  const ecs = ctx.query.edns?.ecs ?? null;
  // RFC 7871 §7.1.2: a SOURCE PREFIX-LENGTH of 0 asks us not to use client information;
  // we then steer by the resolver's address and answer with SCOPE 0.
  const useEcs = ecs !== null && ecs.sourcePrefix > 0;
  const address = useEcs ? ecs.address : ipToBytes(ctx.source) ?? LOOPBACK;
  const sourcePrefix = useEcs ? ecs.sourcePrefix : address.length * 8;
  const location = snap.geo ? snap.geo.locate(address) : null;
  const result = steer(
    {
      policy,
      weights: snap.weightOverrides.get(name),
      client: { address, sourcePrefix, fromEcs: useEcs },
      location,
      isOperational: snap.isOperationalFor(name),
      regions: snap.steering.regions,
      latencyTable: snap.latencyTable,
      rng: ctx.rng,
      cache: snap.steeringCache,
    },
    ctx.trace,
  );
  ctx.steering = result;
  ctx.steeredName = name;
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

