// DNS over TCP fairness: one client network (a /24) holding idle one-byte connections gets at most
// its per-client share; the excess is refused at accept and counted, and a client elsewhere is
// still served. Clients are told apart by loopback source addresses (127.0.0.2 and 127.0.1.1).
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildQuery, parse } from '../helpers/dns-client.js';
import { frame, metricValue, scrape, waitForMetric } from '../helpers/fuzz.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const ZONES = path.resolve(import.meta.dirname, 'zones');
const PER_CLIENT = 5;
let server: ServerProcess;

beforeAll(async () => {
  server = await startServer(['--zones', ZONES, '--no-geoip', '--tcp-max-connections', '40', '--tcp-max-connections-per-client', String(PER_CLIENT)]);
});
afterAll(async () => {
  await server?.stop();
});

function connectFrom(localAddress: string): Promise<net.Socket> {
  const socket = net.connect({ port: server.port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  return new Promise((resolve) => { socket.once('connect', () => resolve(socket)); socket.once('close', () => resolve(socket)); });
}

/** One query over TCP from `localAddress`: the answer's addresses, or null when the server closed first. */
async function queryFrom(localAddress: string, name: string): Promise<string[] | null> {
  const socket = await connectFrom(localAddress);
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => { socket.destroy(); resolve(null); }, 3000);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(t);
        socket.destroy();
        resolve(parse(buf.subarray(2, 2 + buf.readUInt16BE(0))).answers.map((a: { address: string }) => a.address));
      }
    });
    socket.once('close', () => { clearTimeout(t); resolve(null); });
    if (!socket.destroyed) socket.write(frame(buildQuery(name, 'A')));
  });
}

it('idle one-byte connections from one /24 are capped; another client is still served', async () => {
  const refusedBefore = metricValue(await scrape(server.httpPort), 'regiondns_tcp_closed_total', '{reason="client-over-capacity"}');
  const held: net.Socket[] = [];
  for (let i = 0; i < 30; i++) {
    const s = await connectFrom('127.0.0.2');
    if (!s.destroyed) s.write(Buffer.from([0])); // one byte of a length prefix, then nothing
    held.push(s);
  }
  expect(await waitForMetric(server.httpPort, 'regiondns_tcp_closed_total', '{reason="client-over-capacity"}', (v) => v >= refusedBefore + 30 - PER_CLIENT, 5000))
    .toBeGreaterThanOrEqual(refusedBefore + 30 - PER_CLIENT);
  expect(held.filter((s) => !s.destroyed).length).toBeLessThanOrEqual(PER_CLIENT);
  expect(metricValue(await scrape(server.httpPort), 'regiondns_tcp_connections')).toBe(PER_CLIENT);

  // Another /24 is served; the same /24 from another address is not (the cap is per network).
  expect(await queryFrom('127.0.1.1', 'www.e2e.test')).toEqual(['192.0.2.1']);
  expect(await queryFrom('127.0.0.3', 'www.e2e.test')).toBeNull();

  for (const s of held) s.destroy();
  expect(await waitForMetric(server.httpPort, 'regiondns_tcp_connections', '', (v) => v === 0, 5000)).toBe(0);
  // Slots are given back: the network is served again.
  expect(await queryFrom('127.0.0.3', 'www.e2e.test')).toEqual(['192.0.2.1']);
});
