// The batched UDP listener: the udp-batch addon owns the socket, reads up to BATCH datagrams per
// recvmmsg into a slab and calls onBatch(n) once; each query is answered from a view of the slab and
// its reply copied into the output slab, which the addon sends with one sendmmsg. No per-packet
// Buffer, rinfo object or address string: the client address is a view of 4 or 16 octets.

import type { AddressInfo } from 'node:net';
import { udpSendDropped } from '../obs/metrics.js';
import type { ListenAddress } from './listen-address.js';
import type { MessageHandler, UdpListener } from './udp.js';
import type { UdpBatchAddon } from './udp-engine.js';

export interface BatchOptions {
  /** SO_REUSEPORT: each worker binds its own socket and the kernel spreads datagrams over them. */
  reusePort?: boolean;
  /** SO_RCVBUF and SO_SNDBUF, bytes (the kernel caps them at net.core.rmem_max / wmem_max). */
  bufferBytes?: number;
}

/** Room for a burst while JavaScript answers the previous batch: the kernel default (~208 KiB) is ~1,500 queries. */
export const DEFAULT_SOCKET_BUFFER = 4 << 20;

export function listenUdpBatch(
  addon: UdpBatchAddon, addr: ListenAddress, handle: MessageHandler, onError: (err: Error) => void, opts: BatchOptions = {},
): UdpListener & { stats(): ReturnType<UdpBatchAddon['stats']> } {
  const { BATCH, SLOT, META } = addon;
  const input = new ArrayBuffer(BATCH * SLOT);
  const output = new ArrayBuffer(BATCH * SLOT);
  // One slot more than the batch: [BATCH * META] is the addon's count of dropped replies.
  const metaBuf = new ArrayBuffer((BATCH + 1) * META * 4);
  const addrBuf = new ArrayBuffer(BATCH * 16);
  const meta = new Int32Array(metaBuf);
  const out = new Uint8Array(output);
  // The address views are made once: a query reads its client's octets and keeps no reference.
  const v4 = Array.from({ length: BATCH }, (_, i) => new Uint8Array(addrBuf, i * 16, 4));
  const v6 = Array.from({ length: BATCH }, (_, i) => new Uint8Array(addrBuf, i * 16, 16));
  const DROPPED = BATCH * META;
  let dropped = 0;
  const countDrops = () => {
    const now = meta[DROPPED] >>> 0;
    if (now !== dropped) { udpSendDropped.inc((now - dropped) >>> 0); dropped = now; }
  };

  const onBatch = (n: number) => {
    if (n < 0) { onError(Object.assign(new Error(`udp-batch: receive failed (errno ${-n})`), { errno: n })); return; }
    countDrops(); // the sends of the previous batch
    for (let i = 0; i < n; i++) {
      const m = i * META;
      const msg = new Uint8Array(input, i * SLOT, meta[m]);
      let reply: Uint8Array | null;
      try {
        reply = handle(msg, meta[m + 1] === 4 ? v4[i] : v6[i]);
      } catch (err) {
        onError(err as Error); // the handler answers SERVFAIL itself; this is the last line of defence
        continue;
      }
      if (reply !== null && reply.length <= SLOT) {
        out.set(reply, i * SLOT);
        meta[m + 2] = reply.length;
      }
    }
  };
  const h = addon.open(addr.host, addr.port, addr.family, opts.reusePort === true, opts.bufferBytes ?? DEFAULT_SOCKET_BUFFER, input, output, metaBuf, addrBuf, onBatch);
  let closed = false;
  return {
    address: () => addon.address(h) as AddressInfo,
    stats: () => addon.stats(h),
    close: async () => {
      if (closed) return;
      closed = true;
      countDrops();
      addon.close(h);
    },
  };
}
