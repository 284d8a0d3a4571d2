// UDP and TCP listeners on every --listen address, answering through one QueryHandler.
// Shared by the single-process server and by each worker of a multi-core one.

import dgram from 'node:dgram';
import net, { type AddressInfo } from 'node:net';
import type { ListenAddress } from '../dns/listen-address.js';
import { listenTcp, type TcpListener, type TcpOptions } from '../dns/tcp.js';
import { ipToBytes } from '../dns/address.js';
import { listenUdp, type ClientAddress, type UdpListener } from '../dns/udp.js';
import { listenUdpBatch } from '../dns/udp-batch.js';
import { resolveUdpEngine, type UdpEngineChoice } from '../dns/udp-engine.js';
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

export interface DnsListenerOptions {
  /** A worker thread: binds its UDP and TCP sockets with SO_REUSEPORT, beside the other workers'. */
  reusePort?: boolean;
  udpEngine?: UdpEngineChoice;
}

export async function startDnsListeners(
  addrs: readonly ListenAddress[],
  handler: QueryHandler,
  tcpOpts: TcpOptions,
  log: Logger,
  opts: DnsListenerOptions = {},
): Promise<DnsListeners> {
  const onError = (err: Error) => log.error({ err }, 'socket error');
  const engine = resolveUdpEngine(opts.udpEngine);
  const udp: UdpListener[] = [];
  const tcp: TcpListener[] = [];
  const close = async () => {
    await Promise.all([...udp.map((u) => u.close()), ...tcp.map((t) => t.close())]);
  };
  // The clock is read here, at the edge: the handler's rate limiter and cookies take it as input. So is
  // the resolver's address: node:dgram and TCP give text, parsed once here; the batched engine octets.
  const octets = new ClientOctets();
  const answerUdp = (msg: Uint8Array, src: ClientAddress) => handler.handle(msg, octets.of(src), 'udp', Date.now());
  const answerSlot = (msg: Uint8Array, length: number, client: Uint8Array, out: Uint8Array, now: number) => handler.handleInto(msg, length, client, 'udp', now, out);
  let socketBuffer = 0; // as the kernel set it (it doubles the request, capped by net.core.rmem_max)
  try {
    for (const addr of addrs) {
      // A bind failure names the flag, the address and the transport (BindError): start-up ends on it.
      if (engine.addon) {
        let b: ReturnType<typeof listenUdpBatch>;
        try {
          b = listenUdpBatch(engine.addon, addr, answerSlot, onError, { reusePort: opts.reusePort === true });
        } catch (err) {
          throw bindError('--listen', addr, 'udp', err);
        }
        socketBuffer = b.stats().rcvbuf;
        udp.push(b);
      } else {
        udp.push(await listenUdp(addr, answerUdp, onError, opts).catch((err: unknown) => { throw bindError('--listen', addr, 'udp', err); }));
      }
      tcp.push(await listenTcp(addr, (msg, src) => handler.handle(msg, octets.of(src), 'tcp', Date.now()), tcpOpts, {
        onError,
        onOpen: () => tcpConnections.inc(),
        onClose: (reason) => { if (!REFUSED.has(reason)) tcpConnections.dec(); tcpClosed.labels(reason).inc(); },
      }, opts).catch((err: unknown) => { throw bindError('--listen', addr, 'tcp', err); }));
    }
  } catch (err) {
    await close();
    throw err;
  }
  if (addrs.length) log.info({ engine: engine.kind, reason: engine.reason, ...(engine.addon ? { socketBuffer } : {}) }, `UDP engine: ${engine.kind}`);
  return {
    addresses: () => ({ udp: udp.map((u) => u.address()), tcp: tcp.map((t) => t.server.address() as AddressInfo) }),
    close,
  };
}

/**
 * Makes sure nothing holds the --listen ports before worker threads bind them with SO_REUSEPORT.
 * SO_REUSEPORT lets any process of the same user join a port's group: a second instance started
 * on the same port by mistake would not fail, it would silently take a share of the first one's
 * queries. Binding each port once without it first fails on any holder (EADDRINUSE, as a single
 * process would); the probe sockets are closed at once.
 */
export async function checkPortsFree(addrs: readonly ListenAddress[]): Promise<void> {
  for (const addr of addrs) {
    if (addr.port === 0) continue; // the kernel picks a free port per socket: nothing to share
    const udp = dgram.createSocket({ type: addr.family === 6 ? 'udp6' : 'udp4', ipv6Only: addr.family === 6 });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ port: addr.port, address: addr.host, exclusive: true }, () => resolve());
    }).catch((err: unknown) => { throw bindError('--listen', addr, 'udp', err); }).finally(() => { try { udp.close(); } catch { /* closed by the failed bind */ } });
    const tcp = net.createServer();
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ port: addr.port, host: addr.host, ipv6Only: addr.family === 6, exclusive: true }, () => resolve());
    }).catch((err: unknown) => { throw bindError('--listen', addr, 'tcp', err); }).finally(() => tcp.close(() => undefined));
  }
}

/**
 * A client address as octets: text parsed, octets as they are. Traffic comes in runs from one
 * resolver, so the last text is remembered; an address that does not parse is empty octets.
 */
export class ClientOctets {
  private lastText = '';
  private last: Uint8Array = EMPTY;

  of(src: ClientAddress): Uint8Array {
    if (typeof src !== 'string') return src;
    if (src !== this.lastText) {
      this.last = ipToBytes(src) ?? EMPTY;
      this.lastText = src;
    }
    return this.last;
  }
}

const EMPTY = new Uint8Array(0);
