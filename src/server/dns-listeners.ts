// UDP and TCP listeners on every --listen address, answering through one QueryHandler.
// Shared by the single-process server and by each worker of a multi-core one.

import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../dns/listen-address.js';
import { listenTcp, type TcpListener, type TcpOptions } from '../dns/tcp.js';
import { listenUdp, type UdpListener } from '../dns/udp.js';
import type { Logger } from '../obs/logger.js';
import { tcpClosed, tcpConnections } from '../obs/metrics.js';
import { bindError } from './bind-error.js';
import type { QueryHandler } from './query-handler.js';

/** Connections refused at accept: never counted as open. */
const REFUSED: ReadonlySet<string> = new Set(['over-capacity', 'client-over-capacity']);

export interface DnsListeners {
  addresses(): { udp: AddressInfo[]; tcp: AddressInfo[] };
  close(): Promise<void>;
}

export async function startDnsListeners(
  addrs: readonly ListenAddress[],
  handler: QueryHandler,
  tcpOpts: TcpOptions,
  log: Logger,
  opts: { reusePort?: boolean } = {},
): Promise<DnsListeners> {
  const onError = (err: Error) => log.error({ err }, 'socket error');
  const udp: UdpListener[] = [];
  const tcp: TcpListener[] = [];
  const close = async () => {
    await Promise.all([...udp.map((u) => u.close()), ...tcp.map((t) => t.close())]);
  };
  try {
    for (const addr of addrs) {
      // The clock is read here, at the edge: the handler's rate limiter and cookies take it as input.
      // A bind failure names the flag, the address and the transport (BindError): start-up ends on it.
      udp.push(await listenUdp(addr, (msg, src) => handler.handle(msg, src, 'udp', Date.now()), onError, opts)
        .catch((err: unknown) => { throw bindError('--listen', addr, 'udp', err); }));
      tcp.push(await listenTcp(addr, (msg, src) => handler.handle(msg, src, 'tcp', Date.now()), tcpOpts, {
        onError,
        onOpen: () => tcpConnections.inc(),
        onClose: (reason) => { if (!REFUSED.has(reason)) tcpConnections.dec(); tcpClosed.labels(reason).inc(); },
      }, opts).catch((err: unknown) => { throw bindError('--listen', addr, 'tcp', err); }));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    addresses: () => ({ udp: udp.map((u) => u.socket.address()), tcp: tcp.map((t) => t.server.address() as AddressInfo) }),
    close,
  };
}
