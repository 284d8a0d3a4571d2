// HTTP(S) probe: one request on a fresh connection; passes on an expected status and, when `body`
// is set, a body containing it. The timeout covers connect, TLS, headers and the body read.

import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { MAX_BODY_BYTES, type HttpCheck, type LocalFailure, type ProbeResult } from './check-config.js';
import { errorCause, localFailure, stalled } from './probe-tcp.js';

// No keep-alive: every probe opens its own connection, so a dead listener cannot hide behind a pooled socket.
const httpAgent = new http.Agent({ keepAlive: false });
const httpsAgent = new https.Agent({ keepAlive: false });

const USER_AGENT = 'regiondns-probe';

export async function probeHttp(check: HttpCheck, signal?: AbortSignal): Promise<ProbeResult> {
  const started = performance.now();
  const result = (ok: boolean, cause: string, local: LocalFailure | null = null): ProbeResult =>
    ({ ok, cause, durationMs: performance.now() - started, ...(local ? { local } : {}) });
  if (signal?.aborted) return result(false, 'aborted');

  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    let req: http.ClientRequest | null = null;
    const finish = (ok: boolean, cause: string, local: LocalFailure | null = null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req?.destroy();
      resolve(result(ok, cause, local));
    };
    const onAbort = (): void => finish(false, 'aborted');
    const timer = setTimeout(() => finish(false, `timeout after ${check.timeoutMs} ms`, stalled(started, check.timeoutMs)), check.timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });

    const https_ = check.url.startsWith('https:');
    const options: https.RequestOptions = {
      method: check.method,
      // A `Host` given here replaces the URL's; Node then also sends it as the TLS server name.
      headers: { 'user-agent': USER_AGENT, ...check.headers, connection: 'close' },
      agent: https_ ? httpsAgent : httpAgent,
      rejectUnauthorized: check.tlsVerify,
    };
    try {
      req = (https_ ? https : http).request(check.url, options, (res) => onResponse(check, res, finish));
    } catch (e) {
      finish(false, errorCause(e), localFailure(e));
      return;
    }
    req.once('error', (e) => finish(false, errorCause(e), localFailure(e)));
    req.end();
  });
}

function onResponse(check: HttpCheck, res: http.IncomingMessage, finish: (ok: boolean, cause: string) => void): void {
  const status = res.statusCode ?? 0;
  if (!check.expect.includes(status)) {
    finish(false, `HTTP ${status} (expected ${check.expect.join(', ')})`);
    return;
  }
  if (check.body === null) {
    finish(true, `HTTP ${status}`);
    return;
  }
  const needle = Buffer.from(check.body, 'utf8');
  const mismatch = `body mismatch: '${check.body}' not found`;
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    const room = MAX_BODY_BYTES - size;
    chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    size += Math.min(chunk.length, room);
    const body = Buffer.concat(chunks, size);
    if (body.includes(needle)) finish(true, `HTTP ${status}`);
    else if (size >= MAX_BODY_BYTES) finish(false, `${mismatch} in the first ${MAX_BODY_BYTES / 1024} KB`);
  });
  res.once('end', () => finish(false, mismatch));
  res.once('error', (e) => finish(false, errorCause(e)));
  // A body cut short: 'close' without 'end' (finish ignores it when the probe already settled).
  res.once('close', () => finish(false, res.complete ? mismatch : 'connection closed before the body ended'));
}
