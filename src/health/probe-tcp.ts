// TCP probe: the target passes when a connection opens within the timeout; it is closed at once.
// Also turns socket errors into the short causes every prober reports.

import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { LocalFailure, ProbeResult, TcpCheck } from './check-config.js';

export async function probeTcp(check: TcpCheck, signal?: AbortSignal): Promise<ProbeResult> {
  const started = performance.now();
  const done = (ok: boolean, cause: string, local: LocalFailure | null = null): ProbeResult =>
    ({ ok, cause, durationMs: performance.now() - started, ...(local ? { local } : {}) });
  if (signal?.aborted) return done(false, 'aborted');
  return new Promise<ProbeResult>((resolve) => {
    const socket = net.connect({ host: check.host, port: check.port });
    let settled = false;
    const finish = (ok: boolean, cause: string, local: LocalFailure | null = null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(done(ok, cause, local));
    };
    const onAbort = (): void => finish(false, 'aborted');
    const timer = setTimeout(() => finish(false, `timeout after ${check.timeoutMs} ms`, stalled(started, check.timeoutMs)), check.timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish(true, 'TCP connected'));
    socket.once('error', (e) => finish(false, errorCause(e), localFailure(e)));
  });
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME']);
const CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connect timed out',
  EPIPE: 'connection closed',
  ECONNABORTED: 'connection aborted',
  EADDRNOTAVAIL: 'address not available',
};

const LOCAL_CODES: Record<string, LocalFailure> = {
  EMFILE: 'emfile', // this process is out of descriptors (ulimit -n)
  ENFILE: 'enfile', // the system is
  ENOBUFS: 'enobufs', // no kernel buffer memory
  EADDRNOTAVAIL: 'eaddrnotavail', // no local address or ephemeral port to connect from
};

/** The prober's own failure behind an error, or null when the error may be the target's. */
export function localFailure(e: unknown): LocalFailure | null {
  const code = (e as NodeJS.ErrnoException)?.code;
  return (code && LOCAL_CODES[code]) || null;
}

/**
 * A timeout whose timer fired far later than asked means this process's event loop was stalled:
 * replies that arrived meanwhile wait behind the timer, so the timeout says nothing of the target.
 */
export function stalled(startedAt: number, timeoutMs: number): LocalFailure | null {
  const late = performance.now() - startedAt - timeoutMs;
  return late > Math.max(STALL_MIN_MS, timeoutMs / 2) ? 'stalled' : null;
}
const STALL_MIN_MS = 500;

/** A short, stable cause for a connection error: "connection refused", "DNS: …", "TLS: …". */
export function errorCause(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { library?: string; reason?: string };
  const code = err?.code ?? '';
  if (code in CAUSES) return CAUSES[code];
  if (DNS_CODES.has(code)) return `DNS: ${err.message}`;
  // Certificate checks report OpenSSL codes (DEPTH_ZERO_SELF_SIGNED_CERT, CERT_HAS_EXPIRED…), handshakes ERR_SSL_*.
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code) || err?.library === 'SSL routines') {
    // Node appends advice about system CAs ("…; if the root CA is installed locally, try…"): not a cause.
    return `TLS: ${err.message.split('; ')[0]}`;
  }
  if (code === 'ABORT_ERR') return 'aborted';
  return err?.message ? `error: ${err.message}` : `error: ${String(e)}`;
}
