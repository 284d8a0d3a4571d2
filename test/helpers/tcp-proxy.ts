// A small TCP proxy on loopback between the instances and Redis, to lose or delay replies on purpose:
// holdRepliesAfter(pattern) holds everything Redis sends back on a connection once the client sent
// `pattern` on it (e.g. the write script's SHA): the command runs in Redis, its reply comes late.
import net from 'node:net';

export interface TcpProxy {
  port: number;
  url: string;
  /**
   * The next connection that sends `pattern` gets no reply bytes for `ms` (then they flow, in order).
   * With `everyConnection`, every connection, open or opened meanwhile, is held as long (Redis silent).
   */
  holdRepliesAfter(pattern: string, ms: number, opts?: { everyConnection?: boolean }): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let armed: { pattern: string; ms: number; everyConnection: boolean; fired: () => void } | null = null;
  /** Until when every connection's replies are held. */
  let holdAllUntil = 0;
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1' });
    sockets.add(client).add(upstream);
    let heldUntil = 0;
    const queue: Buffer[] = [];
    let timer: NodeJS.Timeout | null = null;
    const until = () => Math.max(heldUntil, holdAllUntil);
    const flush = () => {
      timer = null;
      if (Date.now() < until()) return void (timer = setTimeout(flush, until() - Date.now()));
      for (const b of queue.splice(0)) client.write(b);
    };
    client.on('data', (chunk) => {
      if (armed && chunk.includes(armed.pattern)) {
        const a = armed;
        armed = null;
        heldUntil = Date.now() + a.ms;
        if (a.everyConnection) holdAllUntil = heldUntil;
        a.fired();
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (Date.now() >= until() && queue.length === 0) return void client.write(chunk);
      queue.push(chunk);
      timer ??= setTimeout(flush, Math.max(0, until() - Date.now()));
    });
    const end = () => {
      if (timer) clearTimeout(timer);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    holdRepliesAfter(pattern, ms, opts = {}) {
      return new Promise<void>((fired) => {
        armed = { pattern, ms, everyConnection: opts.everyConnection ?? false, fired };
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
