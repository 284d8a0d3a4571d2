// UDP listener. dns2's UDP server hands every datagram to an async handler with no guard for
// responses, opcodes or size limits, so we bind a plain dgram socket and do those checks in the
// query handler instead (see ../../README.md, "dns2").

import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from './listen-address.js';

/**
 * The client's address: text from node:dgram and node:net, or 4 or 16 octets from the batched UDP
 * engine (a view the handler reads during the call and must not keep).
 */
export type ClientAddress = string | Uint8Array;

/** Answers one message synchronously; null means "send nothing". `maxUdp` is applied by the handler. */
export type MessageHandler = (msg: Uint8Array, client: ClientAddress) => Uint8Array | null;

export interface UdpListener {
  address(): AddressInfo;
  close(): Promise<void>;
}

export function listenUdp(
  addr: ListenAddress, handle: MessageHandler, onError: (err: Error) => void, opts: { reusePort?: boolean } = {},
): Promise<UdpListener> {
  // reusePort: each worker thread binds its own socket and the kernel spreads datagrams over them
  // (SO_REUSEPORT).
  const socket = dgram.createSocket({ type: addr.family === 6 ? 'udp6' : 'udp4', reuseAddr: false, ipv6Only: addr.family === 6, ...(opts.reusePort ? { reusePort: true } : {}) } as dgram.SocketOptions);
  socket.on('message', (msg, rinfo) => {
    let reply: Uint8Array | null;
    try {
      reply = handle(msg, rinfo.address);
    } catch (err) {
      onError(err as Error); // the handler answers SERVFAIL itself; this is the last line of defence
      return;
    }
    // No per-send callback: it costs a closure call per packet; send errors arrive as 'error' events.
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  return new Promise((resolve, reject) => {
    // A bind failure is the caller's to report (once); later errors go to onError.
    socket.once('error', reject);
    socket.bind({ port: addr.port, address: addr.host, exclusive: opts.reusePort === true }, () => {
      socket.off('error', reject);
      socket.on('error', onError);
      resolve({ address: () => socket.address(), close: () => new Promise((r) => socket.close(() => r())) });
    });
  });
}
