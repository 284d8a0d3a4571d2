// regiondns command line: serve, check, explain.

import { parseArgs } from 'node:util';
import { formatConfigError } from './config/errors.js';
import { loadConfig } from './config/load-config.js';
import { RRType } from './dns/constants.js';
import { parseSubnet } from './dns/ecs.js';
import { canonicalName } from './dns/name.js';
import { parseListenAddress } from './dns/listen-address.js';
import { createLogger } from './obs/logger.js';
import { explainQuery } from './query/explain.js';
import cluster from 'node:cluster';
import os from 'node:os';
import { servePrimary, serveWorker, type ClusterOptions } from './server/cluster.js';
import { ConfigLoadError, serve } from './server/serve.js';
import { probeOnly } from './server/probe-only.js';
import { buildSnapshot } from './state/snapshot.js';
import { openGeoDatabases, defaultGeoDatabasePaths } from './geo/locator.js';
import { formatTrace } from './steering/trace.js';
import { runCtl } from './ctl/ctl.js';

const USAGE = `regiondns: authoritative DNS and global traffic manager

Usage:
  regiondns serve   [--zones DIR] [--listen ADDR:PORT]... [--http ADDR:PORT] [options]
  regiondns check   [DIR]
  regiondns explain HOSTNAME --client IP[/PREFIX] [--zones DIR] [--geoip FILE]... [--json]
  regiondns probe   --zones DIR --redis URL [--instance-id ID]      (a prober that serves no DNS)
  regiondns ctl     state|drain|undrain|split|ramp|explain|audit ...   (regiondns ctl --help)

serve options:
  --zones DIR            zone files and steering policies (default ./zones)
  --listen ADDR:PORT     UDP and TCP; repeatable; IPv6 as [::1]:5353 (default 127.0.0.1:5353)
  --http ADDR:PORT       metrics, /healthz, /readyz (default 127.0.0.1:8053); "off" disables
  --udp-size N           largest UDP reply, bytes (default 1232)
  --geoip FILE           MMDB city database (GeoIP2 or DB-IP layout); repeatable (IPv4 + IPv6 files);
                         default: the bundled DB-IP City Lite if installed
  --no-geoip             no GeoIP: steered names keep the regions' configured order
  --latency-table FILE   CSV of measured latencies (key,region,ms) overriding the distance model
  --query-log RATE       log this fraction of queries (0..1, default 0)
  --log-level LEVEL      trace|debug|info|warn|error (default info)
  --tcp-idle-timeout MS  (default 10000)   --tcp-max-connections N (default 1000)
  --redis URL            share fleet state (drains, weights, ramps, health verdicts) through Redis
  --state-file FILE      without Redis: where overrides are kept across restarts
                         (default .regiondns/state.json; "off" keeps them in memory only)
  --instance-id ID       this instance's name in the fleet (default: host name and pid)
  --ops-tokens FILE      ops API tokens, one name:token (or name:token:read) per line;
                         also from REGIONDNS_OPS_TOKENS
  --ops-open-reads       GET /v1/... without a token (writes always need one)
  --no-probe             do not run health probes here (verdicts come from other probers)
  --quorum N|majority    fresh "down" verdicts that mark a check down (default majority)
  --workers N            DNS worker processes (default: the number of cores; 1 = single process)
  --reuse-port           each worker binds its own UDP/TCP sockets (SO_REUSEPORT) instead of sharing
  --nsid ID|auto         answer NSID requests (RFC 5001) with ID, or "auto": instance id and worker
  --tcp-message-timeout MS  a TCP message must arrive whole within this time (default 10000)
  --max-file-size SIZE   largest file read from the zones folder, bytes or with K/M/G (default 512M)

Signals: SIGHUP reloads the zones folder (a broken file keeps the previous version serving);
SIGTERM and SIGINT shut down gracefully.`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve': return cmdServe(rest);
    case 'check': return cmdCheck(rest);
    case 'explain': return cmdExplain(rest);
    case 'probe': return cmdProbe(rest);
    case 'ctl': return runCtl(rest);
    case undefined: case '-h': case '--help': case 'help':
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      console.error(`unknown command "${cmd}"\n\n${USAGE}`);
      return 2;
  }
}

async function cmdServe(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      zones: { type: 'string', default: 'zones' },
      listen: { type: 'string', multiple: true },
      http: { type: 'string', default: '127.0.0.1:8053' },
      'udp-size': { type: 'string' },
      geoip: { type: 'string', multiple: true },
      'no-geoip': { type: 'boolean', default: false },
      'latency-table': { type: 'string' },
      'query-log': { type: 'string', default: '0' },
      'log-level': { type: 'string' },
      'tcp-idle-timeout': { type: 'string' },
      'tcp-max-connections': { type: 'string' },
      redis: { type: 'string' },
      'state-file': { type: 'string' },
      'instance-id': { type: 'string' },
      'ops-tokens': { type: 'string' },
      'ops-open-reads': { type: 'boolean', default: false },
      'no-probe': { type: 'boolean', default: false },
      quorum: { type: 'string' },
      'ramp-tick': { type: 'string' },
      workers: { type: 'string' },
      'reuse-port': { type: 'boolean', default: false },
      nsid: { type: 'string' },
      'tcp-message-timeout': { type: 'string' },
      'max-file-size': { type: 'string' },
    },
    strict: true,
  });
  const workers = values.workers === undefined ? os.availableParallelism() : intOption('--workers', values.workers, 1, 256);
  const quorum = values.quorum === undefined || values.quorum === 'majority' ? 'majority' : intOption('--quorum', values.quorum, 1, 1000);
  const log = createLogger({ level: values['log-level'] });
  const udpLimit = values['udp-size'] ? intOption('--udp-size', values['udp-size'], 512, 65535) : undefined;
  const sample = Number(values['query-log']);
  if (!(sample >= 0 && sample <= 1)) throw new Error('--query-log takes a fraction between 0 and 1');
  const options: ClusterOptions = {
      workers,
      reusePort: values['reuse-port'],
      nsid: values.nsid ?? null,
      zonesDir: values.zones!,
      listen: (values.listen ?? ['127.0.0.1:5353']).map(parseListenAddress),
      http: values.http === 'off' ? null : parseListenAddress(values.http!),
      udpLimit,
      geoip: values['no-geoip'] ? null : values.geoip,
      latencyTable: values['latency-table'] ?? null,
      queryLogSample: sample,
      tcp: {
        ...(values['tcp-idle-timeout'] ? { idleTimeoutMs: intOption('--tcp-idle-timeout', values['tcp-idle-timeout'], 100, 3_600_000) } : {}),
        ...(values['tcp-max-connections'] ? { maxConnections: intOption('--tcp-max-connections', values['tcp-max-connections'], 1, 1_000_000) } : {}),
        ...(values['tcp-message-timeout'] ? { messageTimeoutMs: intOption('--tcp-message-timeout', values['tcp-message-timeout'], 100, 3_600_000) } : {}),
      },
      redis: values.redis ?? null,
      stateFile: values['state-file'] === 'off' ? null : values['state-file'],
      instanceId: values['instance-id'],
      opsTokensFile: values['ops-tokens'] ?? null,
      opsOpenReads: values['ops-open-reads'],
      probe: !values['no-probe'],
      quorum,
      maxFileBytes: values['max-file-size'] ? parseByteSize('--max-file-size', values['max-file-size']) : undefined,
      rampTickMs: values['ramp-tick'] ? intOption('--ramp-tick', values['ramp-tick'], 10, 60_000) : undefined,
  };
  if (workers > 1 && cluster.isWorker) return runWorker(options, log);
  let server: { reload(): unknown; close(): Promise<void> };
  try {
    server = workers > 1 ? await servePrimary(options, log) : await serve(options, log);
  } catch (err) {
    if (err instanceof ConfigLoadError) {
      for (const e of err.errors) log.error({ error: e }, 'zone error');
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  const running = server;
  process.on('SIGHUP', () => { void running.reload(); });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      running.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log.info('stopped');
  return 0;
}

/** A DNS worker of a multi-core server: serves until the primary tells it to stop, or goes away. */
async function runWorker(options: ClusterOptions, log: ReturnType<typeof createLogger>): Promise<number> {
  const worker = await serveWorker(options, log);
  process.on('SIGHUP', () => undefined); // reloads come from the primary, as a message
  await new Promise<void>((resolve) => {
    const stop = () => { worker.close().then(resolve, resolve); };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.once('disconnect', stop); // the primary is gone: stop rather than serve stale state forever
  });
  process.exit(0);
}

async function cmdProbe(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { zones: { type: 'string', default: 'zones' }, redis: { type: 'string' }, 'instance-id': { type: 'string' }, 'log-level': { type: 'string' } },
    strict: true,
  });
  if (!values.redis) {
    console.error('usage: regiondns probe --zones DIR --redis URL [--instance-id ID]\n(a prober alone only helps when DNS instances read its verdicts from the same Redis)');
    return 2;
  }
  const log = createLogger({ level: values['log-level'] });
  let running;
  try {
    running = await probeOnly({ zonesDir: values.zones!, redis: values.redis, instanceId: values['instance-id'] }, log);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 1;
  }
  const p = running;
  process.on('SIGHUP', () => { p.reload(); });
  await new Promise<void>((resolve) => {
    const stop = () => { p.close().then(resolve, resolve); };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}

function cmdCheck(argv: string[]): number {
  const { positionals, values } = parseArgs({ args: argv, options: { 'latency-table': { type: 'string' } }, allowPositionals: true });
  const dir = positionals[0] ?? 'zones';
  const cfg = loadConfig(dir, { latencyTablePath: values['latency-table'] ?? null });
  if (cfg.errors.length) {
    for (const e of cfg.errors) console.error(formatConfigError(e));
    console.error(`${cfg.errors.length} error${cfg.errors.length === 1 ? '' : 's'}`);
    return 1;
  }
  for (const w of cfg.warnings) console.error(`warning: ${formatConfigError(w)}`);
  for (const z of cfg.zones) {
    const steered = [...cfg.steering.hostnames.values()].filter((h) => h.zone === z.origin).length;
    const owners = new Set(z.records.map((r) => r.owner)).size;
    const soa = z.records.find((r) => r.type === RRType.SOA);
    const serial = soa ? new DataView(soa.rdata.buffer, soa.rdata.byteOffset, soa.rdata.byteLength).getUint32(soa.rdata.length - 20) : 0;
    console.log(`${z.origin} ok: ${z.records.length} records, ${owners} names, ${steered} steered, serial ${serial} (${z.file})`);
  }
  if (cfg.steering.regions.size) console.log(`regions ok: ${[...cfg.steering.regions.keys()].join(', ')}`);
  const tenants = cfg.steering.tenants;
  if (tenants?.file) console.log(`tenants ok: ${tenants.entries.size} from ${tenants.file}`);
  return 0;
}

async function cmdExplain(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    options: {
      client: { type: 'string' },
      zones: { type: 'string', default: 'zones' },
      geoip: { type: 'string', multiple: true },
      'no-geoip': { type: 'boolean', default: false },
      'latency-table': { type: 'string' },
      type: { type: 'string', default: 'A' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const hostname = positionals[0];
  if (!hostname || !values.client) {
    console.error('usage: regiondns explain HOSTNAME --client IP[/PREFIX] [--zones DIR]');
    return 2;
  }
  const cfg = loadConfig(values.zones!, { latencyTablePath: values['latency-table'] ?? null });
  if (cfg.errors.length) {
    for (const e of cfg.errors) console.error(formatConfigError(e));
    return 1;
  }
  const paths = values['no-geoip'] ? null : values.geoip ?? defaultGeoDatabasePaths();
  const geo = paths && paths.length ? openGeoDatabases(paths) : null;
  const snap = buildSnapshot({ version: 1, zones: cfg.zones, steering: cfg.steering, geo, latencyTable: cfg.latencyTable });
  const qtype = values.type!.toUpperCase() === 'AAAA' ? RRType.AAAA : RRType.A;
  const result = explainQuery(snap, canonicalName(hostname), qtype, parseSubnet(values.client));
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else console.log(result.trace ? formatTrace(result.trace) + '\n' + result.summary : result.summary);
  return 0;
}

function intOption(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} takes an integer from ${min} to ${max}`);
  return n;
}

/** "512M", "64k", "1G" (powers of 1024) or plain bytes. */
function parseByteSize(name: string, text: string): number {
  const m = /^(\d+)\s*([kKmMgG]?)i?[bB]?$/.exec(text.trim());
  const n = m ? Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} takes a size in bytes, or with K, M or G (e.g. 512M); got "${text}"`);
  return n;
}
