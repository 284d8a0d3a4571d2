// The console's only way to the server: the ops API under /v1 with the operator's bearer token.
// The token lives in sessionStorage (gone when the tab closes) and is never put in a URL or cookie.

const TOKEN_KEY = 'regiondns.token';

export function savedToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function saveToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** An error answer of the API: its stable code and the message written for people. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${savedToken()}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: reported below */
  }
  if (!res.ok) {
    const e = (data as { error?: { code?: string; message?: string; detail?: Record<string, unknown> } } | null)?.error;
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? (text || res.statusText), e?.detail);
  }
  return data as T;
}

export type StreamStatus = 'connecting' | 'live' | 'lost';

/**
 * Reads GET /v1/events (server-sent events) with fetch, so the token goes in a header, and
 * reconnects after a loss with a growing pause. Returns a function that stops it.
 */
export function followEvents(onState: (data: unknown) => void, onStatus: (s: StreamStatus, why?: string) => void): () => void {
  let stopped = false;
  let controller: AbortController | null = null;
  let attempt = 0;
  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      onStatus('connecting');
      try {
        const res = await fetch('/v1/events', { headers: { authorization: `Bearer ${savedToken()}` }, signal: controller.signal });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        attempt = 0;
        onStatus('live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
            if (data) onState(JSON.parse(data));
          }
        }
        if (!stopped) onStatus('lost', 'the server closed the stream');
      } catch (err) {
        if (stopped) return;
        onStatus('lost', (err as Error).message);
      }
      attempt++;
      await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5))));
    }
  };
  void run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
