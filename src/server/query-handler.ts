// The query path end to end: bytes in → decode → answer(snapshot) → encode → bytes out.
// Synchronous, I/O-free and clock-free: the sockets call it with the time and the resolver's address as
// octets, and send what it returns. What becomes a log line is decided at the edge (query-log.ts).

import { CookieVerdict } from '../cookies/server-cookie.js';
import { Rcode } from '../dns/constants.js';
import { decodeQuery } from '../dns/decode-query.js';
import { withDnssec } from '../dnssec/secure-answer.js';
import { copyReply, encodeErrorResponseInto, encodeResponseInto, encodeTruncatedResponseInto, MAX_REPLY } from '../dns/encode-response.js';
import type { Logger } from '../obs/logger.js';
import { internalErrors, malformed, queryStats, truncated, type Transport } from '../obs/metrics.js';
import { answer } from '../query/answer.js';
import { RrlAction } from '../rrl/limiter.js';
import type { Snapshot } from '../state/snapshot.js';
import type { SteeringResult } from '../steering/pipeline.js';
import type { QueryObserver } from './query-log.js';
import type { ResponseGuard } from './response-guard.js';

export interface QueryHandlerOptions {
  /** Largest UDP reply we send, whatever the client advertises (DNS Flag Day 2020: 1232). */
  udpLimit: number;
  rng: () => number;
  /** For a query that failed inside (a bug): logged with the error. */
  log: Logger;
  /** Told of every answer (the query log, fail-open warnings); absent: nobody. */
  observer?: QueryObserver;
  /** DNS cookies and response rate limiting; absent: neither. */
  guard?: ResponseGuard;
}

const MAX_TCP_MESSAGE = 65535;
/** RFC 1035 §4.2.1: without EDNS a UDP reply is at most 512 bytes. */
const CLASSIC_UDP = 512;

export class QueryHandler {
  private readonly malformedByKind = new Map<string, { inc(): void }>();
  /** Where handle() encodes before copying the reply out at its size. */
  private readonly reply = new Uint8Array(MAX_REPLY);

  constructor(
    private readonly snapshot: () => Snapshot,
    private readonly opts: QueryHandlerOptions,
  ) {}

  /**
   * The reply to `msg` as a new array, or null to send nothing. `source`: the resolver's address as
   * octets (text from node:dgram or TCP is parsed once at the edge, dns-listeners.ts); `now`: the time
   * the message arrived (ms since the epoch), read at the socket edge.
   */
  handle(msg: Uint8Array, source: Uint8Array, transport: Transport, now: number): Uint8Array | null {
    const n = this.handleInto(msg, msg.length, source, transport, now, this.reply);
    return n === 0 ? null : copyReply(this.reply, n);
  }

  /**
   * Answers the first `length` octets of `msg` by writing the reply at the start of `out` (at least
   * MAX_REPLY octets); returns its length, 0 to send nothing. The batched UDP engine passes views of
   * its slabs, valid during this call only (`source` too): no allocation per reply.
   */
  handleInto(msg: Uint8Array, length: number, source: Uint8Array, transport: Transport, now: number, out: Uint8Array): number {
    const decoded = decodeQuery(msg, length);
    if (decoded.kind === 'drop') {
      this.countMalformed(decoded.reason);
      return 0;
    }
    const limit = transport === 'tcp' ? MAX_TCP_MESSAGE : this.opts.udpLimit;
    const guard = this.opts.guard;
    if (decoded.kind === 'error') {
      let rcode = decoded.rcode;
      const verdict = guard ? guard.checkCookie(decoded.edns, source, now) : CookieVerdict.NONE;
      if (decoded.reason === 'qdcount' && verdict !== CookieVerdict.NONE && msg[4] === 0 && msg[5] === 0) {
        // RFC 7873 §5.4: a query with no question and a cookie asks for a server cookie: NOERROR,
        // or BADCOOKIE when the server cookie it sent is not valid.
        rcode = verdict === CookieVerdict.INVALID ? Rcode.BADCOOKIE : Rcode.NOERROR;
      } else {
        this.countMalformed(decoded.reason);
      }
      if (guard && guard.limit(null, null, source, transport, verdict, now) === RrlAction.DROP) return 0;
      const size = transport === 'tcp' ? MAX_TCP_MESSAGE : Math.min(limit, decoded.edns ? Math.max(CLASSIC_UDP, decoded.edns.udpSize) : CLASSIC_UDP);
      const n = encodeErrorResponseInto(out, msg, decoded.id, decoded.flags, decoded.opcode, decoded.questionEnd, rcode, decoded.edns, size, guard ? guard.replyCookie(verdict) : null);
      queryStats.count(transport === 'udp' ? 0 : 1, 0, rcode, n);
      return n;
    }
    const query = decoded.query;
    const maxSize = transport === 'tcp' ? MAX_TCP_MESSAGE : Math.min(limit, query.edns ? Math.max(CLASSIC_UDP, query.edns.udpSize) : CLASSIC_UDP);
    const verdict = guard ? guard.checkCookie(query.edns, source, now) : CookieVerdict.NONE;
    const cookie = guard ? guard.replyCookie(verdict) : null;
    let n: number;
    let rcode: number;
    let slipped = false;
    let steering: SteeringResult | null = null;
    let steeredName: string | null = null;
    try {
      const snap = this.snapshot();
      const res = answer(query, snap, this.opts.rng, source);
      const plain = res.answer;
      steering = res.steering;
      steeredName = res.steeredName;
      // RFC 4035 §3.2.1: signatures only for a query with DO=1.
      const ans = query.edns !== null && query.edns.dnssecOk ? withDnssec(plain, query.qname, query.qtype, snap, now, query.edns.compactOk) : plain;
      rcode = ans.rcode;
      // Charged by the plain answer: a name that does not exist is an NXDOMAIN to the rate limiter
      // whether or not compact denial dressed it as NOERROR for this client.
      const action = guard ? guard.limit(query, plain, source, transport, verdict, now) : RrlAction.PASS;
      if (action === RrlAction.DROP) return 0;
      if (action === RrlAction.SLIP) {
        slipped = true;
        // A client that sent a cookie is told BADCOOKIE with a fresh server cookie: it retries over
        // UDP with it and is then exempt (RFC 7873 §5.2.3: "based on server policy, including rate
        // limiting"; BIND does the same). Others get TC=1 and retry over TCP.
        if (verdict !== CookieVerdict.NONE) {
          rcode = Rcode.BADCOOKIE;
          n = encodeErrorResponseInto(out, msg, query.id, query.flags, query.opcode, query.questionEnd, rcode, query.edns, maxSize, cookie);
        } else {
          n = encodeTruncatedResponseInto(out, msg, query, rcode, cookie);
        }
      } else {
        n = encodeResponseInto(out, msg, query, ans, maxSize, cookie);
      }
    } catch (err) {
      // A bug must cost one SERVFAIL, never the process.
      internalErrors.inc();
      this.opts.log.error({ err, qname: query.qname, qtype: query.qtype }, 'query failed');
      rcode = Rcode.SERVFAIL;
      n = encodeErrorResponseInto(out, msg, query.id, query.flags, query.opcode, query.questionEnd, Rcode.SERVFAIL, query.edns, maxSize, cookie);
    }
    if (transport === 'udp' && !slipped && (out[2] & 0x02) !== 0) truncated.inc();
    queryStats.count(transport === 'udp' ? 0 : 1, query.qtype, rcode, n);
    if (slipped) {
      steering = null;
      steeredName = null;
    } else if (steering !== null && steeredName !== null) {
      queryStats.countSteered(steeredName, steering.regions[0] ?? 'none', steering.outcome);
    }
    this.opts.observer?.answered(transport, source, query, rcode, steering, steeredName, now);
    return n;
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
