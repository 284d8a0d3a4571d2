// What the browser console needs beyond the resource routes: who the token belongs to, and a
// server-sent events stream of the fleet state so the page updates when anything changes
// (a drain, a health verdict, a ramp step, a reload) without polling.
//
// The stream sends the whole state view (the same body as GET /v1/state, plus /v1/health) on
// connect and after each change, at most every STREAM_MIN_INTERVAL_MS: a page never has to merge
// deltas, and a lost stream is recovered by reconnecting. Tokens travel in the Authorization
// header (the page reads the stream with fetch, not EventSource, which cannot send headers).

import type { FastifyInstance } from 'fastify';
import type { Snapshot } from '../state/snapshot.js';
import { OpsError } from './errors.js';
import { addRoute, type OpsDeps } from './route-kit.js';
import { stateView } from './state-view.js';

/** At most this many open streams per instance: each holds a socket and gets every change. */
export const MAX_STREAMS = 32;
const STREAM_MIN_INTERVAL_MS = 200;
const HEARTBEAT_MS = 15_000;

export async function consoleRoutes(v1: FastifyInstance, deps: OpsDeps): Promise<void> {
  let open = 0;
  // Every change the page shows: store events (drains, splits, ramps, tenants) and snapshot swaps (health, reloads).
  const onChange = [(fn: () => void) => deps.store.onEvent(fn), ...(deps.onSnapshot ? [deps.onSnapshot] : [])];

  addRoute(v1, deps, 'GET', '/whoami', 'read', async (_req, who) => ({
    name: who?.name ?? null,
    access: who?.access ?? (deps.openReads ? 'read' : null),
    instance: deps.instanceId,
  }));

  addRoute(v1, deps, 'GET', '/events', 'read', async (req, _who, reply) => {
    if (open >= MAX_STREAMS) throw new OpsError('TOO_MANY_STREAMS', `this instance already serves ${MAX_STREAMS} event streams; close a console tab or use another instance`);
    open++;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no', // tell a reverse proxy not to buffer the stream
    });
    let seq = 0;
    let timer: NodeJS.Timeout | null = null;
    let lastSent = 0;
    const send = () => {
      timer = null;
      lastSent = Date.now();
      const body = { seq: ++seq, state: stateView(deps), health: deps.healthReport?.() ?? null, endpoints: regionEndpoints(deps.snapshot()) };
      res.write(`event: state\nid: ${seq}\ndata: ${JSON.stringify(body)}\n\n`);
    };
    const changed = () => {
      if (timer) return;
      timer = setTimeout(send, Math.max(0, STREAM_MIN_INTERVAL_MS - (Date.now() - lastSent)));
    };
    const unsubscribe = onChange.map((on) => on(changed));
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    const close = () => {
      if (timer) clearTimeout(timer);
      clearInterval(heartbeat);
      for (const u of unsubscribe) u();
      open--;
    };
    req.raw.once('close', close);
    send();
  });
}

export interface RegionEndpoint {
  address: string;
  /** The steered hostnames whose pool in this region lists it. */
  hostnames: string[];
}

/** Every pool endpoint of every region, with the hostnames that serve it, from the config in force. */
export function regionEndpoints(snap: Snapshot): Record<string, RegionEndpoint[]> {
  const byRegion = new Map<string, Map<string, string[]>>();
  for (const p of snap.steering.hostnames.values()) {
    for (const [region, e] of p.pools) {
      let m = byRegion.get(region);
      if (!m) byRegion.set(region, (m = new Map()));
      for (const address of [...e.v4Text, ...e.v6Text]) {
        const list = m.get(address) ?? [];
        if (list.length === 0) m.set(address, list);
        list.push(p.fqdn);
      }
    }
  }
  return Object.fromEntries([...byRegion].map(([region, m]) => [region, [...m].map(([address, hostnames]) => ({ address, hostnames }))]));
}
