// Every metric regiondns exports, declared in one place with bounded labels.
// Hot-path counters are bound to their label values once (see QueryCounters) so a query does no
// label formatting or hashing: it bumps a pre-resolved child.

import client from 'prom-client';
import { rcodeName, typeName, RRType } from '../dns/constants.js';

export type Transport = 'udp' | 'tcp';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'regiondns_process_' });

export const queries = new client.Counter({
  name: 'regiondns_queries_total',
  help: 'Queries answered, by transport, query type and response code',
  labelNames: ['transport', 'qtype', 'rcode'] as const,
  registers: [registry],
});

export const responseBytes = new client.Histogram({
  name: 'regiondns_response_bytes',
  help: 'Size of responses sent, in bytes',
  labelNames: ['transport'] as const,
  buckets: [64, 128, 256, 512, 1232, 4096, 16384, 65535],
  registers: [registry],
});

export const malformed = new client.Counter({
  name: 'regiondns_malformed_packets_total',
  help: 'Packets that were not a well-formed query, by kind (dropped or answered with an error)',
  labelNames: ['kind'] as const,
  registers: [registry],
});

export const truncated = new client.Counter({
  name: 'regiondns_truncated_responses_total',
  help: 'UDP responses sent with TC=1 because they did not fit the UDP payload limit',
  registers: [registry],
});

export const zoneReloads = new client.Counter({
  name: 'regiondns_zone_reloads_total',
  help: 'Zone and policy reloads, by result (ok or error)',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const zoneRecords = new client.Gauge({
  name: 'regiondns_zone_records',
  help: 'Records loaded, per zone',
  labelNames: ['zone'] as const,
  registers: [registry],
});

export const snapshotVersion = new client.Gauge({
  name: 'regiondns_snapshot_version',
  help: 'Version of the snapshot the query path is answering from',
  registers: [registry],
});

export const tcpConnections = new client.Gauge({
  name: 'regiondns_tcp_connections',
  help: 'Open TCP connections',
  registers: [registry],
});

export const tcpClosed = new client.Counter({
  name: 'regiondns_tcp_closed_total',
  help: 'TCP connections closed by the server, by reason',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const steeringOutcomes = new client.Counter({
  name: 'regiondns_steering_answers_total',
  help: 'Steered answers by hostname, region answered first, and outcome (ok, fail-open, servfail, fallback-region)',
  labelNames: ['hostname', 'region', 'outcome'] as const,
  registers: [registry],
});

export const internalErrors = new client.Counter({
  name: 'regiondns_internal_errors_total',
  help: 'Queries that hit an unexpected error and were answered SERVFAIL',
  registers: [registry],
});

const COUNTED_TYPES = [RRType.A, RRType.AAAA, RRType.CNAME, RRType.NS, RRType.SOA, RRType.MX, RRType.TXT, RRType.SRV, RRType.CAA, RRType.PTR, RRType.ANY, 43, 48, 65, 64];

/** Pre-bound children of `queries` and `responseBytes`: one array index per query, no strings. */
export class QueryCounters {
  private readonly children = new Map<number, ReturnType<typeof queries.labels>>();
  private readonly sizes: ReturnType<typeof responseBytes.labels>;

  constructor(private readonly transport: Transport) {
    this.sizes = responseBytes.labels(transport);
  }

  count(qtype: number, rcode: number, bytes: number): void {
    const key = (qtype << 8) | rcode;
    let child = this.children.get(key);
    if (!child) {
      const t = COUNTED_TYPES.includes(qtype as never) ? typeName(qtype) : 'other';
      child = queries.labels(this.transport, t, rcodeName(rcode));
      this.children.set(key, child);
    }
    child.inc();
    this.sizes.observe(bytes);
  }
}

// --- health checks ------------------------------------------------------------------------------
// Labels: region id and the check's name within it ("http#0" or its `name`): bounded by regions.yaml.
// Series of checks removed by a reload are deleted, so the label sets follow the config.

export const checkUp = new client.Gauge({
  name: 'regiondns_check_up',
  help: "This instance's verdict for a check after rise/fall: 1 up, 0 down",
  labelNames: ['region', 'check'] as const,
  registers: [registry],
});

export const probeDuration = new client.Histogram({
  name: 'regiondns_probe_duration_seconds',
  help: 'Duration of health probes run by this instance, passed or failed',
  labelNames: ['region', 'check'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const checkTransitions = new client.Counter({
  name: 'regiondns_check_transitions_total',
  help: "Changes of this instance's verdict for a check, by the state changed to (up or down)",
  labelNames: ['region', 'check', 'to'] as const,
  registers: [registry],
});

export const probesSkipped = new client.Counter({
  name: 'regiondns_probes_skipped_total',
  help: 'Probe rounds skipped because the previous probe of the check had not finished (probe queue saturated)',
  labelNames: ['region', 'check'] as const,
  registers: [registry],
});

export const checkStale = new client.Gauge({
  name: 'regiondns_check_stale',
  help: 'Fleet view: 1 when no prober has a fresh verdict for the check (its last known state holds)',
  labelNames: ['region', 'check'] as const,
  registers: [registry],
});

export const regionOperational = new client.Gauge({
  name: 'regiondns_region_operational',
  help: 'Fleet view: 1 when every health check of the region is up (by quorum of probers), else 0',
  labelNames: ['region'] as const,
  registers: [registry],
});
