// The query path end to end: bytes in → decode → answer(snapshot) → encode → bytes out.
// Synchronous and I/O-free; the sockets call it and send what it returns.

import { Rcode } from '../dns/constants.js';
import { decodeQuery } from '../dns/decode-query.js';
import { addressToString } from '../dns/ecs.js';
import type { ClientAddress } from '../dns/udp.js';
import { encodeErrorResponse, encodeResponse } from '../dns/encode-response.js';
import type { Logger } from '../obs/logger.js';
import { internalErrors, malformed, queryStats, truncated, type Transport } from '../obs/metrics.js';
import { answer, newContext } from '../query/answer.js';
import type { Snapshot } from '../state/snapshot.js';

export interface QueryHandlerOptions {
  /** Largest UDP reply we send, whatever the client advertises (DNS Flag Day 2020: 1232). */
  udpLimit: number;
  rng: () => number;
  log: Logger;
  /** Fraction of queries logged (0 = off, the default). */
  queryLogSample: number;
}

const MAX_TCP_MESSAGE = 65535;
/** RFC 1035 §4.2.1: without EDNS a UDP reply is at most 512 bytes. */
const CLASSIC_UDP = 512;

export class QueryHandler {
  private readonly malformedByKind = new Map<string, { inc(): void }>();
  private readonly failOpenLoggedAt = new Map<string, number>();

  constructor(
    private readonly snapshot: () => Snapshot,
    private readonly opts: QueryHandlerOptions,
  ) {}

  /** `source` as text or octets (the batched UDP engine: a view valid during this call only). */
  handle(msg: Uint8Array, source: ClientAddress, transport: Transport): Uint8Array | null {
    const decoded = decodeQuery(msg);
    if (decoded.kind === 'drop') {
      this.countMalformed(decoded.reason);
      return null;
    }
    const limit = transport === 'tcp' ? MAX_TCP_MESSAGE : this.opts.udpLimit;
    if (decoded.kind === 'error') {
      this.countMalformed(decoded.reason);
      const size = transport === 'tcp' ? MAX_TCP_MESSAGE : Math.min(limit, decoded.edns ? Math.max(CLASSIC_UDP, decoded.edns.udpSize) : CLASSIC_UDP);
      const out = encodeErrorResponse(msg, decoded.id, decoded.flags, decoded.opcode, decoded.questionEnd, decoded.rcode, decoded.edns, size);
      queryStats.count(transport === 'udp' ? 0 : 1, 0, decoded.rcode, out.length);
      return out;
    }
    const query = decoded.query;
    const maxSize = transport === 'tcp' ? MAX_TCP_MESSAGE : Math.min(limit, query.edns ? Math.max(CLASSIC_UDP, query.edns.udpSize) : CLASSIC_UDP);
    const ctx = newContext(query, source, this.opts.rng);
    let out: Uint8Array;
    let rcode: number;
    try {
      const snap = this.snapshot();
      const ans = answer(ctx, snap);
      out = encodeResponse(msg, query, ans, maxSize);
      rcode = ans.rcode;
    } catch (err) {
      // A bug must cost one SERVFAIL, never the process.
      internalErrors.inc();
      this.opts.log.error({ err, qname: query.qname, qtype: query.qtype }, 'query failed');
      rcode = Rcode.SERVFAIL;
      out = encodeErrorResponse(msg, query.id, query.flags, query.opcode, query.questionEnd, Rcode.SERVFAIL, query.edns, maxSize);
    }
    if (transport === 'udp' && (out[2] & 0x02) !== 0) truncated.inc();
    queryStats.count(transport === 'udp' ? 0 : 1, query.qtype, rcode, out.length);
    if (ctx.steering && ctx.steeredName) {
      queryStats.countSteered(ctx.steeredName, ctx.steering.regions[0] ?? 'none', ctx.steering.outcome);
      if (ctx.steering.outcome === 'fail-open') this.logFailOpen(ctx.steeredName);
    }
    if (this.opts.queryLogSample > 0 && this.opts.rng() < this.opts.queryLogSample) {
      const client = typeof source === 'string' ? source : addressToString(source.length === 4 ? 1 : 2, source);
      this.opts.log.info({ transport, source: client, qname: query.qname, qtype: query.qtype, rcode, ecs: query.edns?.ecs ? true : false, region: ctx.steering?.regions[0] }, 'query');
    }
    return out;
  }

  /** At most one line per hostname every 10 s: the metric counts every answer. */
  private logFailOpen(hostname: string): void {
    const now = Date.now();
    if (now - (this.failOpenLoggedAt.get(hostname) ?? 0) < 10_000) return;
    this.failOpenLoggedAt.set(hostname, now);
    this.opts.log.warn({ hostname }, 'every region of the record set is down: answering fail-open with half the TTL');
  }

  private countMalformed(kind: string): void {
    let child = this.malformedByKind.get(kind);
    if (!child) {
      child = malformed.labels(kind);
      this.malformedByKind.set(kind, child);
    }
    child.inc();
  }
}
