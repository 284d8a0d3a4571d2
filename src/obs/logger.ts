// Structured logs (pino). One root logger; components take a child with their name.

import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  const level = opts.level ?? process.env.REGIONDNS_LOG_LEVEL ?? 'info';
  return opts.destination ? pino({ level, base: { svc: 'regiondns' } }, opts.destination) : pino({ level, base: { svc: 'regiondns' } });
}
