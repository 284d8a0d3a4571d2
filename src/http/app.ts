// The HTTP listener: metrics, liveness and readiness, apart from the query path; the ops API mounts
// here too. Built apart from listening so tests use inject().
// It is hardened as a listener anyone on its network can reach: small bodies by default (a route that
// needs more says so, and its token is checked before the body is read), timeouts on headers, whole
// requests and idle keep-alive sockets, and a cap on connections in all and per client address, so
// no client can hold the descriptors DNS and health probes need.

import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';
import { ClientQuota, clientAddress } from '../dns/client-quota.js';
import { httpRefused } from '../obs/metrics.js';
import { OpsError, toOpsError } from '../ops/errors.js';

export interface Readiness {
  ready: boolean;
  /** "ok", or what is degraded and why. */
  status: string;
  detail?: Record<string, unknown>;
}

export interface HttpLimits {
  /** Open connections at most; the excess is closed at accept. */
  maxConnections: number;
  /** Open connections one client address may hold. */
  maxConnectionsPerClient: number;
  /** Headers must arrive whole within this time of the connection (or of the previous request). */
  headersTimeoutMs: number;
  /** A whole request, body included, must arrive within this time. */
  requestTimeoutMs: number;
  /** An idle keep-alive socket is closed after this long. */
  keepAliveTimeoutMs: number;
  /** A socket with no traffic at all is closed after this long. */
  idleTimeoutMs: number;
}

/** Bodies of every route but those that set their own limit (the tenants import). */
export const SMALL_BODY_LIMIT = 64 * 1024;
/** Of a request answered before its body was read, at most this much more is read (and dropped) … */
export const LINGER_BYTES = 1024 * 1024;
/** … then the connection, no longer read from, is closed this much later. */
export const LINGER_MS = 2_000;

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnections: 256,
  maxConnectionsPerClient: 32,
  headersTimeoutMs: 10_000,
  // A 64 MiB import at 4 MB/s: generous for an operator, short for a connection held open on purpose.
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
};

export interface HttpDeps {
  registry: Registry;
  /** The /metrics text when it is more than this process's registry (a multi-core server adds its workers'). */
  metrics?: () => Promise<string>;
  readiness(): Readiness;
  /** Facts for /healthz (version, snapshot). */
  liveness(): Record<string, unknown>;
  /** False while the instance cannot answer DNS (a multi-core primary with no worker serving): /healthz is 503. */
  servingDns?(): boolean;
  limits?: Partial<HttpLimits>;
}

export function buildHttpApp(deps: HttpDeps): FastifyInstance {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...deps.limits };
  const app = Fastify({
    logger: false,
    bodyLimit: SMALL_BODY_LIMIT,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    // Node checks the header and request deadlines on this beat (default 30 s: far past them).
    http: { headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs), connectionsCheckingInterval: 1_000 },
    // A URL that does not decode, and the like: answered before any route or error handler runs.
    frameworkErrors: (err, _req, reply) => {
      const e = toOpsError(err);
      (reply as FastifyReply).code(e.status).send(e.body());
    },
    // Malformed HTTP, header overflow, timeouts: our error body, then the socket is closed.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const e = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new OpsError('REQUEST_TIMEOUT', `the request did not arrive within ${limits.requestTimeoutMs} ms (headers: ${limits.headersTimeoutMs} ms)`)
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? new OpsError('HEADERS_TOO_LARGE', 'the request headers are too large')
          : new OpsError('BAD_REQUEST', `malformed HTTP request (${err.code ?? 'parse error'})`);
      if (socket.writable) {
        const body = JSON.stringify(e.body());
        socket.write(`HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\n` +
          `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      }
      socket.destroy();
    },
  });
  limitConnections(app, limits);
  // Real sockets only: inject() has none.
  app.addHook('onResponse', async (req) => { if (req.raw.complete === false && req.raw.socket instanceof Socket) dropRefusedBody(req.raw); });

  // Outside /v1 (which has its own handlers) too: every error is `{ error: { code, message } }`.
  app.setErrorHandler((err, _req, reply) => {
    const e = toOpsError(err);
    reply.code(e.status).send(e.body());
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(new OpsError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`).body());
  });

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.registry.contentType);
    return deps.metrics ? deps.metrics() : deps.registry.metrics();
  });

  // Liveness: the process is up, its event loop turns, and it can answer DNS. Never depends on Redis
  // or probes; a multi-core primary whose workers all fail is not alive in any useful sense.
  app.get('/healthz', async (_req, reply) => {
    const serving = deps.servingDns?.() ?? true;
    reply.code(serving ? 200 : 503);
    return { status: serving ? 'ok' : 'not serving DNS', ...deps.liveness() };
  });

  // Readiness: should this instance get traffic? 503 until zones are loaded.
  app.get('/readyz', async (_req, reply) => {
    const r = deps.readiness();
    reply.code(r.ready ? 200 : 503);
    return { status: r.status, ...(r.detail ?? {}) };
  });

  return app;
}

/**
 * A request answered before its body was read (401, 403, 413). Node reads on and drops the rest of
 * the body (it never reaches our memory), so a small one ends and the connection serves the next
 * request. Past LINGER_BYTES we stop reading: what the client still sends waits in kernel buffers,
 * and the connection is closed LINGER_MS later, time for the client to read the answer (closing at
 * once would reset it before the client has read why).
 */
function dropRefusedBody(req: IncomingMessage): void {
  const socket = req.socket;
  let dropped = 0;
  const stop = () => socket.off('data', count);
  // Node's parser drops a refused body without emitting it: count on the socket itself.
  function count(chunk: Buffer): void {
    if (req.complete) { stop(); return; }
    dropped += chunk.length;
    if (dropped <= LINGER_BYTES) return;
    stop();
    socket.pause();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }
  socket.on('data', count);
  socket.once('close', stop);
}

/** Caps open connections in all (Node closes the excess at accept) and per client address. */
function limitConnections(app: FastifyInstance, limits: HttpLimits): void {
  const server = app.server;
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => httpRefused.inc({ reason: 'over-capacity' }));
  const quota = new ClientQuota(limits.maxConnectionsPerClient);
  server.on('connection', (socket: Socket) => {
    const key = clientAddress(socket.remoteAddress ?? '');
    if (!quota.acquire(key)) {
      httpRefused.inc({ reason: 'client-over-capacity' });
      socket.destroy();
      return;
    }
    socket.once('close', () => quota.release(key));
  });
}
