// The batched UDP listener: the udp-batch addon owns the socket, reads up to BATCH datagrams per
// recvmmsg into a slab and calls onBatch(n) once; each query is answered from its slot of the input
// slab straight into its slot of the output slab, which the addon sends with one sendmmsg. No
// per-packet Buffer, view, rinfo object or address string: the views of every slot and client address
// (4 or 16 octets) are made once, and the clock is read once per batch.

import type { AddressInfo } from 'node:net';
import { udpSendDropped } from '../obs/metrics.js';
import type { ListenAddress } from './listen-address.js';
import type { UdpListener } from './udp.js';
import type { UdpBatchAddon } from './udp-engine.js';

/**
 * Answers one datagram of a batch: the query is the first `length` octets of `msg` (its input slot),
 * the reply is written at the start of `out` (its output slot, SLOT octets: room for any DNS message).
 * Returns the reply's length, 0 to send nothing. `client`: the resolver's address, 4 or 16 octets;
 * `now`: the clock, read once for the batch (ms since the epoch). Every view is valid during the call only.
 */
export type SlotHandler = (msg: Uint8Array, length: number, client: Uint8Array, out: Uint8Array, now: number) => number;

export interface BatchOptions {
  /** SO_REUSEPORT: each worker binds its own socket and the kernel spreads datagrams over them. */
  reusePort?: boolean;
  /** SO_RCVBUF and SO_SNDBUF, bytes (the kernel caps them at net.core.rmem_max / wmem_max). */
  bufferBytes?: number;
}

/** Room for a burst while JavaScript answers the previous batch: the kernel default (~208 KiB) is ~1,500 queries. */
export const DEFAULT_SOCKET_BUFFER = 4 << 20;

export function listenUdpBatch(
  addon: UdpBatchAddon, addr: ListenAddress, handle: SlotHandler, onError: (err: Error) => void, opts: BatchOptions = {},
): UdpListener & { stats(): ReturnType<UdpBatchAddon['stats']> } {
  const { BATCH, SLOT, META } = addon;
  const input = new ArrayBuffer(BATCH * SLOT);
  const output = new ArrayBuffer(BATCH * SLOT);
  // One slot more than the batch: [BATCH * META] is the addon's count of dropped replies.
  const metaBuf = new ArrayBuffer((BATCH + 1) * META * 4);
  const addrBuf = new ArrayBuffer(BATCH * 16);
  const meta = new Int32Array(metaBuf);
  const slots = (buf: ArrayBuffer, size: number, stride = size) => Array.from({ length: BATCH }, (_, i) => new Uint8Array(buf, i * stride, size));
  const inSlot = slots(input, SLOT);
  const outSlot = slots(output, SLOT);
  const v4 = slots(addrBuf, 4, 16);
  const v6 = slots(addrBuf, 16);
  const DROPPED = BATCH * META;
  let dropped = 0;
  const countDrops = () => {
    const now = meta[DROPPED] >>> 0;
    if (now !== dropped) { udpSendDropped.inc((now - dropped) >>> 0); dropped = now; }
  };

  const onBatch = (n: number) => {
    if (n < 0) { onError(Object.assign(new Error(`udp-batch: receive failed (errno ${-n})`), { errno: n })); return; }
    countDrops(); // the sends of the previous batch
    // The datagrams of one recvmmsg arrived together: one clock read serves them all.
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const m = i * META;
      let len: number;
      try {
        len = handle(inSlot[i], meta[m], meta[m + 1] === 4 ? v4[i] : v6[i], outSlot[i], now);
      } catch (err) {
        onError(err as Error); // the handler answers SERVFAIL itself; this is the last line of defence
        continue;
      }
      if (len > 0 && len <= SLOT) meta[m + 2] = len; // the addon zeroed it at receive: no reply
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
