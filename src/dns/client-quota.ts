// Connections per client, so one client cannot take every slot of a listener. DNS over TCP counts a
// client's network (/24 for IPv4, /56 for IPv6: what one site or one resolver farm holds, the same
// prefixes ECS and sticky splits use), the HTTP listener its address.

import { ipToBytes } from './address.js';

/** A client's /24 (IPv4) or /56 (IPv6) as a short key ("192.0.2/24", "2001:db8:1:200/56"). */
export function clientNetwork(address: string): string {
  const b = ipToBytes(address);
  if (b === null) return address;
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}/24`;
  const hex = (i: number) => ((b[i] << 8) | b[i + 1]).toString(16);
  return `${hex(0)}:${hex(2)}:${hex(4)}:${(b[6] << 8).toString(16)}/56`;
}

/** The same address however the socket spells it ("::ffff:127.0.0.1" on a dual-stack socket is 127.0.0.1). */
export function clientAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** Open connections per key, bounded. */
export class ClientQuota {
  private readonly open = new Map<string, number>();

  constructor(private readonly perClient: number) {}

  /** Takes a slot for `key`; false when the key already holds `perClient`. */
  acquire(key: string): boolean {
    const n = this.open.get(key) ?? 0;
    if (n >= this.perClient) return false;
    this.open.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = this.open.get(key) ?? 0;
    if (n <= 1) this.open.delete(key);
    else this.open.set(key, n - 1);
  }

  /** Keys holding at least one slot (for tests and metrics). */
  get clients(): number {
    return this.open.size;
  }
}
