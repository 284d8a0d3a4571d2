// Shared pieces of the health tests: checks built in code, HTTP(S)/TCP targets on 127.0.0.1 whose
// behaviour a test flips, fake timers, and a log sink that parses pino lines.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { CHECK_DEFAULTS, type HttpCheck, type TcpCheck } from '../../src/health/check-config.js';
import type { Timers } from '../../src/health/scheduler.js';
import { createLogger, type Logger } from '../../src/obs/logger.js';
import { listenLoopback } from '../helpers/ports.js';

const base = (region: string, name: string) => ({
  id: `${region}/${name}`, region, name,
  intervalMs: CHECK_DEFAULTS.intervalMs, timeoutMs: CHECK_DEFAULTS.timeoutMs, rise: CHECK_DEFAULTS.rise, fall: CHECK_DEFAULTS.fall,
  jitter: CHECK_DEFAULTS.jitter, initialState: 'up' as const, file: 'regions.yaml', line: 1,
});

export function httpCheck(url: string, o: Partial<HttpCheck> = {}): HttpCheck {
  const region = o.region ?? 'eu-central';
  return {
    ...base(region, o.name ?? 'http#0'), type: 'http', url, method: 'GET', expect: [200], body: null, headers: {}, tlsVerify: true,
    ...o,
    ...(o.name ? { id: `${region}/${o.name}` } : {}),
  };
}

export function tcpCheck(host: string, port: number, o: Partial<TcpCheck> = {}): TcpCheck {
  const region = o.region ?? 'eu-central';
  return { ...base(region, o.name ?? 'tcp#0'), type: 'tcp', host, port, ...o, ...(o.name ? { id: `${region}/${o.name}` } : {}) };
}

/** What a target does with the next request; tests change it between probes. */
export interface TargetBehaviour {
  status: number;
  body: string;
  /** Wait this long before answering. */
  delayMs: number;
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** TLS server name (SNI) the client sent; undefined over plain HTTP. */
  servername: string | undefined;
}

/** An HTTP or HTTPS server on 127.0.0.1 that answers as `behaviour` says (or per request via `respond`). */
export class Target {
  behaviour: TargetBehaviour = { status: 200, body: 'ok', delayMs: 0 };
  /** When set, decides each answer from the request number (0-based). */
  respond: ((n: number) => Partial<TargetBehaviour>) | null = null;
  /** When set, handles every request itself (after it is recorded). */
  raw: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | null = null;
  readonly seen: SeenRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private server: http.Server | https.Server;
  private sockets = new Set<net.Socket>();
  port = 0;

  constructor(tls?: { key: Buffer; cert: Buffer }) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const n = this.seen.length;
      this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, servername: (req.socket as TLSSocket).servername || undefined });
      if (this.raw) return this.raw(req, res);
      const b = { ...this.behaviour, ...(this.respond?.(n) ?? {}) };
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      const answer = (): void => {
        this.inFlight--;
        if (res.destroyed) return;
        res.writeHead(b.status, { 'content-type': 'text/plain' });
        res.end(b.body);
      };
      res.on('close', () => { if (!res.writableEnded) this.inFlight--; });
      if (b.delayMs > 0) setTimeout(() => { if (!res.destroyed) answer(); }, b.delayMs);
      else answer();
    };
    this.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    this.server.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('secureConnection', (s: net.Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(port = 0): Promise<this> {
    this.port = await listenLoopback(this.server, port);
    return this;
  }

  /** Stops listening (the port then refuses connections) and drops open connections. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  url(path = '/healthz'): string {
    return `${this.server instanceof https.Server ? 'https' : 'http'}://127.0.0.1:${this.port}${path}`;
  }
}

/** A self-signed certificate for localhost / 127.0.0.1, made with openssl. */
export function selfSignedCert(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'regiondns-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A pino logger writing into an array of parsed lines. */
export function memoryLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination }), lines };
}

/** Timers driven by `advance`; due callbacks run in time order, with promise jobs flushed in between. */
export class FakeTimers implements Timers {
  now = 0;
  private seq = 0;
  private pending = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get count(): number {
    return this.pending.size;
  }

  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      await flush();
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.pending) if (e[1].at <= until && (next === null || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.pending.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = until;
    await flush();
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Resolves when `cond` holds, polling every 10 ms; rejects after `ms`. */
export async function waitFor(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}
