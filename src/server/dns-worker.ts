// A DNS worker thread of a multi-core server (cluster.ts starts them). It binds its own UDP and TCP
// sockets (SO_REUSEPORT: the kernel spreads clients over the workers), answers from its own
// Snapshot, and applies the primary's messages (health, drains, weights, tenants, configurations)
// with withState(): one swap per change, as in a single process.
// Nothing is read from disk here but DNSSEC keys: the primary hands over the GeoIP databases and
// each configuration it validated (zones and the tenants table in shared memory, see SharedConfig),
// and each thread takes views of the same copy. So every worker serves exactly what the primary
// checked, and a reload parses the zones folder once, not once per worker.
//
// This module is the thread's entry point; it imports nothing of the primary's (HTTP, Redis, ops),
// so a thread holds only what answering needs.

import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import client from 'prom-client';
import { configureNsid, SERVER_UDP_PAYLOAD } from '../dns/encode-response.js';
import { DEFAULT_TCP_OPTIONS, type TcpOptions } from '../dns/tcp.js';
import type { UdpEngineChoice } from '../dns/udp-engine.js';
import type { ListenAddress } from '../dns/listen-address.js';
import { openGeoDatabases, type GeoFile } from '../geo/locator.js';
import { createLogger, type Logger } from '../obs/logger.js';
import { registry } from '../obs/metrics.js';
import type { RrlOptions, RrlTable } from '../rrl/limiter.js';
import { EntryGate } from '../state/schemas.js';
import { buildSnapshot, withState, type Snapshot } from '../state/snapshot.js';
import { OverrideMap } from '../state/store-kit.js';
import type { RegionId } from '../core/region-id.js';
import { mathRandom } from '../steering/rng.js';
import { BindError } from './bind-error.js';
import { startDnsListeners, type DnsListeners } from './dns-listeners.js';
import { setUpGuard, type CookieOptions } from './guard-setup.js';
import { QueryHandler } from './query-handler.js';
import { QueryLog } from './query-log.js';
import { formatConfigError } from '../config/errors.js';
import { defaultKeysDir } from '../dnssec/load.js';
import { ConfigBuilder, type PreparedConfig, type SharedConfig } from './reload/prepare.js';
import { parseWorkerMessage, type StateMessage, type TenantsMessage, type ToPrimary } from './worker-messages.js';

/** What a worker needs of the server's options: plain data, copied to the thread when it starts. */
export interface DnsWorkerOptions {
  zonesDir: string;
  listen: ListenAddress[];
  udpLimit?: number;
  udpEngine?: UdpEngineChoice;
  keysDir?: string | null;
  queryLogSample?: number;
  tcp?: Partial<TcpOptions>;
  /** Resolved by the primary (the thread shares its pid): NSID "auto" names it, with the worker index. */
  instanceId: string;
  nsid?: string | null;
  cookies?: CookieOptions | null;
  rrl?: RrlOptions | null;
}

export interface DnsWorkerData {
  /** Marks the thread as a DNS worker (see the entry point at the end of this file). */
  role: 'dns-worker';
  index: number;
  options: DnsWorkerOptions;
  /** The primary's copy of the GeoIP databases (SharedArrayBuffer-backed), or null for none. */
  geo: GeoFile[] | null;
  /** The configuration in force when the worker starts. */
  config: SharedConfig;
  /** The rate limiter's accounts, one table for every worker (null: rate limiting is off). */
  rrlTable: RrlTable | null;
  logLevel: string;
}

/** Loads the zones, serves DNS, and applies the primary's messages arriving on `port`. */
export async function serveWorker(data: DnsWorkerData, port: MessagePort, log: Logger): Promise<{ close(): Promise<void> }> {
  const { index, options: opts } = data;
  const wlog = log.child({ worker: index });
  const send = (m: ToPrimary) => port.postMessage(m);
  configureNsid(opts.nsid === 'auto' ? `${opts.instanceId}/w${index}` : opts.nsid ?? null);
  // The primary reported the GeoIP banner and the zone summary; a worker opens quietly.
  const geo = data.geo ? openGeoDatabases(data.geo) : null;
  const builder = new ConfigBuilder(opts.keysDir ?? defaultKeysDir(opts.zonesDir));
  const built = builder.build(data.config);
  if (!built.ok) throw new Error(`the configuration could not be put in force: ${built.errors.map(formatConfigError).join('; ')}`);
  const first = built.config;
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
      if (tenantSeq >= 0 && m.seq > tenantSeq + 1) send({ type: 'tenants-resync' });
      return;
    }
    tenantSeq = m.seq;
    apply();
  };

  const guard = await setUpGuard(opts.cookies, opts.rrl, wlog.child({ component: 'guard' }), data.rrlTable ?? undefined);
  const handler = new QueryHandler(() => current, {
    udpLimit: opts.udpLimit ?? SERVER_UDP_PAYLOAD,
    rng: mathRandom,
    log: wlog.child({ component: 'query' }),
    observer: new QueryLog({ log: wlog.child({ component: 'query' }), sample: opts.queryLogSample ?? 0, rng: mathRandom }),
    guard: guard.guard,
  });
  const tcpOpts: TcpOptions = { ...DEFAULT_TCP_OPTIONS, ...opts.tcp };
  const applyConfig = (next: PreparedConfig) => {
    base = buildSnapshot({ version: current.version, zones: [], builtZones: next.zones, steering: next.steering, endpointCheckIds: next.health.pools, geo, latencyTable: next.latencyTable });
    apply();
  };
  let dns: DnsListeners;
  try {
    // Threads cannot share one socket as processes did: each binds its own (SO_REUSEPORT).
    dns = await startDnsListeners(opts.listen, handler, tcpOpts, wlog, { reusePort: true, udpEngine: opts.udpEngine });
  } catch (err) {
    await guard.close();
    // The primary says it once and exits: restarting a worker cannot free a port.
    if (err instanceof BindError) send({ type: 'start-failed', bind: err.toJSON() });
    throw err;
  }
  const close = async () => { await dns.close(); await guard.close(); };

  const gate = new EntryGate(wlog);
  port.on('message', (raw: unknown) => {
    const m = parseWorkerMessage(raw, gate);
    if (!m) return;
    if (m.type === 'state') {
      state = m;
      apply();
    } else if (m.type === 'tenants') {
      applyTenants(m);
    } else if (m.type === 'config') {
      guard.reloadSecrets(); // a rotated fleet secret, with the zones (SIGHUP)
      const r = builder.build(m.config);
      if (r.ok) applyConfig(r.config);
      else for (const e of r.errors) wlog.error({ error: formatConfigError(e) }, 'reload failed: keeping the previous zones');
      send({ type: 'reloaded', ok: r.ok, version: current.version });
    } else if (m.type === 'metrics') {
      registry.getMetricsAsJSON().then((metrics) => send({ type: 'metrics', id: m.id, data: metrics }));
    } else if (m.type === 'ping') {
      send({ type: 'pong' });
    } else if (m.type === 'stop') {
      // Sockets closed first, so the kernel stops handing this thread queries; then the thread ends.
      close().finally(() => process.exit(0));
    }
  });
  send({ type: 'ready' });
  return { close };
}

// The thread's entry point. Started any other way (imported by a test, or the primary), it does nothing.
if (!isMainThread && parentPort && (workerData as Partial<DnsWorkerData> | null)?.role === 'dns-worker') {
  const data = workerData as DnsWorkerData;
  const port = parentPort;
  const log = createLogger({ level: data.logLevel });
  client.AggregatorRegistry.setRegistries([registry]);
  serveWorker(data, port, log).catch((err: unknown) => {
    // A bind error has gone to the primary, which reports it once; anything else is this worker's to say.
    if (!(err instanceof BindError)) log.error({ err, worker: data.index }, 'worker failed to start');
    process.exit(1);
  });
}
