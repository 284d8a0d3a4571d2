// The HTTP(S) and TCP probers against real targets on 127.0.0.1 that the tests flip.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeHttp } from '../../src/health/probe-http.js';
import { performance } from 'node:perf_hooks';
import { errorCause, localFailure, probeTcp, stalled } from '../../src/health/probe-tcp.js';
import { httpCheck, selfSignedCert, Target, tcpCheck } from './fixtures.js';

describe('probeHttp', () => {
  const target = new Target();
  beforeAll(async () => { await target.listen(); });
  afterAll(async () => { await target.close(); });

  it('200 → 500 → closed port → slower than the timeout', async () => {
    const check = httpCheck(target.url(), { timeoutMs: 200 });
    target.behaviour = { status: 200, body: 'ok', delayMs: 0 };
    expect(await probeHttp(check)).toMatchObject({ ok: true, cause: 'HTTP 200' });

    target.behaviour.status = 500;
    expect(await probeHttp(check)).toMatchObject({ ok: false, cause: 'HTTP 500 (expected 200)' });

    const closed = new Target();
    await closed.listen();
    const port = closed.port;
    await closed.close();
    expect(await probeHttp(httpCheck(`http://127.0.0.1:${port}/healthz`))).toMatchObject({ ok: false, cause: 'connection refused' });

    target.behaviour = { status: 200, body: 'ok', delayMs: 1000 };
    const r = await probeHttp(check);
    expect(r).toMatchObject({ ok: false, cause: 'timeout after 200 ms' });
    expect(r.durationMs).toBeGreaterThanOrEqual(190);
    expect(r.durationMs).toBeLessThan(600);
    target.behaviour.delayMs = 0;
  });

  it('the timeout covers a body that arrives too slowly', async () => {
    const slow = new Target();
    await slow.listen();
    // Headers at once, body after 500 ms: only a check that reads the body times out.
    slow.raw = (_req, res) => {
      res.writeHead(200);
      res.write('partial ');
      setTimeout(() => { if (!res.destroyed) res.end('ok'); }, 500);
    };
    try {
      expect(await probeHttp(httpCheck(slow.url(), { timeoutMs: 150 }))).toMatchObject({ ok: true, cause: 'HTTP 200' });
      expect(await probeHttp(httpCheck(slow.url(), { timeoutMs: 150, body: 'ok' }))).toMatchObject({ ok: false, cause: 'timeout after 150 ms' });
    } finally {
      await slow.close();
    }
  });

  it('expect: a list of statuses', async () => {
    target.behaviour = { status: 204, body: '', delayMs: 0 };
    expect(await probeHttp(httpCheck(target.url(), { expect: [200, 204] }))).toMatchObject({ ok: true, cause: 'HTTP 204' });
    target.behaviour.status = 301;
    expect(await probeHttp(httpCheck(target.url(), { expect: [200, 204] }))).toMatchObject({ ok: false, cause: 'HTTP 301 (expected 200, 204)' });
    target.behaviour = { status: 200, body: 'ok', delayMs: 0 };
  });

  it('body: a substring of the first 64 KB', async () => {
    target.behaviour.body = '{"status":"ok","caches":"warm"}';
    expect(await probeHttp(httpCheck(target.url(), { body: '"caches":"warm"' }))).toMatchObject({ ok: true, cause: 'HTTP 200' });
    target.behaviour.body = '{"status":"ok","caches":"cold"}';
    expect(await probeHttp(httpCheck(target.url(), { body: '"caches":"warm"' }))).toMatchObject({ ok: false, cause: `body mismatch: '"caches":"warm"' not found` });
    target.behaviour.body = `${'x'.repeat(70 * 1024)}ok`;
    expect((await probeHttp(httpCheck(target.url(), { body: 'ok' }))).cause).toBe("body mismatch: 'ok' not found in the first 64 KB");
    target.behaviour.body = `${'x'.repeat(60 * 1024)}ok`;
    expect(await probeHttp(httpCheck(target.url(), { body: 'ok' }))).toMatchObject({ ok: true });
    target.behaviour.body = 'ok';
  });

  it('sends the method, the Host override and other headers', async () => {
    target.seen.length = 0;
    const check = httpCheck(target.url('/status?deep=1'), { method: 'HEAD', headers: { Host: 'api.example.com', 'X-Probe': 'regiondns' } });
    expect(await probeHttp(check)).toMatchObject({ ok: true });
    expect(target.seen).toHaveLength(1);
    expect(target.seen[0]).toMatchObject({ method: 'HEAD', url: '/status?deep=1' });
    expect(target.seen[0].headers).toMatchObject({ host: 'api.example.com', 'x-probe': 'regiondns', 'user-agent': 'regiondns-probe', connection: 'close' });
  });

  it('an aborted probe settles at once', async () => {
    target.behaviour.delayMs = 1000;
    const ac = new AbortController();
    const p = probeHttp(httpCheck(target.url(), { timeoutMs: 1500 }), ac.signal);
    setTimeout(() => ac.abort(), 50);
    const r = await p;
    expect(r).toMatchObject({ ok: false, cause: 'aborted' });
    expect(r.durationMs).toBeLessThan(500);
    target.behaviour.delayMs = 0;
  });

  it('a name that does not resolve is a DNS failure', async () => {
    const r = await probeHttp(httpCheck('http://does-not-exist.invalid:1/healthz', { timeoutMs: 1500 }));
    expect(r.ok).toBe(false);
    expect(r.cause).toMatch(/^(DNS: |timeout)/);
  });
});

describe('probeHttp over TLS with a self-signed certificate', () => {
  const target = new Target(selfSignedCert());
  beforeAll(async () => { await target.listen(); });
  afterAll(async () => { await target.close(); });

  it('tls-verify: true fails with the TLS error; false passes', async () => {
    const verified = await probeHttp(httpCheck(target.url(), { tlsVerify: true }));
    expect(verified.ok).toBe(false);
    expect(verified.cause).toMatch(/^TLS: self[- ]signed certificate$/);
    expect(await probeHttp(httpCheck(target.url(), { tlsVerify: false }))).toMatchObject({ ok: true, cause: 'HTTP 200' });
  });

  it('the Host override is also the TLS server name', async () => {
    target.seen.length = 0;
    expect(await probeHttp(httpCheck(target.url(), { tlsVerify: false, headers: { Host: 'api.example.com' } }))).toMatchObject({ ok: true });
    expect(target.seen[0].headers.host).toBe('api.example.com');
    expect(target.seen[0].servername).toBe('api.example.com');
  });

  it('plain HTTP to a TLS port fails', async () => {
    const r = await probeHttp(httpCheck(`http://127.0.0.1:${target.port}/`, { timeoutMs: 500 }));
    expect(r.ok).toBe(false);
  });
});

describe('probeTcp', () => {
  it('passes on an open port, fails on a closed one and on a timeout', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    expect(await probeTcp(tcpCheck('127.0.0.1', port, { timeoutMs: 500 }))).toMatchObject({ ok: true, cause: 'TCP connected' });
    await new Promise<void>((r) => server.close(() => r()));
    expect(await probeTcp(tcpCheck('127.0.0.1', port, { timeoutMs: 500 }))).toMatchObject({ ok: false, cause: 'connection refused' });
  });

  it('IPv6 loopback', async () => {
    const server = net.createServer((s) => s.destroy());
    const listening = await new Promise<boolean>((r) => {
      server.once('error', () => r(false));
      server.listen(0, '::1', () => r(true));
    });
    if (!listening) return; // no IPv6 on this machine
    const port = (server.address() as net.AddressInfo).port;
    expect(await probeTcp(tcpCheck('::1', port, { timeoutMs: 500 }))).toMatchObject({ ok: true });
    await new Promise<void>((r) => server.close(() => r()));
  });
});

describe('errorCause', () => {
  it.each([
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }, 'connection refused'],
    [{ code: 'ECONNRESET', message: 'read ECONNRESET' }, 'connection reset'],
    [{ code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND x.invalid' }, 'DNS: getaddrinfo ENOTFOUND x.invalid'],
    [{ code: 'CERT_HAS_EXPIRED', message: 'certificate has expired' }, 'TLS: certificate has expired'],
    [{ code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: "Hostname/IP does not match certificate's altnames" }, "TLS: Hostname/IP does not match certificate's altnames"],
    [{ code: 'EWHATEVER', message: 'odd' }, 'error: odd'],
  ])('%o → %s', (err, cause) => {
    expect(errorCause(Object.assign(new Error(err.message), { code: err.code }))).toBe(cause);
  });
});

describe("a prober's own failures", () => {
  it('EMFILE, ENFILE, ENOBUFS, EADDRNOTAVAIL are local; refused or reset are the target', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(['EMFILE', 'ENFILE', 'ENOBUFS', 'EADDRNOTAVAIL'].map((c) => localFailure(err(c)))).toEqual(['emfile', 'enfile', 'enobufs', 'eaddrnotavail']);
    expect(localFailure(err('ECONNREFUSED'))).toBeNull();
    expect(localFailure(err('ECONNRESET'))).toBeNull();
  });

  it('a timeout whose timer fired far too late is a stall of this process', () => {
    expect(stalled(performance.now() - 2_000, 500)).toBe('stalled');
    expect(stalled(performance.now() - 700, 500)).toBeNull();
  });
});
