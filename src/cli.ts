// regiondns command line: serve, check, explain, plan, probe, ctl.

import { formatConfigError } from './config/errors.js';
import { loadConfig } from './server/load-config.js';
import { RRType } from './dns/constants.js';
import { parseSubnet } from './dns/ecs.js';
import { canonicalName } from './dns/name.js';
import { parseListenAddress } from './dns/listen-address.js';
import { parseUdpEngine, resolveUdpEngine, UdpEngineError } from './dns/udp-engine.js';
import { createLogger } from './obs/logger.js';
import { configureHostnameLabels, parseHostnameLabels } from './obs/metrics.js';
import { explainQuery } from './query/explain.js';
import os from 'node:os';
import path from 'node:path';
import { servePrimary, type ClusterOptions } from './server/cluster.js';
import { ConfigLoadError, serve } from './server/serve.js';
import { BindError } from './server/bind-error.js';
import { openFileLimit, planCaps } from './server/fd-budget.js';
import { DEFAULT_HTTP_LIMITS } from './http/app.js';
import { DEFAULT_TCP_OPTIONS } from './dns/tcp.js';
import { DEFAULT_CONCURRENCY as DEFAULT_PROBE_CONCURRENCY } from './health/scheduler.js';
import { probeOnly } from './server/probe-only.js';
import { buildSnapshot } from './state/snapshot.js';
import { openGeoDatabases, defaultGeoDatabasePaths } from './geo/locator.js';
import { formatTrace } from './steering/trace.js';
import { runCtl } from './ctl/ctl.js';
import { runDnssec } from './dnssec/cli.js';
import { CookieSecretError } from './cookies/secret.js';
import { DEFAULT_RRL, rrlEnabled, type RrlOptions } from './rrl/limiter.js';
import { closestOption, parseCommand, UsageError, type OptionSpec, type Parsed } from './cli/options.js';
import { cmdPlan } from './plan/command.js';
import { zoneSerial } from './zone/serial.js';
import { formatDuration, parseDuration } from './config/duration.js';

const USAGE = `regiondns: authoritative DNS and global traffic manager

Usage:
  regiondns serve   [--zones DIR] [--listen ADDR:PORT]... [--http ADDR:PORT] [options]
  regiondns check   [DIR] [--keys DIR]
  regiondns explain HOSTNAME --client IP[/PREFIX] [--zones DIR]   (from the files alone)
  regiondns plan    --zones NEW [--against DIR | --server URL]     (what a new config would change)
  regiondns probe   --zones DIR --redis URL [--instance-id ID]      (a prober that serves no DNS)
  regiondns ctl     state|drain|undrain|split|ramp|explain|audit|tenants|health|drift|reload ...
  regiondns dnssec  keygen|ds ZONE [--keys DIR]                     (DNSSEC keys)

Each command has its own help: regiondns serve --help, regiondns ctl --help, ...`;

export const SERVE_HELP = `Usage: regiondns serve [--zones DIR] [--listen ADDR:PORT]... [--http ADDR:PORT] [options]

Serves the zones of DIR over DNS (UDP and TCP), with health probes, the ops API, /metrics,
/healthz, /readyz and the console (/ui/) on the HTTP listener.

Options (default in parentheses):
  --zones DIR            zone files and steering policies (default ./zones)
  --listen ADDR:PORT     UDP and TCP; repeatable; IPv6 as [::1]:5353 (default 127.0.0.1:5353)
  --http ADDR:PORT       metrics, /healthz, /readyz (default 127.0.0.1:8053); "off" disables
  --udp-size N           largest UDP reply, bytes (default 1232)
  --max-file-size SIZE   largest file read from the zones folder, bytes or with K/M/G (default 512M)
  --udp-engine E         auto|batch|dgram: batch reads and writes UDP in batches (recvmmsg/sendmmsg,
                         the udp-batch addon built at install, Linux); auto (default) uses it when built
  --geoip FILE           MMDB city database (GeoIP2 or DB-IP layout); repeatable (IPv4 + IPv6 files);
                         default: the bundled DB-IP City Lite if installed
  --no-geoip             no GeoIP: steered names keep the regions' configured order
  --latency-table FILE   CSV of measured latencies (key,region,ms) overriding the distance model
  --query-log RATE       log this fraction of queries (0..1, default 0)
  --log-level LEVEL      trace|debug|info|warn|error (default info)
  --tcp-idle-timeout MS  (default 10000)   --tcp-max-connections N (default 1000)
  --redis URL            share fleet state (drains, weights, ramps, health verdicts) through Redis
  --state-dir DIR        without Redis: where overrides and the audit are kept across restarts
                         (a SQLite database; default .regiondns; "none" keeps them in memory only)
  --state-file FILE      replaced by --state-dir (says so, and which directory to give)
  --instance-id ID       this instance's name in the fleet (default: host name and pid)
  --presence-interval D  with --redis: how often this instance tells the fleet what it serves; it
                         leaves the fleet's list after 3 of them without (default 5s)
  --ops-tokens FILE      ops API tokens, one name:token (or name:token:read) per line;
                         also from REGIONDNS_OPS_TOKENS
  --ops-open-reads       GET /v1/... without a token (writes always need one)
  --no-probe             do not run health probes here (verdicts come from other probers)
  --quorum N|majority    fresh "down" verdicts that mark a check down (default majority)
  --endpoint-metrics-limit N  above N pool endpoints with checks, regiondns_endpoint_up has no
                         per-endpoint series (only per-region counts); default 1000
  --workers N            DNS worker threads (default: the number of cores; 1 = single thread); each
                         binds its own UDP/TCP sockets (SO_REUSEPORT); one GeoIP copy for all
  --reuse-port           accepted for older command lines: workers always bind their own sockets
  --worker-stall-timeout D  a worker that does not answer the primary's heartbeat for this long
                         (a stuck event loop) is ended and replaced (default 10s)
  --nsid ID|auto         answer NSID requests (RFC 5001) with ID, or "auto": instance id and worker
  --tcp-message-timeout MS  a TCP message must arrive whole within this time (default 10000)
  --tcp-max-connections-per-client N   TCP connections one client /24 (IPv6: /56) may hold
                         (default 100, or --tcp-max-connections when that is lower)
  --http-max-connections N             HTTP listener connections at most (default 256)
  --http-max-connections-per-client N  per client address (default 32)
  --http-request-timeout MS            a whole HTTP request must arrive within this (default 30000)
  Caps not given are lowered to fit ulimit -n, keeping descriptors for DNS and health probes.
  --ramp-tick MS         how often this instance's ramp controller looks at ramps (default 1000)
  --metrics-hostnames all|none|N|LIST  which steered hostnames get their own label on
                         regiondns_steering_answers_total; the rest count as "_other"
                         (default 100: the first 100 by name)
  --keys DIR             DNSSEC key files (BIND format); a zone with keys here is signed
                         (default: keys/ inside the zones folder)
  --cookie-secret FILE   DNS cookies: the fleet's secret (32 hex digits; a second line: the previous
                         secret, still accepted); default: with --redis, the fleet's secret in
                         Redis (made by the first instance); else random, for this instance
  --no-cookies           ignore DNS cookies (RFC 7873) instead of answering them
  --rrl-rate N           response rate limiting: responses per second per client prefix, kind and
                         name (default 0: off; over TCP and with a valid cookie never limited)
  --rrl-nxdomain-rate N  --rrl-nodata-rate N  --rrl-referral-rate N  --rrl-error-rate N
                         the rate of one kind of response (BIND's nxdomains-per-second, …);
                         default --rrl-rate; 0: that kind is not limited
  --rrl-slip N           every Nth limited reply goes out truncated (TC=1); 0 drops all (default 2)
  --rrl-window S         seconds over which the rate is averaged (default 15)
  --rrl-ipv4-prefix N    --rrl-ipv6-prefix N   client prefixes sharing a limit (default 24, 56)
  --rrl-table-size N     rate-limit accounts held, a fixed table (default 262144)


Signals: SIGHUP reloads the zones folder (a broken file keeps the previous version serving) and the
cookie secret; SIGTERM and SIGINT shut down gracefully.`;

export const CHECK_HELP = `Usage: regiondns check [DIR] [--latency-table FILE] [--keys DIR]

Loads the zone files, steering policies and tenants file of DIR (default ./zones) as serve would,
prints what it found, and every error with file:line. Exit 0 when all is well, 1 otherwise.

Options:
  --latency-table FILE   also check this latency table (key,region,ms)
  --keys DIR             DNSSEC key files to load with the zones (keys/ inside DIR)`;

export const EXPLAIN_HELP = `Usage: regiondns explain HOSTNAME --client IP[/PREFIX] [options]

The answer a client would get, and why, computed from the FILES ALONE: no drains, no health
verdicts, no runtime splits or ramps. For what a running fleet answers now: regiondns ctl explain.

Options (default in parentheses):
  --client IP[/PREFIX]   the client's address or subnet, as EDNS Client Subnet (required)
  --zones DIR            zone files and steering policies (./zones)
  --type A|AAAA          (A)
  --geoip FILE           MMDB database; repeatable (the bundled DB-IP City Lite)
  --no-geoip             no GeoIP: the regions' configured order
  --latency-table FILE   measured latencies overriding the distance model
  --json                 the explanation as JSON`;

export const PROBE_HELP = `Usage: regiondns probe --zones DIR --redis URL [--instance-id ID]

Runs the health checks of DIR and publishes verdicts to Redis, serving no DNS: a vantage point
for a fleet whose DNS instances read verdicts from the same Redis.

Options (default in parentheses):
  --zones DIR            zone files and steering policies (./zones)
  --redis URL            the fleet's Redis (required)
  --instance-id ID       this prober's name in verdicts (host name and pid)
  --log-level LEVEL      trace|debug|info|warn|error (info)`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'serve': return await cmdServe(rest);
      case 'check': return cmdCheck(rest);
      case 'explain': return await cmdExplain(rest);
      case 'plan': return await cmdPlan(rest);
      case 'probe': return await cmdProbe(rest);
      case 'ctl': return await runCtl(rest);
      case 'dnssec': return await runDnssec(rest);
      case undefined: case '-h': case '--help': case 'help':
        console.log(USAGE);
        return cmd === undefined ? 2 : 0;
      default: {
        const near = closestOption(cmd, ['serve', 'check', 'explain', 'plan', 'probe', 'ctl', 'dnssec']);
        console.error(`unknown command "${cmd}"${near ? `; did you mean ${near}?` : ''}\n\n${USAGE}`);
        return 2;
      }
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\nusage: ${err.usage}\n(regiondns ${cmd} --help lists every option)`);
    return 2;
  }
}

/** Parses, or prints the command's help (null: the caller returns 0). */
function args<O extends OptionSpec>(cmd: string, argv: string[], options: O, help: string): Parsed<O> | null {
  const parsed = parseCommand(cmd, argv, options, help);
  if (parsed === null) console.log(help);
  return parsed;
}

export const SERVE_OPTIONS = {
  zones: { type: 'string', default: 'zones' },
  listen: { type: 'string', multiple: true },
  http: { type: 'string', default: '127.0.0.1:8053' },
  'udp-size': { type: 'string' },
  'max-file-size': { type: 'string' },
  'udp-engine': { type: 'string', default: 'auto' },
  geoip: { type: 'string', multiple: true },
  'no-geoip': { type: 'boolean', default: false },
  'latency-table': { type: 'string' },
  'query-log': { type: 'string', default: '0' },
  'log-level': { type: 'string' },
  'tcp-idle-timeout': { type: 'string' },
  'tcp-max-connections': { type: 'string' },
  redis: { type: 'string' },
  'state-dir': { type: 'string' },
  'state-file': { type: 'string' },
  'instance-id': { type: 'string' },
  'presence-interval': { type: 'string' },
  'ops-tokens': { type: 'string' },
  'ops-open-reads': { type: 'boolean', default: false },
  'no-probe': { type: 'boolean', default: false },
  quorum: { type: 'string' },
  'endpoint-metrics-limit': { type: 'string' },
  'ramp-tick': { type: 'string' },
  workers: { type: 'string' },
  'reuse-port': { type: 'boolean', default: false },
  'worker-stall-timeout': { type: 'string' },
  nsid: { type: 'string' },
  'tcp-message-timeout': { type: 'string' },
  'tcp-max-connections-per-client': { type: 'string' },
  'http-max-connections': { type: 'string' },
  'http-max-connections-per-client': { type: 'string' },
  'http-request-timeout': { type: 'string' },
  'metrics-hostnames': { type: 'string' },
  keys: { type: 'string' },
  'cookie-secret': { type: 'string' },
  'no-cookies': { type: 'boolean', default: false },
  'rrl-rate': { type: 'string' },
  'rrl-nxdomain-rate': { type: 'string' },
  'rrl-nodata-rate': { type: 'string' },
  'rrl-referral-rate': { type: 'string' },
  'rrl-error-rate': { type: 'string' },
  'rrl-slip': { type: 'string' },
  'rrl-window': { type: 'string' },
  'rrl-ipv4-prefix': { type: 'string' },
  'rrl-ipv6-prefix': { type: 'string' },
  'rrl-table-size': { type: 'string' },
} as const satisfies OptionSpec;

async function cmdServe(argv: string[]): Promise<number> {
  const parsed = args('serve', argv, SERVE_OPTIONS, SERVE_HELP);
  if (!parsed) return 0;
  const { values } = parsed;
  if (parsed.positionals.length) throw new UsageError(`serve takes no arguments (got ${parsed.positionals.join(' ')}); the zones folder is --zones DIR`, 'regiondns serve [--zones DIR] [--listen ADDR:PORT]... [options]');
  // Parsed in the primary and, from the same argv, in every worker: all label hostnames alike.
  if (values['metrics-hostnames'] !== undefined) configureHostnameLabels(parseHostnameLabels(values['metrics-hostnames']));
  const workers = values.workers === undefined ? os.availableParallelism() : intOption('--workers', values.workers, 1, 256);
  const quorum = values.quorum === undefined || values.quorum === 'majority' ? 'majority' : intOption('--quorum', values.quorum, 1, 1000);
  const log = createLogger({ level: values['log-level'] });
  const udpLimit = values['udp-size'] ? intOption('--udp-size', values['udp-size'], 512, 65535) : undefined;
  const sample = Number(values['query-log']);
  if (!(sample >= 0 && sample <= 1)) throw new Error('--query-log takes a fraction between 0 and 1');
  const optionalInt = (flag: string, min: number, max: number): number | undefined => {
    const text = values[flag.slice(2) as keyof typeof values];
    return typeof text === 'string' ? intOption(flag, text, min, max) : undefined;
  };
  const nofile = openFileLimit();
  const caps = planCaps(nofile, {
    httpMaxConnections: DEFAULT_HTTP_LIMITS.maxConnections,
    tcpMaxConnections: DEFAULT_TCP_OPTIONS.maxConnections,
    tcpMaxConnectionsPerClient: DEFAULT_TCP_OPTIONS.maxConnectionsPerClient,
  }, dropUndefined({
    httpMaxConnections: optionalInt('--http-max-connections', 1, 1_000_000),
    tcpMaxConnections: optionalInt('--tcp-max-connections', 1, 1_000_000),
    tcpMaxConnectionsPerClient: optionalInt('--tcp-max-connections-per-client', 1, 1_000_000),
  }), DEFAULT_PROBE_CONCURRENCY, workers);
  for (const w of caps.warnings) log.warn(w);
  log.info({ openFileLimit: nofile, httpMaxConnections: caps.httpMaxConnections, tcpMaxConnections: caps.tcpMaxConnections, tcpMaxConnectionsPerClient: caps.tcpMaxConnectionsPerClient }, 'connection caps');
  const httpRequestTimeout = optionalInt('--http-request-timeout', 100, 3_600_000);
  const options: ClusterOptions = {
      workers,
      ...(values['worker-stall-timeout'] ? { workerStallMs: durationOption('--worker-stall-timeout', values['worker-stall-timeout'], 200, 600_000) } : {}),
      nsid: values.nsid ?? null,
      zonesDir: values.zones!,
      listen: (values.listen ?? ['127.0.0.1:5353']).map(parseListenAddress),
      http: values.http === 'off' ? null : parseListenAddress(values.http!),
      udpLimit,
      maxFileBytes: values['max-file-size'] ? parseByteSize('--max-file-size', values['max-file-size']) : undefined,
      udpEngine: parseUdpEngine(values['udp-engine']!),
      geoip: values['no-geoip'] ? null : values.geoip,
      latencyTable: values['latency-table'] ?? null,
      keysDir: values.keys ?? null,
      queryLogSample: sample,
      tcp: {
        ...(values['tcp-idle-timeout'] ? { idleTimeoutMs: intOption('--tcp-idle-timeout', values['tcp-idle-timeout'], 100, 3_600_000) } : {}),
        maxConnections: caps.tcpMaxConnections,
        maxConnectionsPerClient: caps.tcpMaxConnectionsPerClient,
        ...(values['tcp-message-timeout'] ? { messageTimeoutMs: intOption('--tcp-message-timeout', values['tcp-message-timeout'], 100, 3_600_000) } : {}),
      },
      httpLimits: {
        maxConnections: caps.httpMaxConnections,
        ...dropUndefined({ maxConnectionsPerClient: optionalInt('--http-max-connections-per-client', 1, 1_000_000) }),
        ...(httpRequestTimeout === undefined ? {} : { requestTimeoutMs: httpRequestTimeout, headersTimeoutMs: Math.min(httpRequestTimeout, DEFAULT_HTTP_LIMITS.headersTimeoutMs) }),
      },
      redis: values.redis ?? null,
      stateDir: stateDirOption(values['state-dir'], values['state-file']),
      instanceId: values['instance-id'],
      presenceIntervalMs: values['presence-interval'] === undefined ? undefined : durationOption('--presence-interval', values['presence-interval'], 100, 60_000),
      opsTokensFile: values['ops-tokens'] ?? null,
      opsOpenReads: values['ops-open-reads'],
      probe: !values['no-probe'],
      quorum,
      ...(values['endpoint-metrics-limit'] ? { endpointMetricsLimit: intOption('--endpoint-metrics-limit', values['endpoint-metrics-limit'], 0, 10_000_000) } : {}),
      rampTickMs: values['ramp-tick'] ? intOption('--ramp-tick', values['ramp-tick'], 10, 60_000) : undefined,
      cookies: values['no-cookies'] ? null : { secretFile: values['cookie-secret'] ?? null, redis: values.redis ?? null },
      rrl: rrlOptions(values),
  };
  if (values['no-cookies'] && values['cookie-secret']) throw new UsageError('--cookie-secret and --no-cookies contradict each other', 'regiondns serve [--cookie-secret FILE | --no-cookies]');
  try {
    resolveUdpEngine(options.udpEngine); // --udp-engine batch without the addon: say so before anything starts
  } catch (err) {
    if (!(err instanceof UdpEngineError)) throw err;
    console.error(err.message);
    return 1;
  }
  let server: { reload(): unknown; close(): Promise<void>; failed?: Promise<Error> };
  try {
    server = workers > 1 ? await servePrimary(options, log) : await serve(options, log);
  } catch (err) {
    if (err instanceof ConfigLoadError) {
      for (const e of err.errors) log.error({ error: e }, 'zone error');
      console.error(err.message);
      return 1;
    }
    if (err instanceof BindError) return startFailed(log, err);
    if (err instanceof CookieSecretError) {
      log.error({ error: err.message }, 'cookie secret error');
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  const running = server;
  process.on('SIGHUP', () => { void running.reload(); });
  const failure = await new Promise<Error | null>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      running.close().then(() => resolve(null), () => resolve(null));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // A multi-core primary whose workers cannot serve: stop everything and exit non-zero.
    running.failed?.then((err) => { running.close().then(() => resolve(err), () => resolve(err)); });
  });
  if (failure) return startFailed(log, failure);
  log.info('stopped');
  return 0;
}

/** One log line saying why the instance cannot serve, then a non-zero exit (systemd, Docker and users see it). */
function startFailed(log: ReturnType<typeof createLogger>, err: Error): number {
  const fields = err instanceof BindError ? { code: err.code, flag: err.flag, address: err.address, transport: err.transport } : {};
  log.fatal(fields, err.message);
  // Nothing may keep the process up (timers, sockets half closed): the caller is waiting for the exit.
  setTimeout(() => process.exit(1), 100).unref();
  return 1;
}

export const PROBE_OPTIONS = { zones: { type: 'string', default: 'zones' }, redis: { type: 'string' }, 'instance-id': { type: 'string' }, 'log-level': { type: 'string' } } as const satisfies OptionSpec;

async function cmdProbe(argv: string[]): Promise<number> {
  const parsed = args('probe', argv, PROBE_OPTIONS, PROBE_HELP);
  if (!parsed) return 0;
  const { values } = parsed;
  if (!values.redis) throw new UsageError('probe needs --redis URL: a prober alone only helps when DNS instances read its verdicts from the same Redis', 'regiondns probe --zones DIR --redis URL [--instance-id ID]');
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

export const CHECK_OPTIONS = { 'latency-table': { type: 'string' }, keys: { type: 'string' } } as const satisfies OptionSpec;

function cmdCheck(argv: string[]): number {
  const parsed = args('check', argv, CHECK_OPTIONS, CHECK_HELP);
  if (!parsed) return 0;
  const { positionals, values } = parsed;
  if (positionals.length > 1) throw new UsageError(`check takes one folder (got ${positionals.join(' ')})`, 'regiondns check [DIR]');
  const dir = positionals[0] ?? 'zones';
  const cfg = loadConfig(dir, { latencyTablePath: values['latency-table'] ?? null, keysDir: values.keys ?? null });
  if (cfg.errors.length) {
    for (const e of cfg.errors) console.error(formatConfigError(e));
    console.error(`${cfg.errors.length} error${cfg.errors.length === 1 ? '' : 's'}`);
    return 1;
  }
  for (const w of cfg.warnings) console.error(`warning: ${formatConfigError(w)}`);
  for (const z of cfg.zones) {
    const steered = [...cfg.steering.hostnames.values()].filter((h) => h.zone === z.origin).length;
    const owners = new Set(z.records.map((r) => r.owner)).size;
    const serial = zoneSerial(z.records) ?? 0;
    const signed = z.dnssec ? `, DNSSEC-signed by ${[...z.dnssec.keys].sort((a, b) => b.flags - a.flags).map((k) => `${k.flags & 1 ? (z.dnssec!.zsks.includes(k) ? 'CSK' : 'KSK') : 'ZSK'} ${k.tag}`).join(', ')}` : '';
    console.log(`${z.origin} ok: ${z.records.length} records, ${owners} names, ${steered} steered, serial ${serial}${signed} (${z.file})`);
  }
  if (cfg.steering.regions.size) console.log(`regions ok: ${[...cfg.steering.regions.keys()].join(', ')}`);
  const tenants = cfg.steering.tenants;
  if (tenants?.file) console.log(`tenants ok: ${tenants.entries.size} from ${tenants.file}`);
  return 0;
}

export const EXPLAIN_OPTIONS = {
  client: { type: 'string' },
  zones: { type: 'string', default: 'zones' },
  geoip: { type: 'string', multiple: true },
  'no-geoip': { type: 'boolean', default: false },
  'latency-table': { type: 'string' },
  type: { type: 'string', default: 'A' },
  json: { type: 'boolean', default: false },
} as const satisfies OptionSpec;

async function cmdExplain(argv: string[]): Promise<number> {
  const parsed = args('explain', argv, EXPLAIN_OPTIONS, EXPLAIN_HELP);
  if (!parsed) return 0;
  const { positionals, values } = parsed;
  const hostname = positionals[0];
  if (!hostname || !values.client || positionals.length > 1) throw new UsageError('explain takes one HOSTNAME and --client IP[/PREFIX]', 'regiondns explain HOSTNAME --client IP[/PREFIX] [--zones DIR]');
  const cfg = loadConfig(values.zones!, { latencyTablePath: values['latency-table'] ?? null });
  if (cfg.errors.length) {
    for (const e of cfg.errors) console.error(formatConfigError(e));
    return 1;
  }
  const paths = values['no-geoip'] ? null : values.geoip ?? defaultGeoDatabasePaths();
  const geo = paths && paths.length ? openGeoDatabases(paths) : null;
  const snap = buildSnapshot({ version: 1, zones: cfg.zones, steering: cfg.steering, endpointCheckIds: cfg.health.pools, geo, latencyTable: cfg.latencyTable });
  const qtype = values.type!.toUpperCase() === 'AAAA' ? RRType.AAAA : RRType.A;
  const result = explainQuery(snap, canonicalName(hostname), qtype, parseSubnet(values.client));
  if (values.json) console.log(JSON.stringify({ source: 'files', ...result }, null, 2));
  else {
    // Said first, so nobody mistakes a file-only answer for what the fleet serves now.
    console.log(`from the files alone (no drains, health or runtime overrides); what the fleet answers now: regiondns ctl explain ${hostname} --client ${values.client}`);
    console.log(result.trace ? formatTrace(result.trace) + '\n' + result.summary : result.summary);
  }
  return 0;
}

/** The --rrl-* flags; null when rate limiting is off. */
function rrlOptions(values: Record<string, string | boolean | string[] | undefined>): RrlOptions | null {
  const int = (flag: string, min: number, max: number, dflt: number): number => {
    const v = values[flag];
    return typeof v === 'string' ? intOption(`--${flag}`, v, min, max) : dflt;
  };
  const rate = int('rrl-rate', 0, 1_000_000, DEFAULT_RRL.rate);
  const opts: RrlOptions = {
    rate,
    nxdomainRate: int('rrl-nxdomain-rate', 0, 1_000_000, rate),
    nodataRate: int('rrl-nodata-rate', 0, 1_000_000, rate),
    referralRate: int('rrl-referral-rate', 0, 1_000_000, rate),
    errorRate: int('rrl-error-rate', 0, 1_000_000, rate),
    slip: int('rrl-slip', 0, 10, DEFAULT_RRL.slip),
    window: int('rrl-window', 1, 3600, DEFAULT_RRL.window),
    ipv4Prefix: int('rrl-ipv4-prefix', 1, 32, DEFAULT_RRL.ipv4Prefix),
    ipv6Prefix: int('rrl-ipv6-prefix', 1, 128, DEFAULT_RRL.ipv6Prefix),
    tableSize: int('rrl-table-size', 1024, 1 << 24, DEFAULT_RRL.tableSize),
  };
  return rrlEnabled(opts) ? opts : null;
}

/** --state-dir; the --state-file of earlier versions gets an error that says what replaced it. */
function stateDirOption(dir: string | undefined, oldFile: string | undefined): string | null | undefined {
  if (oldFile !== undefined) {
    throw new UsageError(`--state-file was replaced by --state-dir DIR: a directory holding the state database (regiondns.db). A state.json in it is imported on the first start, then renamed. Use --state-dir ${oldFile === 'off' ? 'none' : JSON.stringify(path.dirname(oldFile))}${oldFile === 'off' ? ' to keep overrides in memory only' : ''}`, 'regiondns serve --state-dir DIR|none');
  }
  if (dir === undefined) return undefined;
  if (dir === 'none' || dir === ':memory:') return null;
  if (dir === '') throw new UsageError('--state-dir takes a directory, or "none"', 'regiondns serve --state-dir DIR|none');
  return dir;
}

function dropUndefined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** "512M", "64k", "1G" (powers of 1024) or plain bytes. */
function parseByteSize(name: string, text: string): number {
  const m = /^(\d+)\s*([kKmMgG]?)i?[bB]?$/.exec(text.trim());
  const n = m ? Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${name} takes a size in bytes, or with K, M or G (e.g. 512M); got "${text}"`, 'regiondns serve --max-file-size SIZE');
  return n;
}

function intOption(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} takes an integer from ${min} to ${max}`);
  return n;
}

function durationOption(name: string, text: string, minMs: number, maxMs: number): number {
  const d = parseDuration(text, null);
  if (!d.ok) throw new UsageError(`${name}: ${d.message}`, `regiondns serve ${name} DURATION (e.g. 5s)`);
  if (d.ms < minMs || d.ms > maxMs) throw new UsageError(`${name} takes a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`, `regiondns serve ${name} DURATION (e.g. 5s)`);
  return d.ms;
}
