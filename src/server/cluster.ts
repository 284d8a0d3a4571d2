// Multi-core serving. The primary runs everything that is state (fleet store, health probes,
// coordinator, ops API, /metrics) and no DNS; each worker is a thread (dns-worker.ts) that loads the
// zones itself, serves UDP and TCP on its own SO_REUSEPORT sockets, and answers from its own Snapshot.
// Threads, not processes: the GeoIP databases (130 MB for DB-IP City Lite) are read once, into
// shared memory, and every thread reads the same copy; a process per worker held one copy each.
// Every change of state reaches the workers as a small message (health, drains, weights: not the
// zones), which each applies with withState(): one swap per change, as in a single process. A zone
// reload is a message too, sent to one worker at a time once the primary's own reload succeeded;
// each worker prepares aside and swaps (src/server/reload/).
// Tenants: each worker loads the tenants file with the zones, and holds its own copy of the API's
// tenant overrides: all of them when it starts, then only the slugs that changed (never the whole
// map per change: it can hold a million entries).
// A worker that dies (an uncaught error ends its thread, not the process) is replaced; workers that
// die before serving, three times in a row, end the instance.

import { Worker } from 'node:worker_threads';
import client from 'prom-client';
import { formatListenAddress } from '../dns/listen-address.js';
import type { Logger } from '../obs/logger.js';
import { registry, workerRestarts } from '../obs/metrics.js';
import { newRrlTable, rrlEnabled } from '../rrl/limiter.js';
import { OverrideMap } from '../state/store-kit.js';
import { regionOf } from '../state/tenant-directory.js';
import type { MetricsJson, StateMessage, TenantsMessage, ToPrimary, ToWorker } from './worker-messages.js';
import type { Snapshot } from '../state/snapshot.js';
import { BindError } from './bind-error.js';
import { checkPortsFree } from './dns-listeners.js';
import type { DnsWorkerData, DnsWorkerOptions } from './dns-worker.js';
import { initialSecrets, workerSecretEnv } from './guard-setup.js';
import type { SharedConfig } from './reload/prepare.js';
import { RollingReload } from './reload/rolling.js';
import { defaultInstanceId, openGeoFiles, readGeo, serve, type RunningServer, type ServeOptions } from './serve.js';

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
  /** A worker that has not answered a heartbeat for this long is ended and replaced (default 10 s). */
  workerStallMs?: number;
}

const METRICS_TIMEOUT_MS = 2_000;
/** A stuck event loop (a bug looping forever) answers no query, and its socket still takes its
 * share of them: the primary sends each serving worker a heartbeat, and ends one that stops answering. */
const DEFAULT_STALL_MS = 10_000;
/** How long a stopping worker may take to close its sockets before its thread is ended. */
const STOP_TIMEOUT_MS = 5_000;
/** A worker that dies within this long of its start counts towards the crash-loop backoff. */
const CRASH_WINDOW_MS = 10_000;
/** Workers that died before serving, in a row, after which the instance gives up and exits. */
export const MAX_START_FAILURES = 3;

const WORKER_ENTRY = new URL('./dns-worker.js', import.meta.url);

export interface RunningCluster {
  server: RunningServer;
  /** Reloads in the primary, and when the files are good, in every worker, one after the other. */
  reload(): Promise<{ ok: boolean; errors: string[] }>;
  workers(): Worker[];
  /** Settles when the instance cannot serve and must exit: a worker's listener cannot bind, or workers keep dying at start-up. */
  failed: Promise<Error>;
  close(): Promise<void>;
}

/** The options a worker thread gets: plain data only (functions and open handles stay here). */
function workerOptions(opts: ClusterOptions, instanceId: string): DnsWorkerOptions {
  return {
    zonesDir: opts.zonesDir, listen: opts.listen, udpLimit: opts.udpLimit, udpEngine: opts.udpEngine, keysDir: opts.keysDir,
    queryLogSample: opts.queryLogSample, tcp: opts.tcp, instanceId, nsid: opts.nsid, cookies: opts.cookies, rrl: opts.rrl,
  };
}

export async function servePrimary(opts: ClusterOptions, log: Logger): Promise<RunningCluster> {
  // Before anything starts: another process on a --listen port ends start-up here (BindError).
  await checkPortsFree(opts.listen);
  /** Live workers by thread id, their index (0..workers-1, kept by a replacement), and when they last answered a heartbeat. */
  const live = new Map<number, { worker: Worker; index: number; heardAt: number }>();
  const ready = new Set<number>();
  const pending = new Map<number, { want: number; got: MetricsJson[]; done: (v: MetricsJson[]) => void }>();
  let nextMetricsId = 1;
  let shuttingDown = false;
  let server: RunningServer | null = null;
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

  const send = (w: Worker, m: ToWorker) => w.postMessage(m);
  const broadcast = (m: ToWorker) => { for (const { worker } of live.values()) send(worker, m); };
  const readyWorkers = () => [...live.entries()].filter(([id]) => ready.has(id)).map(([, l]) => l.worker);

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
  // Read once, into shared memory: the primary (explain, the console) and every worker use this copy.
  const geoFiles = opts.geo !== undefined ? null : readGeo(opts.geoip, log);
  const geo = opts.geo !== undefined ? opts.geo : geoFiles && openGeoFiles(geoFiles, log.child({ component: 'geo' }));
  const instanceId = opts.instanceId ?? defaultInstanceId();
  // One table of rate-limit accounts for every worker: the rate holds per instance, not per worker.
  const rrlTable = opts.rrl && rrlEnabled(opts.rrl) ? newRrlTable(opts.rrl, true) : null;
  const data = (index: number, config: SharedConfig): DnsWorkerData => ({
    role: 'dns-worker', index, options: workerOptions(opts, instanceId), geo: geoFiles, config, rrlTable, logLevel: log.level,
  });

  const start = (index: number): Worker => {
    const startedWith = server!.config().shared;
    const w = new Worker(WORKER_ENTRY, {
      // The configuration in force now; one put in force while the worker starts follows when it is ready.
      workerData: data(index, startedWith),
      // REGIONDNS_WORKER_INDEX says which worker a thread is, also to code preloaded with --import.
      env: { ...process.env, REGIONDNS_WORKER_INDEX: String(index), ...secretEnv },
      name: `regiondns-dns-${index}`,
    });
    const id = w.threadId;
    const startedAt = Date.now();
    const entry = { worker: w, index, heardAt: startedAt };
    live.set(id, entry);
    w.on('message', (m: ToPrimary) => {
      entry.heardAt = Date.now();
      if (m.type === 'pong') return;
      if (m.type === 'ready') {
        ready.add(id);
        everReady.add(id);
        startFailures = 0;
        if (server) {
          const config = server.config().shared;
          if (config !== startedWith) send(w, { type: 'config', config });
          const snap = server.coordinator.snapshot();
          syncTenants(snap);
          send(w, tenantsFull());
          send(w, stateMessage(snap));
        }
        log.info({ worker: index, thread: id }, 'worker serving');
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
        rolling.done(id, m.ok);
        if (!m.ok) log.error({ worker: index }, 'worker could not reload the zones: it keeps serving the previous version');
      }
    });
    // An uncaught error ends the thread (then 'exit' replaces it); the process and the other workers go on.
    w.on('error', (err) => { if (!shuttingDown) log.error({ worker: index, thread: id, err }, 'worker failed'); });
    w.on('exit', (code) => {
      live.delete(id);
      ready.delete(id);
      rolling.gone(id);
      if (shuttingDown) return;
      if (!everReady.has(id) && ++startFailures >= MAX_START_FAILURES) {
        fail(new Error(`worker ${index} died ${startFailures} times in a row before serving (last exit: code ${code}): giving up`));
        return;
      }
      workerRestarts.inc();
      const lived = Date.now() - startedAt;
      quickDeaths = lived < CRASH_WINDOW_MS ? quickDeaths + 1 : 0;
      const delay = Math.min(30_000, quickDeaths <= 1 ? 0 : 250 * 2 ** (quickDeaths - 2));
      log.error({ worker: index, thread: id, code, restartInMs: delay }, 'worker died: starting a new one');
      setTimeout(() => { if (!shuttingDown) start(index); }, delay).unref();
    });
    return w;
  };

  const metrics = async (): Promise<string> => {
    const workers = readyWorkers();
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
    geo,
    instanceId,
    // Every good reload of the primary (SIGHUP or POST /v1/reload) goes to every worker: the
    // configuration the primary validated, put in force by one worker at a time, never all at once.
    reloadWorkers: async () => {
      const config = server!.config().shared;
      const targets = [...live.entries()].filter(([id]) => ready.has(id))
        .map(([id, { worker }]) => ({ id, send: () => { if (!live.has(id)) return false; send(worker, { type: 'config', config }); return true; } }));
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
  for (let i = 0; i < opts.workers; i++) start(i);
  const stallMs = opts.workerStallMs ?? DEFAULT_STALL_MS;
  const heartbeat = setInterval(() => {
    const now = Date.now();
    for (const [id, l] of live) {
      if (!ready.has(id)) continue; // starting: its start-up is bounded elsewhere
      if (now - l.heardAt > stallMs) {
        log.error({ worker: l.index, thread: id, silentMs: now - l.heardAt }, 'worker stalled: ending it');
        l.heardAt = Infinity; // one termination, however long it takes
        void l.worker.terminate(); // its 'exit' replaces it
      } else {
        send(l.worker, { type: 'ping' });
      }
    }
  }, Math.max(50, Math.floor(stallMs / 4)));
  heartbeat.unref();

  return {
    server: running,
    reload: (id?: string) => running.reload(id),
    workers: () => [...live.values()].map((l) => l.worker),
    failed,
    async close() {
      shuttingDown = true;
      clearInterval(heartbeat);
      await Promise.all([...live.values()].map(({ worker }) => new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        // A worker closes its sockets and ends; one that does not within the bound is ended here.
        const t = setTimeout(() => { void worker.terminate(); }, STOP_TIMEOUT_MS);
        t.unref();
        send(worker, { type: 'stop' });
      })));
      await running.close();
    },
  };
}
