// Talking to a running `regiondns serve` (see server-process.ts): its DNS answers and its ops API.
import { buildQuery, ecsOption, parse, rcodeOf, udpExchange } from './dns-client.js';
import type { ServerProcess } from './server-process.js';

export { until } from './ops-api.js';

/** The rcode and A records a name gives a client subnet (ECS), over UDP. */
export async function answerOf(port: number, name: string, subnet: string): Promise<{ rcode: number; addresses: string[] }> {
  const buf = await udpExchange(port, buildQuery(name, 'A', { edns: { options: [ecsOption(subnet)] } }), '127.0.0.1', 2_000);
  return { rcode: rcodeOf(buf), addresses: (parse(buf).answers as { address?: string }[]).map((a) => a.address ?? '?') };
}

export async function opsCall(s: ServerProcess, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${s.httpPort}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
