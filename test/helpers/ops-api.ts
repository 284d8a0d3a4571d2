// Calling a running instance's ops API from e2e tests, and waiting for a condition (bounded).
import { expect } from 'vitest';
import type { ServerProcess } from './server-process.js';

export interface ApiResult {
  status: number;
  body: Record<string, any>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One ops API call with a bearer token; the body parsed (empty: {}). */
export async function callApi(
  s: ServerProcess, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body: unknown, token: string, timeoutMs = 5_000,
): Promise<ApiResult> {
  const res = await fetch(`http://127.0.0.1:${s.httpPort}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

/** Asserts a 200, showing the error body otherwise. */
export async function ok(call: Promise<ApiResult>): Promise<ApiResult> {
  const r = await call;
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r;
}

/** Polls until `check` returns a value other than undefined; bounded in time. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 5_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(everyMs);
  }
}

/** Reads until `ok(value)`, at most `timeoutMs`; fails with the last value read. */
export async function untilOk<T>(what: string, read: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000, stepMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (let i = 0; i < 100_000; i++) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline) break;
    await sleep(stepMs);
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}
