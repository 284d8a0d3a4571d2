// Every metric regiondns exports, declared in one place with bounded labels.
// Hot-path counters are plain arrays (QueryStats) read at scrape time.

import { isMainThread } from 'node:worker_threads';
import client from 'prom-client';
import { COOKIE_VERDICT_LABELS } from '../cookies/server-cookie.js';
import { rcodeName, typeName, RRType } from '../dns/constants.js';
import { RESPONSE_KIND_LABELS } from '../rrl/classify.js';

export type Transport = 'udp' | 'tcp';

export const registry = new client.Registry();
// regiondns_process_cpu_seconds_total, regiondns_nodejs_heap_size_used_bytes, …: the process's, once.
// A DNS worker thread's registry is added to the primary's on /metrics, and process figures (CPU,
// RSS, file descriptors) summed over threads would count the one process several times.
if (isMainThread) client.collectDefaultMetrics({ register: registry, prefix: 'regiondns_' });

// Queries, response sizes and steered answers are counted on the hot path in plain arrays
// (QueryStats below) and turned into Prometheus series only when /metrics is scraped: a query
// bumps an array slot, no label lookup, hashing or histogram walk.

const RESPONSE_BUCKETS = [64, 128, 256, 512, 1232, 4096, 16384, 65535] as const;
const TRANSPORTS: readonly Transport[] = ['udp', 'tcp'];
const COUNTED_TYPES = [RRType.A, RRType.AAAA, RRType.CNAME, RRType.NS, RRType.SOA, RRType.MX, RRType.TXT, RRType.SRV, RRType.CAA, RRType.PTR, RRType.ANY, 43, 48, 65, 64];
const TYPE_SLOTS = COUNTED_TYPES.length + 1;
/** qtype → slot, indexed by the 16-bit type; every other type shares the last slot ("other"). An array read, not a Map lookup, per query. */
const TYPE_SLOT = new Uint8Array(65536).fill(TYPE_SLOTS - 1);
COUNTED_TYPES.forEach((t, i) => { TYPE_SLOT[t] = i; });
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
    const t = TYPE_SLOT[qtype & 0xffff];
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

/**
 * Which hostnames get a `hostname` label on regiondns_steering_answers_total. A fleet with tens of
 * thousands of steered hostnames would otherwise export hostnames × regions × outcomes series; the
 * rest are summed under hostname="_other". Default: every hostname while there are at most
 * DEFAULT_HOSTNAME_LABELS of them (by name order, so every process picks the same ones).
 */
export type HostnameLabels = { kind: 'auto'; max: number } | { kind: 'list'; names: ReadonlySet<string> } | { kind: 'none' };
export const DEFAULT_HOSTNAME_LABELS = 100;
export const OTHER_HOSTNAMES = '_other';
let hostnameLabels: HostnameLabels = { kind: 'auto', max: DEFAULT_HOSTNAME_LABELS };

export function configureHostnameLabels(h: HostnameLabels): void {
  hostnameLabels = h;
}

/** Parses `--metrics-hostnames`: "all", "none", a number (auto with that cap) or a comma-separated list of fqdns. */
export function parseHostnameLabels(text: string): HostnameLabels {
  const t = text.trim();
  if (t === 'all') return { kind: 'auto', max: Number.POSITIVE_INFINITY };
  if (t === 'none') return { kind: 'none' };
  if (/^\d+$/.test(t)) return { kind: 'auto', max: Number(t) };
  const names = t.split(',').map((n) => n.trim().toLowerCase()).filter(Boolean).map((n) => (n.endsWith('.') ? n : `${n}.`));
  if (names.length === 0) throw new Error('--metrics-hostnames takes "all", "none", a number, or a comma-separated list of hostnames');
  return { kind: 'list', names: new Set(names) };
}

/** The hostname label each counted hostname is exported under (at scrape time, never per query). */
export function hostnameLabelsFor(seen: Iterable<string>, h: HostnameLabels = hostnameLabels): Map<string, string> {
  const out = new Map<string, string>();
  const all = [...seen].sort();
  if (h.kind === 'none') for (const n of all) out.set(n, OTHER_HOSTNAMES);
  else if (h.kind === 'list') for (const n of all) out.set(n, h.names.has(n) ? n : OTHER_HOSTNAMES);
  else all.forEach((n, i) => out.set(n, i < h.max ? n : OTHER_HOSTNAMES));
  return out;
}

export const steeringOutcomes = new client.Counter({
  name: 'regiondns_steering_answers_total',
  help: 'Steered answers by hostname (bounded: see --metrics-hostnames), region answered first, and outcome (ok, fail-open, servfail, fallback-region; tenants: pinned, residency-fallback)',
  labelNames: ['hostname', 'region', 'outcome'] as const,
  registers: [registry],
  collect() {
    this.reset();
    const label = hostnameLabelsFor(queryStats.steered.keys());
    for (const [name, byRegion] of queryStats.steered) {
      const hostname = label.get(name) ?? OTHER_HOSTNAMES;
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
  help: 'DNS worker threads that died and were replaced',
  registers: [registry],
});

export const internalErrors = new client.Counter({
  name: 'regiondns_internal_errors_total',
  help: 'Queries that hit an unexpected error and were answered SERVFAIL',
  registers: [registry],
});

// --- response rate limiting and DNS cookies ---------------------------------------------------------
// Counted per query in plain arrays (a prom-client child hashes its labels on every inc()), published
// when /metrics is scraped. kind: answer|nodata|nxdomain|referral|error; verdict: client_only|valid|invalid.

export const guardStats = {
  /** Indexed by CookieVerdict (slot 0, no cookie, is not published). */
  cookieVerdicts: new Float64Array(COOKIE_VERDICT_LABELS.length),
  /** Indexed by ResponseKind. */
  suppressed: new Float64Array(RESPONSE_KIND_LABELS.length),
  slipped: new Float64Array(RESPONSE_KIND_LABELS.length),
};

function publishSlots(counter: client.Counter<string>, label: string, names: readonly string[], values: Float64Array, from = 0): void {
  counter.reset();
  for (let i = from; i < names.length; i++) counter.inc({ [label]: names[i] }, values[i]);
}

export const rrlSuppressed = new client.Counter({
  name: 'regiondns_rrl_suppressed_total',
  help: 'UDP responses the rate limiter withheld (dropped, or slipped as a truncated reply), by response kind',
  labelNames: ['kind'] as const,
  registers: [registry],
  collect() { publishSlots(this, 'kind', RESPONSE_KIND_LABELS, guardStats.suppressed); },
});

export const rrlSlipped = new client.Counter({
  name: 'regiondns_rrl_slipped_total',
  help: 'Withheld responses sent instead as a truncated reply (TC=1, or BADCOOKIE to a client with a cookie), by response kind',
  labelNames: ['kind'] as const,
  registers: [registry],
  collect() { publishSlots(this, 'kind', RESPONSE_KIND_LABELS, guardStats.slipped); },
});

export const rrlEvictions = new client.Counter({
  name: 'regiondns_rrl_evictions_total',
  help: 'Live rate-limit accounts replaced because the table was full (raise --rrl-table-size if this grows)',
  registers: [registry],
});

export const cookieRequests = new client.Counter({
  name: 'regiondns_cookie_requests_total',
  help: 'Requests with a DNS COOKIE option, by what their cookie was (RFC 7873 §5.2)',
  labelNames: ['verdict'] as const,
  registers: [registry],
  collect() { publishSlots(this, 'verdict', COOKIE_VERDICT_LABELS, guardStats.cookieVerdicts, 1); },
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
  help: 'Probe rounds not judged, by reason: busy (the previous probe of the check had not finished), or a failure of this prober\'s own (emfile, enfile, enobufs, eaddrnotavail, stalled event loop) that leaves the check as it was',
  labelNames: ['region', 'check', 'reason'] as const,
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

// --- fleet state ----------------------------------------------------------------------------------
// Read at scrape time from the running server (serve.ts registers the source): what operators have
// changed and whether the fleet store is reachable. Labels: region ids and ramped hostnames, both
// bounded by the configuration (a ramp exists only for a steered hostname).

export interface FleetMetricsSource {
  /** What /readyz says: this instance should get DNS traffic. */
  ready(): boolean;
  storeConnected(): boolean;
  storeVersion(): number;
  drainedRegions(): Iterable<string>;
  regions(): Iterable<string>;
  ramps(): Iterable<{ fqdn: string; percent: number; state: 'running' | 'halted' | 'done' }>;
}

let fleetSource: FleetMetricsSource | null = null;

/** The running server's state for the gauges below; null when it stops. */
export function setFleetMetricsSource(source: FleetMetricsSource | null): void {
  fleetSource = source;
}

export const ready = new client.Gauge({
  name: 'regiondns_ready',
  help: '1 when the instance serves DNS and should get traffic (as /readyz), else 0',
  registers: [registry],
  collect() {
    if (fleetSource) this.set(fleetSource.ready() ? 1 : 0);
  },
});

export const fleetStoreConnected = new client.Gauge({
  name: 'regiondns_fleet_store_connected',
  help: '1 when the fleet store (Redis, or the local store) is reachable and writes can be persisted, else 0',
  registers: [registry],
  collect() {
    if (fleetSource) this.set(fleetSource.storeConnected() ? 1 : 0);
  },
});

export const fleetStoreVersion = new client.Gauge({
  name: 'regiondns_fleet_store_version',
  help: "Version of the fleet state this instance serves; instances that differ for long have lost their feed",
  registers: [registry],
  collect() {
    if (fleetSource) this.set(fleetSource.storeVersion());
  },
});

export const regionDrained = new client.Gauge({
  name: 'regiondns_region_drained',
  help: '1 when an operator has drained the region (for every hostname or some), else 0',
  labelNames: ['region'] as const,
  registers: [registry],
  collect() {
    this.reset();
    if (!fleetSource) return;
    const drained = new Set(fleetSource.drainedRegions());
    for (const region of fleetSource.regions()) this.set({ region }, drained.has(region) ? 1 : 0);
  },
});

export const rampPercent = new client.Gauge({
  name: 'regiondns_ramp_percent',
  help: 'Share of traffic (percent) the ramped record set gets at the step in force, per hostname with a ramp',
  labelNames: ['hostname', 'state'] as const,
  registers: [registry],
  collect() {
    this.reset();
    if (!fleetSource) return;
    for (const r of fleetSource.ramps()) this.set({ hostname: r.fqdn, state: r.state }, r.percent);
  },
});

// ---- fleet store integrity (see src/state/schemas.ts and src/state/redis-store.ts) ----

export const fleetStoreBadEntries = new client.Counter({
  name: 'regiondns_fleet_store_bad_entries_total',
  help: 'Entries read back from the fleet store (or its messages) that did not parse and were skipped, by namespace',
  labelNames: ['namespace'] as const,
  registers: [registry],
});

export const fleetStoreResets = new client.Counter({
  name: 'regiondns_fleet_store_resets_total',
  help: 'Times Redis was found to have lost fleet state (epoch gone or changed, version went back), by what this instance did: reseeded it or converged on another instance\'s reseed',
  labelNames: ['action'] as const,
  registers: [registry],
});

// ---- DNSSEC online signing (src/dnssec/) ----
export const dnssecSignatures = new client.Counter({
  name: 'regiondns_dnssec_signatures_total',
  help: 'RRSIGs computed (at load, on first use of an RRset, and when a cached signature is refreshed); a steady rise under steady traffic means the signature cache is too small',
  registers: [registry],
});

// --- serving stays up: listener caps ------------------------------------------------------------

export const httpRefused = new client.Counter({
  name: 'regiondns_http_connections_refused_total',
  help: 'Connections to the HTTP (ops) listener closed at accept: over the cap in all, or over the cap of one client address',
  labelNames: ['reason'] as const,
  registers: [registry],
});

// ── batched UDP engine (src/dns/udp-batch.ts) ──
export const udpSendDropped = new client.Counter({
  name: 'regiondns_udp_send_dropped_total',
  help: 'UDP replies dropped by the batch engine: the socket send buffer was full (EAGAIN, ENOBUFS) or the kernel refused the destination',
  registers: [registry],
});

// ---- per-endpoint health (pool endpoints with checks) ---------------------------------------------
// Cardinality: one series per (region, endpoint address) while the fleet has at most
// `--endpoint-metrics-limit` of them (default 1000); above it the per-endpoint series are not
// exported and only the per-region counts (`regiondns_endpoints`) remain, which are bounded by regions.

export const endpointUp = new client.Gauge({
  name: 'regiondns_endpoint_up',
  help: 'Fleet view: 1 when every check of the pool endpoint is up (by quorum of probers), else 0; absent above --endpoint-metrics-limit endpoints',
  labelNames: ['region', 'endpoint'] as const,
  registers: [registry],
});

export const endpointTransitions = new client.Counter({
  name: 'regiondns_endpoint_transitions_total',
  help: 'Fleet view: changes of a pool endpoint between up and down, by the state changed to; endpoint="*" above --endpoint-metrics-limit endpoints',
  labelNames: ['region', 'endpoint', 'to'] as const,
  registers: [registry],
});

export const endpointsByState = new client.Gauge({
  name: 'regiondns_endpoints',
  help: 'Fleet view: pool endpoints with checks per region, by health (up or down)',
  labelNames: ['region', 'state'] as const,
  registers: [registry],
});

export const endpointProbes = new client.Counter({
  name: 'regiondns_endpoint_probes_total',
  help: "This instance's probes of endpoint checks, by result (pass or fail)",
  labelNames: ['result'] as const,
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
