// A small TCP proxy on loopback between the instances and Redis, to lose or delay replies on purpose:
// holdRepliesAfter(pattern) holds everything Redis sends back on a connection once the client sent
// `pattern` on it (e.g. the write script's SHA): the command runs in Redis, its reply comes late.
import net from 'node:net';

export interface TcpProxy {
  port: number;
  url: string;
  /**
   * The next connection that sends `pattern` gets no reply bytes for `ms` (then they flow, in order).
   * With `newConnections`, connections opened meanwhile are held too (Redis unreachable for them).
   */
  holdRepliesAfter(pattern: string, ms: number, opts?: { newConnections?: boolean }): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let armed: { pattern: string; ms: number; newConnections: boolean; fired: () => void } | null = null;
  let holdNewUntil = 0;
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1' });
    sockets.add(client).add(upstream);
    let heldUntil = Date.now() < holdNewUntil ? holdNewUntil : 0;
    const queue: Buffer[] = [];
    let timer: NodeJS.Timeout | null = null;
    const flushLater = () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        heldUntil = 0;
        for (const b of queue.splice(0)) client.write(b);
      }, Math.max(0, heldUntil - Date.now()));
    };
    if (heldUntil) flushLater();
    client.on('data', (chunk) => {
      if (armed && chunk.includes(armed.pattern)) {
        const a = armed;
        armed = null;
        heldUntil = Date.now() + a.ms;
        if (a.newConnections) holdNewUntil = heldUntil;
        flushLater();
        a.fired();
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (heldUntil) queue.push(chunk);
      else client.write(chunk);
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
        armed = { pattern, ms, newConnections: opts.newConnections ?? false, fired };
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
