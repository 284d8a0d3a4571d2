// The two routes the web console stands on, against a real server: GET /v1/whoami (whose token is
// this: write, read, none, open reads) and GET /v1/events (the server-sent events stream: its
// headers, the state on connect, a drain made through the API arriving as an event, and a stream
// the client drops leaving nothing open behind it on the server).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_STREAMS } from '../../src/ops/console-routes.js';
import { REPO, startServers, type ServerProcess } from '../helpers/server-process.js';
import { GEOIP_FIXTURE } from '../helpers/steer-zones.js';

const WRITE_TOKEN = 'console-api-write-token-0123456789';
const READ_TOKEN = 'console-api-read-token-0123456789';
const WAIT_MS = 5_000;

interface Region { id: string; drained: boolean; drain: { reason: string; by: string } | null }
interface StateEvent { event: string; id: string; data: { seq: number; state: { version: number; instance: string; regions: Region[] } } }

/** One event stream on a connection of its own: the events parsed as they come, and the response. */
class EventStream {
  readonly events: StateEvent[] = [];
  res!: http.IncomingMessage;
  private readonly req: http.ClientRequest;
  private buffer = '';
  private readonly waiters = new Set<() => void>();

  private constructor(port: number, token: string | null, opened: (err: Error | null) => void) {
    // agent: false: a socket of its own, which destroy() really closes.
    this.req = http.get({ host: '127.0.0.1', port, path: '/v1/events', agent: false, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      this.res = res;
      res.setEncoding('utf8').on('data', (chunk: string) => this.read(chunk));
      opened(null);
    });
    this.req.once('error', (err) => opened(err));
  }

  static open(port: number, token: string | null = READ_TOKEN): Promise<EventStream> {
    return new Promise((resolve, reject) => {
      const s = new EventStream(port, token, (err) => (err ? reject(err) : resolve(s)));
    });
  }

  /** The first event (since the stream opened) that `pred` accepts, within WAIT_MS. */
  next(pred: (e: StateEvent) => boolean, what: string): Promise<StateEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const e = this.events.find(pred);
        if (!e) return false;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(e);
        return true;
      };
      const waiter = () => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${what}: no such event within ${WAIT_MS} ms; got ${this.events.length}: ${JSON.stringify(this.events.at(-1))?.slice(0, 300)}`));
      }, WAIT_MS);
      if (!check()) this.waiters.add(waiter);
    });
  }

  close(): void {
    this.req.destroy();
  }

  private read(chunk: string): void {
    this.buffer += chunk;
    for (let end; (end = this.buffer.indexOf('\n\n')) >= 0; this.buffer = this.buffer.slice(end + 2)) {
      const fields = new Map<string, string>();
      for (const line of this.buffer.slice(0, end).split('\n')) {
        if (line.startsWith(':')) continue; // a comment: the keep-alive
        const colon = line.indexOf(':');
        fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
      }
      if (!fields.has('data')) continue;
      this.events.push({ event: fields.get('event') ?? 'message', id: fields.get('id') ?? '', data: JSON.parse(fields.get('data')!) as StateEvent['data'] });
    }
    for (const w of [...this.waiters]) w();
  }
}

/**
 * One request on a connection of its own, closed after it (agent: false): no idle keep-alive socket
 * is left to count against the server's connections per client, which the stream test fills.
 */
function api(port: number, method: string, url: string, token: string | null, body?: unknown): Promise<{ status: number; headers: http.IncomingHttpHeaders; json: Record<string, unknown> }> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, method, path: url, agent: false, timeout: WAIT_MS,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(text === undefined ? {} : { 'content-type': 'application/json' }) },
    }, (res) => {
      let data = '';
      res.setEncoding('utf8').on('data', (c: string) => (data += c)).on('end', () => {
        try {
          resolve({ status: res.statusCode!, headers: res.headers, json: JSON.parse(data) as Record<string, unknown> });
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.once('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${WAIT_MS} ms`)));
    req.once('error', reject);
    req.end(text);
  });
}

/**
 * `fn` again until it succeeds, for at most WAIT_MS: the server learns of connections a client
 * closed a moment later, and until then its connections per client may still be full.
 */
async function retried<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('console API: whoami and the event stream', () => {
  let dir: string;
  /** Tokens only, and the same with open reads. */
  let closed: ServerProcess;
  let open: ServerProcess;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-console-api-'));
    const zones = path.join(dir, 'zones');
    fs.cpSync(path.join(REPO, 'test/e2e/steer-zones'), zones, { recursive: true });
    const tokens = path.join(dir, 'tokens');
    fs.writeFileSync(tokens, `operator:${WRITE_TOKEN}\nviewer:${READ_TOKEN}:read\n`);
    const common = ['--zones', zones, '--geoip', GEOIP_FIXTURE, '--no-probe', '--ops-tokens', tokens];
    [closed, open] = await startServers([[...common, '--instance-id', 'console-closed'], [...common, '--instance-id', 'console-open', '--ops-open-reads']]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([closed?.stop(), open?.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('GET /v1/whoami', () => {
    it('a write token: its name and write access, and the instance', async () => {
      const r = await api(closed.httpPort, 'GET', '/v1/whoami', WRITE_TOKEN);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ name: 'operator', access: 'write', instance: 'console-closed' });
    });

    it('a read token: read access', async () => {
      const r = await api(closed.httpPort, 'GET', '/v1/whoami', READ_TOKEN);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ name: 'viewer', access: 'read', instance: 'console-closed' });
    });

    it('no token, or an unknown one: 401 with a Bearer challenge', async () => {
      for (const token of [null, 'not-a-token-of-this-server-0123456789']) {
        const r = await api(closed.httpPort, 'GET', '/v1/whoami', token);
        expect(r.status).toBe(401);
        expect(r.headers['www-authenticate']).toBe('Bearer realm="regiondns"');
        expect((r.json.error as { code: string }).code).toBe('REGIONDNS_ERR_UNAUTHORIZED');
      }
    });

    it('open reads: no token reads as nobody with read access; a token still names its holder', async () => {
      expect((await api(open.httpPort, 'GET', '/v1/whoami', null)).json).toEqual({ name: null, access: 'read', instance: 'console-open' });
      expect((await api(open.httpPort, 'GET', '/v1/whoami', WRITE_TOKEN)).json).toEqual({ name: 'operator', access: 'write', instance: 'console-open' });
      // Writes still need a token.
      const drain = await api(open.httpPort, 'POST', '/v1/regions/eu-central/drain', null, { reason: 'no token' });
      expect(drain.status).toBe(401);
    });
  });

  describe('GET /v1/events', () => {
    it('needs a read token like every read: 401 without one', async () => {
      const s = await EventStream.open(closed.httpPort, null);
      try {
        expect(s.res.statusCode).toBe(401);
        expect(s.res.headers['www-authenticate']).toBe('Bearer realm="regiondns"');
      } finally {
        s.close();
      }
    });

    it('is an event stream whose first event is the state, then a drain made through the API arrives as an event', async () => {
      const s = await EventStream.open(closed.httpPort);
      try {
        expect(s.res.statusCode).toBe(200);
        expect(s.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
        expect(s.res.headers['cache-control']).toBe('no-store');
        const first = await s.next(() => true, 'the first event');
        expect(first.event).toBe('state');
        expect(first.id).toBe('1');
        expect(first.data.seq).toBe(1);
        expect(first.data.state.instance).toBe('console-closed');
        const state = (await api(closed.httpPort, 'GET', '/v1/state', READ_TOKEN)).json as { version: number };
        expect(first.data.state.version).toBe(state.version);
        expect(first.data.state.regions.find((r) => r.id === 'eu-central')?.drained).toBe(false);

        const drained = await api(closed.httpPort, 'POST', '/v1/regions/eu-central/drain', WRITE_TOKEN, { reason: 'console-api test' });
        expect(drained.status).toBe(200);
        const next = await s.next((e) => e.data.state.regions.some((r) => r.id === 'eu-central' && r.drained), 'the drain');
        expect(next.event).toBe('state');
        expect(next.data.seq).toBeGreaterThan(1);
        expect(next.data.state.version).toBe(drained.json.version);
        expect(next.data.state.regions.find((r) => r.id === 'eu-central')?.drain).toMatchObject({ reason: 'console-api test', by: 'operator' });
      } finally {
        s.close();
        await api(closed.httpPort, 'DELETE', '/v1/regions/eu-central/drain', WRITE_TOKEN, {});
      }
    });

    it(`streams the clients dropped are let go: ${MAX_STREAMS} streams, closed, then ${MAX_STREAMS} again`, async () => {
      // The instance serves at most MAX_STREAMS streams and each client address at most as many
      // connections: a stream (or its socket) kept after its client left would refuse the second round.
      const round = async () => {
        const opened = await Promise.allSettled(Array.from({ length: MAX_STREAMS }, () => EventStream.open(open.httpPort, null)));
        const streams = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        try {
          expect(opened.filter((r) => r.status === 'rejected')).toEqual([]);
          expect(streams.map((s) => s.res.statusCode)).toEqual(Array(MAX_STREAMS).fill(200));
          await Promise.all(streams.map((s) => s.next((e) => e.event === 'state', 'the first event')));
        } finally {
          for (const s of streams) s.close();
        }
      };
      await retried(round);
      await retried(round);
    }, 30_000);

    it('once its client left, a stream does not hold the server: it stops promptly', async () => {
      const s = await retried(() => EventStream.open(open.httpPort, null));
      await s.next((e) => e.event === 'state', 'the first event');
      s.close();
      const t0 = performance.now();
      const code = await open.stop();
      // stop() kills after 5 s: a clean exit, well before that.
      expect(code).toBe(0);
      expect(performance.now() - t0).toBeLessThan(4_000);
    }, 15_000);
  });
});
