// DNS over TCP (RFC 7766, RFC 1035 §4.2.2). dns2's TCP server only half-closes idle sockets, has no
// connection cap, no per-message deadline and ignores write backpressure, so this is our own
// net.Server with the hygiene an internet-facing authoritative server needs.

import net from 'node:net';
import type { ListenAddress } from './listen-address.js';
import type { MessageHandler } from './udp.js';

export interface TcpOptions {
  /** Close a connection that sends nothing for this long (RFC 7766 §6.2.3 recommends seconds, not minutes). */
  idleTimeoutMs: number;
  /** A message must arrive whole within this time of its first byte (slow-drip defence). */
  messageTimeoutMs: number;
  maxConnections: number;
  /** Replies written but not yet flushed to the kernel; past this we stop reading (backpressure). */
  maxInFlight: number;
}

export const DEFAULT_TCP_OPTIONS: TcpOptions = { idleTimeoutMs: 10_000, messageTimeoutMs: 10_000, maxConnections: 1000, maxInFlight: 64 };

export interface TcpEvents {
  onError(err: Error): void;
  onOpen(): void;
  onClose(reason: 'idle' | 'message-timeout' | 'peer' | 'error' | 'over-capacity' | 'shutdown'): void;
}

export interface TcpListener {
  readonly server: net.Server;
  readonly connections: Set<net.Socket>;
  close(): Promise<void>;
}

export function listenTcp(addr: ListenAddress, handle: MessageHandler, opts: TcpOptions, events: TcpEvents): Promise<TcpListener> {
  const connections = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: false, noDelay: true, pauseOnConnect: false });
  let closing = false;

  server.on('connection', (socket) => {
    if (connections.size >= opts.maxConnections || closing) {
      events.onClose('over-capacity');
      socket.destroy();
      return;
    }
    connections.add(socket);
    events.onOpen();
    serveConnection(socket, handle, opts, (reason) => {
      if (connections.delete(socket)) events.onClose(closing ? 'shutdown' : reason);
    }, events.onError);
  });
  server.on('error', events.onError);

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: addr.port, host: addr.host, ipv6Only: addr.family === 6 }, () => {
      server.off('error', reject);
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

function serveConnection(
  socket: net.Socket,
  handle: MessageHandler,
  opts: TcpOptions,
  onGone: (reason: 'idle' | 'message-timeout' | 'peer' | 'error') => void,
  onError: (err: Error) => void,
): void {
  const remote = socket.remoteAddress ?? '';
  let buffered: Buffer | null = null; // bytes of an incomplete message
  let partialSince = 0;
  let inFlight = 0;
  let reason: 'idle' | 'message-timeout' | 'peer' | 'error' = 'peer';

  // RFC 7766 §6.2.3: the server may close idle connections; destroy() frees the fd at once,
  // where end() would leave a silent client holding it.
  socket.setTimeout(opts.idleTimeoutMs, () => { reason = 'idle'; socket.destroy(); });
  socket.on('error', (err) => { reason = 'error'; if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') onError(err); });
  socket.on('close', () => onGone(reason));

  const flushed = () => {
    inFlight--;
    if (inFlight < opts.maxInFlight && socket.isPaused() && !socket.destroyed) socket.resume();
  };

  socket.on('data', (chunk: Buffer) => {
    let data = buffered ? Buffer.concat([buffered, chunk]) : chunk;
    let off = 0;
    // RFC 7766 §6.2.1.1: several queries may arrive in one segment (pipelining); answer each in turn.
    while (data.length - off >= 2) {
      const len = data.readUInt16BE(off);
      if (data.length - off - 2 < len) break;
      const msg = data.subarray(off + 2, off + 2 + len);
      off += 2 + len;
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
    if (off < data.length) {
      const now = Date.now();
      if (!buffered || off > 0) partialSince = now;
      else if (now - partialSince > opts.messageTimeoutMs) { reason = 'message-timeout'; socket.destroy(); return; }
      buffered = Buffer.from(data.subarray(off)); // copy: don't pin the whole chunk
    } else {
      buffered = null;
    }
    // Backpressure: stop reading while too many replies sit unflushed (RFC 7766 §6.2.1 lets us limit).
    if (inFlight >= opts.maxInFlight || socket.writableNeedDrain) socket.pause();
  });
  socket.on('drain', () => { if (inFlight < opts.maxInFlight && socket.isPaused()) socket.resume(); });
}
