// A loopback port free for both TCP and UDP (a DNS server binds both), for the bench scripts.
import dgram from 'node:dgram';
import net from 'node:net';

/** A port the kernel hands out for TCP that UDP can bind too; never one in `avoid`. */
export async function freePort({ host = '127.0.0.1', avoid = new Set() } = {}) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, host, () => { const p = srv.address().port; srv.close(() => resolve(p)); });
    });
    if (avoid.has(port)) continue;
    const udpFree = await new Promise((resolve) => {
      const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      sock.once('error', () => resolve(false));
      sock.bind(port, host, () => sock.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free loopback port found');
}
