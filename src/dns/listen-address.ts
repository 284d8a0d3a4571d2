// "ADDR:PORT" as users write it on the command line: 127.0.0.1:5353, [::1]:5353, :5353.

import { parseIPv4, parseIPv6 } from './address.js';

export interface ListenAddress {
  host: string;
  port: number;
  family: 4 | 6;
}

export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) throw new Error(`bad listen address "${text}": use ADDR:PORT, e.g. 127.0.0.1:5353 or [::1]:5353`);
  const host = m[1] ?? (m[2] || '0.0.0.0');
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`bad listen address "${text}": port ${port} is above 65535`);
  // A zone index ("fe80::1%eth0") is kept in `host`: binding a link-local address needs it.
  const pct = host.indexOf('%');
  const family = parseIPv4(host) ? 4 : parseIPv6(pct < 0 ? host : host.slice(0, pct)) ? 6 : 0;
  if (family === 0) throw new Error(`bad listen address "${text}": "${host}" is not an IP address`);
  return { host, port, family };
}

export function formatListenAddress(a: { host: string; port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
