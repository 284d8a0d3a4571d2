// Every metric regiondns exports, declared in one place with bounded labels.
// Hot-path counters are plain arrays (QueryStats) read at scrape time.

import client from 'prom-client';
import { rcodeName, typeName, RRType } from '../dns/constants.js';

export type Transport = 'udp' | 'tcp';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'regiondns_' }); // regiondns_process_cpu_seconds_total, regiondns_nodejs_heap_size_used_bytes, …

// Queries, response sizes and steered answers are counted on the hot path in plain arrays
// (QueryStats below) and turned into Prometheus series only when /metrics is scraped: a query
// bumps an array slot, no label lookup, hashing or histogram walk.

const RESPONSE_BUCKETS = [64, 128, 256, 512, 1232, 4096, 16384, 65535] as const;
const TRANSPORTS: readonly Transport[] = ['udp', 'tcp'];
const COUNTED_TYPES = [RRType.A, RRType.AAAA, RRType.CNAME, RRType.NS, RRType.SOA, RRType.MX, RRType.TXT, RRType.SRV, RRType.CAA, RRType.PTR, RRType.ANY, 43, 48, 65, 64];
/** qtype → slot; every other type shares the last slot ("other"). */
const TYPE_SLOT = new Map<number, number>(COUNTED_TYPES.map((t, i) => [t, i]));
const TYPE_SLOTS = COUNTED_TYPES.length + 1;
const RCODE_SLOTS = 24; // 0..23 covers every rcode we send (BADVERS = 16)
const OUTCOMES = ['ok', 'fail-open', 'servfail', 'fallback-region', 'pinned', 'residency-fallback'] as const;
export type SteeringOutcomeLabel = (typeof OUTCOMES)[number];

export class QueryStats {
  readonly counts = new Float64Array(TRANSPORTS.length * TYPE_SLOTS * RCODE_SLOTS);
  readonly sizeBuckets = new Float64Array(TRANSPORTS.length * (RESPONSE_BUCKETS.length + 1));
  readonly sizeSum = new Float64Array(TRANSPORTS.length);
  /** hostname → region → count per outcome (strings come from the config, so lookups do not build keys). */
  readonly steered = new Map<string, Map<string, Float64Array>>();

  count(transport: 0 | 1, qtype: number, rcode: number, bytes: number): void {
    const t = TYPE_SLOT.get(qtype) ?? TYPE_SLOTS - 1;
    this.counts[(transport * TYPE_SLOTS + t) * RCODE_SLOTS + (rcode < RCODE_SLOTS ? rcode : RCODE_SLOTS - 1)]++;
    let b = 0;
    while (b < RESPONSE_BUCKETS.length && bytes > RESPONSE_BUCKETS[b]) b++;
    this.sizeBuckets[transport * (RESPONSE_BUCKETS.length + 1) + b]++;
    this.sizeSum[transport] += bytes;
  }

  countSteered(hostname: string, region: string, outcome: SteeringOutcomeLabel): void {
    let byRegion = this.steered.get(hostname);
    if (!byRegion) { byRegion = new Map(); this.steered.set(hostname, byRegion); }
    let c = byRegion.get(region);
    if (!c) { c = new Float64Array(OUTCOMES.length); byRegion.set(region, c); }
    c[OUTCOMES.indexOf(outcome)]++;
  }
}

/** The process-wide stats every query handler of this process counts into. */
export const queryStats = new QueryStats();

export const queries = new client.Counter({
  name: 'regiondns_queries_total',
  help: 'Queries answered, by transport, query type and response code',
  labelNames: ['transport', 'qtype', 'rcode'] as const,
  registers: [registry],
  collect() {
    this.reset();
    const c = queryStats.counts;
    for (let i = 0; i < c.length; i++) {
      if (c[i] === 0) continue;
      const rcode = i % RCODE_SLOTS;
      const t = Math.floor(i / RCODE_SLOTS) % TYPE_SLOTS;
      const transport = TRANSPORTS[Math.floor(i / (RCODE_SLOTS * TYPE_SLOTS))];
      this.inc({ transport, qtype: t < COUNTED_TYPES.length ? typeName(COUNTED_TYPES[t]) : 'other', rcode: rcodeName(rcode) }, c[i]);
    }
  },
});

export const steeringOutcomes = new client.Counter({
  name: 'regiondns_steering_answers_total',
  help: 'Steered answers by hostname, region answered first, and outcome (ok, fail-open, servfail, fallback-region; tenants: pinned, residency-fallback)',
  labelNames: ['hostname', 'region', 'outcome'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const [hostname, byRegion] of queryStats.steered) {
      for (const [region, c] of byRegion) {
        OUTCOMES.forEach((outcome, i) => { if (c[i] > 0) this.inc({ hostname, region, outcome }, c[i]); });
      }
    }
  },
});

/** A histogram whose buckets live in QueryStats; prom-client's Histogram cannot be set, only observed. */
registry.registerMetric({
  name: 'regiondns_response_bytes',
  help: 'Size of responses sent, in bytes',
  type: 'histogram',
  aggregator: 'sum',
  get: async () => {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    TRANSPORTS.forEach((transport, ti) => {
      let cumulative = 0;
      const base = ti * (RESPONSE_BUCKETS.length + 1);
      RESPONSE_BUCKETS.forEach((le, bi) => {
        cumulative += queryStats.sizeBuckets[base + bi];
        values.push({ labels: { transport, le }, value: cumulative, metricName: 'regiondns_response_bytes_bucket' });
      });
      cumulative += queryStats.sizeBuckets[base + RESPONSE_BUCKETS.length];
      values.push({ labels: { transport, le: '+Inf' }, value: cumulative, metricName: 'regiondns_response_bytes_bucket' });
      values.push({ labels: { transport }, value: queryStats.sizeSum[ti], metricName: 'regiondns_response_bytes_sum' });
      values.push({ labels: { transport }, value: cumulative, metricName: 'regiondns_response_bytes_count' });
    });
    return { name: 'regiondns_response_bytes', help: 'Size of responses sent, in bytes', type: 'histogram', values, aggregator: 'sum' };
  },
  reset: () => undefined,
} as unknown as client.Metric);

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



export const workerRestarts = new client.Counter({
  name: 'regiondns_worker_restarts_total',
  help: 'DNS worker processes that died and were replaced',
  registers: [registry],
});

export const internalErrors = new client.Counter({
  name: 'regiondns_internal_errors_total',
  help: 'Queries that hit an unexpected error and were answered SERVFAIL',
  registers: [registry],
});

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

// Reloads (src/server/reload/): recorded by the process that owns the config (the primary of a
// multi-core server), so a stale configuration shows: an old last success, failures counted in
// regiondns_zone_reloads_total{result="error"}.
export const zoneReloadLastSuccess = new client.Gauge({
  name: 'regiondns_zone_reload_last_success_timestamp_seconds',
  help: 'Unix time of the last load of the zones folder that succeeded (start-up or reload)',
  aggregator: 'max',
  registers: [registry],
});

export const zoneReloadLastFailure = new client.Gauge({
  name: 'regiondns_zone_reload_last_failure_timestamp_seconds',
  help: 'Unix time of the last reload that failed and kept the previous configuration (0: none)',
  aggregator: 'max',
  registers: [registry],
});

export const zoneFilesUnchanged = new client.Counter({
  name: 'regiondns_zone_files_unchanged_total',
  help: 'Files (zone files, tenants file) a reload skipped because their content was unchanged',
  registers: [registry],
});
