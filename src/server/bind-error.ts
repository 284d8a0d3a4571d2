// A listener that could not bind: the flag that asked for it, the address, the transport and why,
// in one line a user can act on ("--listen 127.0.0.1:5353 (udp): address already in use").
// Start-up ends on it (non-zero exit): serving part of what was asked for would be a silent outage.

import { formatListenAddress, type ListenAddress } from '../dns/listen-address.js';

export type BindFlag = '--listen' | '--http';

const CAUSES: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (ports below 1024 need privileges, or net.ipv4.ip_unprivileged_port_start)',
  EADDRNOTAVAIL: 'address not available on this host',
  EAFNOSUPPORT: 'address family not supported on this host',
  EINVAL: 'invalid address',
  EMFILE: 'too many open files (raise ulimit -n)',
};

export class BindError extends Error {
  readonly code = 'REGIONDNS_ERR_BIND';
  constructor(
    readonly flag: BindFlag,
    readonly address: string,
    readonly transport: 'udp' | 'tcp' | null,
    readonly reason: string,
  ) {
    super(`${flag} ${address}${transport ? ` (${transport})` : ''}: ${reason}`);
  }

  /** Crosses the IPC channel from a worker to the primary. */
  toJSON(): { flag: BindFlag; address: string; transport: 'udp' | 'tcp' | null; reason: string } {
    return { flag: this.flag, address: this.address, transport: this.transport, reason: this.reason };
  }

  static fromJSON(j: { flag: BindFlag; address: string; transport: 'udp' | 'tcp' | null; reason: string }): BindError {
    return new BindError(j.flag, j.address, j.transport, j.reason);
  }
}

/** Wraps a listen/bind failure; a BindError passes through unchanged. */
export function bindError(flag: BindFlag, addr: ListenAddress, transport: 'udp' | 'tcp' | null, err: unknown): BindError {
  if (err instanceof BindError) return err;
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  const reason = CAUSES[code] ?? (code || ((err as Error)?.message ?? String(err)));
  return new BindError(flag, formatListenAddress(addr), transport, reason);
}
