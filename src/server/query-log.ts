// What the socket edge logs about answered queries: a sample of them (the query log), and fail-open
// answers at most once per hostname every 10 s. Kept out of the query handler, which stays pure: it
// reports each answer here and this decides, with its own clock and sampling, what becomes a log line.

import { addressToString } from '../dns/ecs.js';
import type { Query } from '../dns/types.js';
import type { Logger } from '../obs/logger.js';
import type { Transport } from '../obs/metrics.js';
import type { Rng } from '../steering/rng.js';
import type { SteeringResult } from '../steering/pipeline.js';

/** Told of every answered query (not of dropped ones, nor of slipped ones' steering). */
export interface QueryObserver {
  answered(transport: Transport, source: Uint8Array, query: Query, rcode: number, steering: SteeringResult | null, steeredName: string | null, now: number): void;
}

export interface QueryLogOptions {
  log: Logger;
  /** Fraction of queries logged (0 = off, the default). */
  sample: number;
  rng: Rng;
}

export class QueryLog implements QueryObserver {
  private readonly failOpenLoggedAt = new Map<string, number>();

  constructor(private readonly opts: QueryLogOptions) {}

  answered(transport: Transport, source: Uint8Array, query: Query, rcode: number, steering: SteeringResult | null, steeredName: string | null, now: number): void {
    if (steering !== null && steeredName !== null && steering.outcome === 'fail-open') this.logFailOpen(steeredName, now);
    if (this.opts.sample > 0 && this.opts.rng() < this.opts.sample) {
      const client = addressToString(source.length === 4 ? 1 : 2, source);
      this.opts.log.info({ transport, source: client, qname: query.qname, qtype: query.qtype, rcode, ecs: query.edns?.ecs ? true : false, region: steering?.regions[0] }, 'query');
    }
  }

  /** At most one line per hostname every 10 s: the metric counts every answer. */
  private logFailOpen(hostname: string, now: number): void {
    if (now - (this.failOpenLoggedAt.get(hostname) ?? 0) < 10_000) return;
    this.failOpenLoggedAt.set(hostname, now);
    this.opts.log.warn({ hostname }, 'every region of the record set is down: answering fail-open with half the TTL');
  }
}
