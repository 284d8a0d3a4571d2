// Multi-core serving. The primary runs everything that is state (fleet store, health probes,
// coordinator, ops API, /metrics) and no DNS; each worker loads the zones itself, serves UDP and TCP,
// and answers from its own Snapshot. Every change of state reaches the workers as a small message
// (health, drains, weights: not the zones), which each applies with withState(): one swap per change,
// as in a single process. A zone reload is a message too, sent to one worker at a time once the
// primary's own reload succeeded; each worker prepares aside and swaps (src/server/reload/).
// Tenants: each worker loads the tenants file with the zones, and holds its own copy of the API's
// tenant overrides: all of them when it starts, then only the slugs that changed (never the whole
// map per change: it can hold a million entries).

import cluster, { type Worker } from 'node:cluster';
import client from 'prom-client';
import { configureNsid, SERVER_UDP_PAYLOAD } from '../dns/encode-response.js';
import { formatListenAddress } from '../dns/listen-address.js';
import { DEFAULT_TCP_OPTIONS, type TcpOptions } from '../dns/tcp.js';
import type { Logger } from '../obs/logger.js';
import { registry, workerRestarts } from '../obs/metrics.js';
import type { Drain, EndpointDrain } from '../state/fleet-store.js';
import { OverrideMap } from '../state/store-kit.js';
import { regionOf } from '../state/tenant-directory.js';
import { EntryGate } from '../state/schemas.js';
import { parseWorkerMessage, type StateMessage, type TenantsMessage, type ToWorker } from './worker-messages.js';
import { buildSnapshot, withState, type RegionHealth, type Snapshot } from '../state/snapshot.js';
import type { RegionId } from '../steering/policy.js';
import { mathRandom } from '../steering/rng.js';
import { BindError } from './bind-error.js';
import { startDnsListeners, type DnsListeners } from './dns-listeners.js';
import { initialSecrets, setUpGuard, workerSecretEnv } from './guard-setup.js';
import { QueryHandler } from './query-handler.js';
import { QueryLog } from './query-log.js';
import type { PreparedConfig } from './reload/prepare.js';
import { Reloader } from './reload/reloader.js';
import { RollingReload } from './reload/rolling.js';
import { defaultInstanceId, openGeo, serve, type RunningServer, type ServeOptions } from './serve.js';

type MetricsJson = Awaited<ReturnType<typeof registry.getMetricsAsJSON>>;

type ToPrimary = { type: 'ready' } | { type: 'tenants-resync' } | { type: 'metrics'; id: number; data: MetricsJson } | { type: 'reloaded'; ok: boolean; version: number }
  | StartFailedMessage;

/** A worker could not start for a reason a restart will not fix (a listener that cannot bind). */
export interface StartFailedMessage {
  type: 'start-failed';
  bind: ReturnType<BindError['toJSON']>;
}

const sameRegion = (a: unknown, b: unknown): boolean => regionOf(a) === regionOf(b);

function tenantsOf(s: Snapshot): OverrideMap {
  const o = s.tenants.overrides;
  return o instanceof OverrideMap ? o : OverrideMap.from(o);
}

export function stateMessage(s: Snapshot): StateMessage {
  return {
    type: 'state',
    version: s.version,
    regionHealth: [...s.regionHealth],
    drains: [...s.drains],
    weightOverrides: [...s.weightOverrides],
    endpointHealth: [...s.endpointHealth],
    endpointDrains: [...s.endpointDrains],
  };
}

export interface ClusterOptions extends ServeOptions {
  workers: number;
  /** Give each worker its own sockets (SO_REUSEPORT) instead of sharing the primary's. */
  reusePort?: boolean;
}

const METRICS_TIMEOUT_MS = 2_000;
/** A worker that dies within this long of its start counts towards the crash-loop backoff. */
const CRASH_WINDOW_MS = 10_000;
/** Workers that died before serving, in a row, after which the instance gives up and exits. */
export const MAX_START_FAILURES = 3;

export interface RunningCluster {
  server: RunningServer;
  /** Reloads in the primary, and when the files are good, in every worker, one after the other. */
  reload(): Promise<{ ok: boolean; errors: string[] }>;
  workers(): Worker[];
  /** Settles when the instance cannot serve and must exit: a worker's listener cannot bind, or workers keep dying at start-up. */
  failed: Promise<Error>;
  close(): Promise<void>;
}

export async function servePrimary(opts: ClusterOptions, log: Logger): Promise<RunningCluster> {
  const ready = new Set<number>();
  const pending = new Map<number, { want: number; got: MetricsJson[]; done: (v: MetricsJson[]) => void }>();
  let nextMetricsId = 1;
  let shuttingDown = false;
  let server: RunningServer | null = null;
  const startedAt = new Map<number, number>();
  let quickDeaths = 0;
  let announced = false;
  /** Workers that have sent 'ready' once; one that dies before that failed to start. */
  const everReady = new Set<number>();
  let startFailures = 0;
  let fail!: (err: Error) => void;
  const failed = new Promise<Error>((resolve) => {
    fail = (err) => { if (!shuttingDown) { shuttingDown = true; resolve(err); } };
  });
  const rolling = new RollingReload();

  const send = (w: Worker, m: ToWorker) => { if (w.isConnected()) w.send(m); };
  const broadcast = (m: ToWorker) => { for (const w of Object.values(cluster.workers ?? {})) if (w) send(w, m); };

  // What the workers hold of the tenant overrides, and the number of the last delta sent.
  let sentTenants = OverrideMap.EMPTY;
  let tenantSeq = 0;
  /** One delta to every worker when the overrides in `s` differ from what they hold. */
  const syncTenants = (s: Snapshot) => {
    const next = tenantsOf(s);
    if (next === sentTenants) return;
    const delta = next.changesSince(sentTenants, sameRegion);
    sentTenants = next;
    if (delta.length === 0) return;
    const m: TenantsMessage = { type: 'tenants', seq: ++tenantSeq, full: false, set: [], removed: [] };
    for (const { key, value } of delta) {
      if (value === undefined) m.removed.push(key);
      else m.set.push([key, regionOf(value)]);
    }
    broadcast(m);
  };
  const tenantsFull = (): TenantsMessage => ({
    type: 'tenants', seq: tenantSeq, full: true, set: [...sentTenants].map(([slug, v]) => [slug, regionOf(v)]), removed: [],
  });

  // A bad secret file stops the start here, not in a crash loop of workers.
  if (opts.cookies && opts.cookies.secretFile !== null) initialSecrets(opts.cookies);
  // One secret for every worker, also for those restarted later: each accepts the others' cookies.
  const secretEnv = workerSecretEnv(opts.cookies);
  const fork = (index: number): Worker => {
    const w = cluster.fork({ REGIONDNS_WORKER_INDEX: String(index), ...secretEnv });
    startedAt.set(w.id, Date.now());
    w.on('message', (m: ToPrimary) => {
      if (m.type === 'ready') {
        ready.add(w.id);
        everReady.add(w.id);
        startFailures = 0;
        if (server) {
          const snap = server.coordinator.snapshot();
          syncTenants(snap);
          send(w, tenantsFull());
          send(w, stateMessage(snap));
        }
        log.info({ worker: index, pid: w.process.pid }, 'worker serving');
        if (!announced && ready.size >= opts.workers) {
          announced = true;
          log.info({ dns: opts.listen.map(formatListenAddress), http: opts.http ? formatListenAddress(opts.http) : null, workers: opts.workers }, 'listening');
        }
      } else if (m.type === 'metrics') {
        const p = pending.get(m.id);
        if (p) {
          p.got.push(m.data);
          if (p.got.length >= p.want) { pending.delete(m.id); p.done(p.got); }
        }
      } else if (m.type === 'tenants-resync') {
        send(w, tenantsFull());
      } else if (m.type === 'start-failed') {
        fail(BindError.fromJSON(m.bind));
      } else if (m.type === 'reloaded') {
        rolling.done(w.id, m.ok);
        if (!m.ok) log.error({ worker: index }, 'worker could not reload the zones: it keeps serving the previous version');
      }
    });
    w.on('exit', (code, signal) => {
      ready.delete(w.id);
      rolling.gone(w.id);
      if (shuttingDown) return;
      if (!everReady.has(w.id) && ++startFailures >= MAX_START_FAILURES) {
        fail(new Error(`worker ${index} died ${startFailures} times in a row before serving (last exit: ${signal ?? `code ${code}`}): giving up`));
        return;
      }
      workerRestarts.inc();
      const lived = Date.now() - (startedAt.get(w.id) ?? 0);
      quickDeaths = lived < CRASH_WINDOW_MS ? quickDeaths + 1 : 0;
      const delay = Math.min(30_000, quickDeaths <= 1 ? 0 : 250 * 2 ** (quickDeaths - 2));
      log.error({ worker: index, pid: w.process.pid, code, signal, restartInMs: delay }, 'worker died: starting a new one');
      setTimeout(() => { if (!shuttingDown) fork(index); }, delay).unref();
    });
    return w;
  };

  const metrics = async (): Promise<string> => {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && ready.has(w.id));
    const id = nextMetricsId++;
    const fromWorkers = await new Promise<MetricsJson[]>((resolve) => {
      if (workers.length === 0) return resolve([]);
      const timer = setTimeout(() => { const p = pending.get(id); pending.delete(id); resolve(p?.got ?? []); }, METRICS_TIMEOUT_MS);
      pending.set(id, { want: workers.length, got: [], done: (v) => { clearTimeout(timer); resolve(v); } });
      for (const w of workers) send(w, { type: 'metrics', id });
    });
    const own = await registry.getMetricsAsJSON();
    return client.AggregatorRegistry.aggregate([own, ...fromWorkers]).metrics();
  };

  server = await serve({
    ...opts,
    // Every good reload of the primary (SIGHUP or POST /v1/reload) goes to every worker.
    // Workers reload one at a time from their own reload process: never every worker at once.
    reloadWorkers: async () => {
      const targets = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && ready.has(w.id))
        .map((w) => ({ id: w.id, send: () => { if (!w.isConnected()) return false; w.send({ type: 'reload' } satisfies ToWorker); return true; } }));
      const done = await rolling.run(targets);
      log.info({ workers: done.ok, failed: done.failed }, 'workers reloaded');
    },
    listen: [], // the workers serve DNS
    cookies: null, // the workers answer, so they hold the cookie secret and the rate limiter
    rrl: null,
    cluster: {
      metrics,
      readiness: () => ({ ready: ready.size >= opts.workers, status: `${ready.size}/${opts.workers} workers serving`, serving: ready.size > 0 }),
    },
  }, log);
  const running = server;
  // Every swap in the primary (health, drains, weights, reloads) goes to every worker.
  running.coordinator.onSwap((s) => {
    syncTenants(s);
    broadcast(stateMessage(s));
  });
  for (let i = 0; i < opts.workers; i++) fork(i);

  return {
    server: running,
    reload: (id?: string) => running.reload(id),
    workers: () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w),
    failed,
    async close() {
      shuttingDown = true;
      const exits = Object.values(cluster.workers ?? {}).map((w) => w && new Promise<void>((resolve) => {
        if (w.isDead()) return resolve();
        w.once('exit', () => resolve());
        const t = setTimeout(() => w.kill('SIGKILL'), 5_000);
        t.unref();
        w.kill('SIGTERM');
      }));
      await Promise.all(exits);
      await running.close();
    },
  };
}

/** A worker: loads the zones, serves DNS, applies the primary's state messages. */
export async function serveWorker(opts: ClusterOptions, log: Logger): Promise<{ close(): Promise<void> }> {
  const index = Number(process.env.REGIONDNS_WORKER_INDEX ?? 0);
  const wlog = log.child({ worker: index });
  const instanceId = opts.instanceId ?? defaultInstanceId();
  configureNsid(opts.nsid === 'auto' ? `${instanceId}/w${index}` : opts.nsid ?? null);
  // Workers do not report what the primary reports (GeoIP banner, zone summary).
  const geo = openGeo(opts.geoip, wlog.child({ component: 'geo' }), true);
  let applyConfig: (c: PreparedConfig) => void = () => undefined;
  const reloader = new Reloader({ zonesDir: opts.zonesDir, latencyTablePath: opts.latencyTable, keysDir: opts.keysDir, maxFileBytes: opts.maxFileBytes, log: wlog, metrics: false }, (c) => applyConfig(c));
  const first = await reloader.initial();
  let base = buildSnapshot({ version: 0, zones: [], builtZones: first.zones, steering: first.steering, endpointCheckIds: first.health.pools, geo, latencyTable: first.latencyTable });
  let state: StateMessage | null = null;
  let tenantOverrides = OverrideMap.EMPTY;
  let tenantSeq = -1; // no full copy yet
  let current: Snapshot = base;
  const apply = () => {
    current = withState(base, {
      version: state?.version ?? base.version,
      ...(state ? {
        regionHealth: new Map(state.regionHealth), drains: new Map(state.drains), weightOverrides: new Map(state.weightOverrides),
        endpointHealth: new Map(state.endpointHealth ?? []), endpointDrains: new Map(state.endpointDrains ?? []),
      } : {}),
      tenantOverrides,
    });
  };
  const applyTenants = (m: TenantsMessage) => {
    // Region ids shared with the config, not one string per tenant.
    const value = (r: RegionId | null) => ({ region: r === null ? null : current.steering.regions.get(r)?.id ?? r });
    const changes = [...m.set.map(([key, r]) => ({ key, value: value(r) })), ...m.removed.map((key) => ({ key, value: null }))];
    if (m.full) {
      tenantOverrides = OverrideMap.EMPTY.with(changes);
    } else if (tenantSeq >= 0 && m.seq === tenantSeq + 1) {
      tenantOverrides = tenantOverrides.with(changes);
    } else {
      // Older than the full copy (already in it), or before it: nothing to do. A gap: ask for everything.
      if (tenantSeq >= 0 && m.seq > tenantSeq + 1) process.send?.({ type: 'tenants-resync' } satisfies ToPrimary);
      return;
    }
    tenantSeq = m.seq;
    apply();
  };

  const guard = await setUpGuard(opts.cookies, opts.rrl, wlog.child({ component: 'guard' }));
  const handler = new QueryHandler(() => current, {
    udpLimit: opts.udpLimit ?? SERVER_UDP_PAYLOAD,
    rng: opts.rng ?? mathRandom,
    log: wlog.child({ component: 'query' }),
    observer: new QueryLog({ log: wlog.child({ component: 'query' }), sample: opts.queryLogSample ?? 0, rng: opts.rng ?? mathRandom }),
    guard: guard.guard,
  });
  const tcpOpts: TcpOptions = { ...DEFAULT_TCP_OPTIONS, ...opts.tcp };
  applyConfig = (next) => {
    base = buildSnapshot({ version: current.version, zones: [], builtZones: next.zones, steering: next.steering, endpointCheckIds: next.health.pools, geo, latencyTable: next.latencyTable });
    apply();
  };
  let dns: DnsListeners;
  try {
    dns = await startDnsListeners(opts.listen, handler, tcpOpts, wlog, { reusePort: opts.reusePort, udpEngine: opts.udpEngine, worker: true });
  } catch (err) {
    // The primary says it once and exits: restarting a worker cannot free a port.
    if (err instanceof BindError && process.send) {
      await new Promise<void>((resolve) => process.send!({ type: 'start-failed', bind: err.toJSON() } satisfies ToPrimary, () => resolve()));
    }
    throw err;
  }
  client.AggregatorRegistry.setRegistries([registry]);

  const gate = new EntryGate(wlog);
  process.on('message', (raw: unknown) => {
    const m = parseWorkerMessage(raw, gate);
    if (!m) return;
    if (m.type === 'state') {
      state = m;
      apply();
    } else if (m.type === 'tenants') {
      applyTenants(m);
    } else if (m.type === 'reload') {
      guard.reloadSecrets();
      void reloader.reload().then((r) => process.send?.({ type: 'reloaded', ok: r.ok, version: current.version } satisfies ToPrimary));
    } else if (m.type === 'metrics') {
      registry.getMetricsAsJSON().then((data) => process.send?.({ type: 'metrics', id: m.id, data } satisfies ToPrimary));
    }
  });
  process.send?.({ type: 'ready' } satisfies ToPrimary);
  return { close: async () => { await dns.close(); await guard.close(); await reloader.close(); } };
}
