// DNS over TCP (RFC 7766, RFC 1035 §4.2.2). dns2's TCP server only half-closes idle sockets, has no
// connection cap, no per-message deadline and ignores write backpressure, so this is our own
// net.Server with the hygiene an internet-facing authoritative server needs.

import net from 'node:net';
import { ClientQuota, clientNetwork } from './client-quota.js';
import type { ListenAddress } from './listen-address.js';
import type { MessageHandler } from './udp.js';

export interface TcpOptions {
  /** Close a connection that sends nothing for this long (RFC 7766 §6.2.3 recommends seconds, not minutes). */
  idleTimeoutMs: number;
  /** A message must arrive whole within this time of its first byte (slow-drip defence). */
  messageTimeoutMs: number;
  maxConnections: number;
  /** Connections one client network (/24, /56) may hold, so one client cannot push every other out. */
  maxConnectionsPerClient: number;
  /** Replies written but not yet flushed to the kernel; past this we stop reading (backpressure). */
  maxInFlight: number;
}

export const DEFAULT_TCP_OPTIONS: TcpOptions = { idleTimeoutMs: 10_000, messageTimeoutMs: 10_000, maxConnections: 1000, maxConnectionsPerClient: 100, maxInFlight: 64 };

export interface TcpEvents {
  onError(err: Error): void;
  onOpen(): void;
  /** 'over-capacity' and 'client-over-capacity' are refusals at accept: no onOpen came before them. */
  onClose(reason: 'idle' | 'message-timeout' | 'write-stall' | 'peer' | 'error' | 'over-capacity' | 'client-over-capacity' | 'shutdown'): void;
}

export interface TcpListener {
  readonly server: net.Server;
  readonly connections: Set<net.Socket>;
  close(): Promise<void>;
}

export function listenTcp(
  addr: ListenAddress, handle: MessageHandler, opts: TcpOptions, events: TcpEvents, sockOpts: { reusePort?: boolean } = {},
): Promise<TcpListener> {
  const connections = new Set<net.Socket>();
  const perClient = new ClientQuota(opts.maxConnectionsPerClient);
  const server = net.createServer({ allowHalfOpen: false, noDelay: true, pauseOnConnect: false });
  let closing = false;

  server.on('connection', (socket) => {
    if (connections.size >= opts.maxConnections || closing) {
      events.onClose('over-capacity');
      socket.destroy();
      return;
    }
    const network = clientNetwork(socket.remoteAddress ?? '');
    if (!perClient.acquire(network)) {
      events.onClose('client-over-capacity');
      socket.destroy();
      return;
    }
    connections.add(socket);
    events.onOpen();
    serveConnection(socket, handle, opts, (reason) => {
      if (connections.delete(socket)) {
        perClient.release(network);
        events.onClose(closing ? 'shutdown' : reason);
      }
    }, events.onError);
  });
  return new Promise((resolve, reject) => {
    // A listen failure is the caller's to report (once); later errors go to onError.
    server.once('error', reject);
    server.listen({ port: addr.port, host: addr.host, ipv6Only: addr.family === 6, ...(sockOpts.reusePort ? { reusePort: true, exclusive: true } : {}) } as net.ListenOptions, () => {
      server.off('error', reject);
      server.on('error', events.onError);
      resolve({
        server,
        connections,
        close: () => new Promise((r) => {
          closing = true;
          server.close(() => r());
          // In-flight replies have been written synchronously; a half-read query is abandoned.
          for (const s of connections) s.end();
          setTimeout(() => { for (const s of connections) s.destroy(); }, 1000).unref();
        }),
      });
    });
  });
}

type CloseReason = 'idle' | 'message-timeout' | 'write-stall' | 'peer' | 'error';

function serveConnection(
  socket: net.Socket,
  handle: MessageHandler,
  opts: TcpOptions,
  onGone: (reason: CloseReason) => void,
  onError: (err: Error) => void,
): void {
  const remote = socket.remoteAddress ?? '';
  // Bytes received and not yet answered, read from `pendingOff`: whole messages held back by the
  // in-flight cap, then at most one incomplete message.
  let pending: Buffer | null = null;
  let pendingOff = 0;
  let partialSince = 0; // when the incomplete message at the head began arriving; 0: none
  let inFlight = 0;
  let progressAt = Date.now(); // last read or flushed reply
  let reason: CloseReason = 'peer';

  const headIsWhole = (): boolean => {
    if (pending === null || pending.length - pendingOff < 2) return false;
    return pending.length - pendingOff - 2 >= pending.readUInt16BE(pendingOff);
  };

  // RFC 7766 §6.2.3: the server may close idle connections; destroy() frees the fd at once, where
  // end() would leave a silent client holding it. A connection whose replies wait on a client that
  // does not read is not idle: it gets messageTimeoutMs without progress before it is dropped.
  socket.setTimeout(opts.idleTimeoutMs);
  socket.on('timeout', () => {
    if (inFlight > 0 || headIsWhole()) {
      if (Date.now() - progressAt < opts.messageTimeoutMs) { socket.setTimeout(opts.idleTimeoutMs); return; }
      reason = 'write-stall';
    } else {
      reason = 'idle';
    }
    socket.destroy();
  });
  socket.on('error', (err) => { reason = 'error'; if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') onError(err); });
  socket.on('close', () => onGone(reason));

  /** Answers whole messages while under the in-flight cap; enforces the deadline on a partial one. */
  const answerPending = (): void => {
    while (pending !== null && inFlight < opts.maxInFlight) {
      const avail = pending.length - pendingOff;
      if (avail < 2) break;
      const len = pending.readUInt16BE(pendingOff);
      if (avail - 2 < len) break;
      // RFC 7766 §6.2.1.1: several queries may arrive in one segment (pipelining); answer each in turn.
      const msg = pending.subarray(pendingOff + 2, pendingOff + 2 + len);
      pendingOff += 2 + len;
      partialSince = 0;
      let reply: Uint8Array | null = null;
      try {
        reply = handle(msg, remote);
      } catch (err) {
        onError(err as Error);
      }
      if (reply) {
        const frame = Buffer.allocUnsafe(reply.length + 2);
        frame.writeUInt16BE(reply.length, 0);
        frame.set(reply, 2);
        inFlight++;
        socket.write(frame, flushed);
      }
      if (socket.destroyed) return;
    }
    if (pending === null) return;
    if (pendingOff === pending.length) {
      pending = null;
    } else if (!headIsWhole()) {
      const now = Date.now();
      if (partialSince === 0) partialSince = now;
      else if (now - partialSince > opts.messageTimeoutMs) { reason = 'message-timeout'; socket.destroy(); return; }
      if (pendingOff > 0) { pending = Buffer.from(pending.subarray(pendingOff)); pendingOff = 0; } // copy: don't pin the chunk
    }
    // Backpressure (RFC 7766 §6.2.1 lets us limit): stop reading while replies sit unflushed or
    // whole queries wait their turn, so a client that does not read costs at most maxInFlight replies.
    if (headIsWhole() || inFlight >= opts.maxInFlight || socket.writableNeedDrain) socket.pause();
  };

  const maybeResume = (): void => {
    if (socket.destroyed) return;
    answerPending();
    if (!socket.destroyed && socket.isPaused() && !headIsWhole() && inFlight < opts.maxInFlight && !socket.writableNeedDrain) socket.resume();
  };

  function flushed(): void {
    inFlight--;
    progressAt = Date.now();
    maybeResume();
  }

  socket.on('data', (chunk: Buffer) => {
    progressAt = Date.now();
    if (pending === null) pending = chunk;
    else pending = Buffer.concat([pending.subarray(pendingOff), chunk]);
    pendingOff = 0;
    answerPending();
  });
  socket.on('drain', maybeResume);
}
