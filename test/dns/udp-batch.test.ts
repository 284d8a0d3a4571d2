// The batched UDP engine in this process, through real loopback sockets: every datagram length a
// UDP socket can carry comes back byte for byte, bursts are read in batches, the reply leaves from
// the address the query arrived on, SO_REUSEPORT, bind errors, a throwing handler, a close from
// inside a batch, a worker thread ended with its socket open. The addon must be built (npm ci
// builds it; CI fails here when it did not).
import dgram from 'node:dgram';
import { once } from 'node:events';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { parseListenAddress } from '../../src/dns/listen-address.js';
import type { ClientAddress, MessageHandler } from '../../src/dns/udp.js';
import { listenUdpBatch, type SlotHandler } from '../../src/dns/udp-batch.js';
import { resolveUdpEngine, type UdpBatchAddon } from '../../src/dns/udp-engine.js';
import { mulberry32 } from '../../src/steering/rng.js';
import { randomBytes } from '../helpers/fuzz.js';
import { freePort } from '../helpers/ports.js';

const engine = resolveUdpEngine('batch');
const addon = engine.addon as UdpBatchAddon;
type Listener = ReturnType<typeof listenUdpBatch>;
const open: Listener[] = [];
const errors: Error[] = [];
const onError = (e: Error) => { errors.push(e); };

afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
  errors.length = 0;
});

/** A handler that answers with a whole array, copied into the reply slot (the server's encodes there). */
const inSlot = (handle: MessageHandler): SlotHandler => (msg, length, client, out) => {
  const reply = handle(msg.subarray(0, length), client);
  if (reply === null) return 0;
  out.set(reply);
  return reply.length;
};

async function listen(text: string, handle: MessageHandler | { slot: SlotHandler }, reusePort = false): Promise<Listener> {
  const addr = parseListenAddress(text);
  const l = listenUdpBatch(addon, addr, typeof handle === 'function' ? inSlot(handle) : handle.slot, onError, { reusePort });
  open.push(l);
  return l;
}

/** A client socket that collects every reply with the address it came from. */
async function client(type: 'udp4' | 'udp6', bindTo?: string) {
  const s = dgram.createSocket({ type, recvBufferSize: 4 << 20, sendBufferSize: 1 << 20 });
  const replies: { msg: Buffer; from: string }[] = [];
  const waiters: (() => void)[] = [];
  s.on('message', (msg, rinfo) => { replies.push({ msg, from: rinfo.address }); for (const w of waiters.splice(0)) w(); });
  await new Promise<void>((r) => s.bind(0, bindTo, () => r()));
  const until = async (n: number, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (replies.length < n && Date.now() < deadline) {
      await new Promise<void>((r) => { const t = setTimeout(r, 50); waiters.push(() => { clearTimeout(t); r(); }); });
    }
    return replies;
  };
  return { s, replies, until, close: () => new Promise<void>((r) => s.close(() => r())) };
}

const echo: MessageHandler = (msg) => msg;

describe('udp-batch addon', () => {
  it('echoes every length 0..1500, around 4 KiB and 64 KiB, up to the largest UDP payload, over IPv4 and IPv6', async () => {
    const rng = mulberry32(0xba7c4);
    for (const [family, host, max] of [['udp4', '127.0.0.1', 65507], ['udp6', '::1', 65527]] as const) {
      const port = await freePort(host);
      const seen: number[] = [];
      await listen(family === 'udp4' ? `${host}:${port}` : `[${host}]:${port}`, (msg) => { seen.push(msg.length); return msg.length ? msg : null; });
      const c = await client(family);
      const lengths = [...Array.from({ length: 1501 }, (_, i) => i), 4095, 4096, 4097, 16384, 32767, 32768, 65000, 65535 - 28 - 100, max - 1, max];
      let expected = 0;
      for (const len of lengths) {
        const sent = randomBytes(rng, len);
        c.s.send(sent, port, host);
        if (len === 0) continue; // an empty datagram reaches the handler; its empty reply is not sent
        expected++;
        const got = await c.until(expected);
        expect(got.length, `reply to a ${len}-octet datagram`).toBe(expected);
        expect(got[expected - 1].msg.equals(sent), `${len} octets back intact`).toBe(true);
      }
      expect(seen).toEqual(lengths);
      await c.close();
    }
    expect(errors).toEqual([]);
  });

  it('reads a burst in batches and answers every datagram of it', async () => {
    const port = await freePort();
    const l = await listen(`127.0.0.1:${port}`, echo);
    const c = await client('udp4');
    const N = 640;
    // Sent before this process's event loop polls the server socket: they queue, and are read BATCH at a time.
    for (let i = 0; i < N; i++) c.s.send(Buffer.from(`q${i}`), port, '127.0.0.1');
    const got = await c.until(N);
    expect(new Set(got.map((r) => r.msg.toString())).size).toBe(N);
    const st = l.stats();
    expect(st.received).toBe(N);
    expect(st.sent).toBe(N);
    expect(st.dropped).toBe(0);
    expect(st.batches).toBeLessThanOrEqual(N / 8); // 64 per recvmmsg when the queue is full; never one call per packet
    await c.close();
  });

  it('sends the reply written in the slot at the length returned, and nothing for a length no slot holds', async () => {
    const port = await freePort();
    const seen: { length: number; slot: number; now: number }[] = [];
    await listen(`127.0.0.1:${port}`, {
      slot: (msg, length, _client, out, now) => {
        seen.push({ length, slot: msg.length, now });
        const asked = Number(Buffer.from(msg.subarray(0, length)).toString());
        out[0] = 0x2a;
        out[1] = length;
        return asked;
      },
    });
    const c = await client('udp4');
    for (const n of ['2', '-1', 'NaN', String(addon.SLOT + 1), '1']) c.s.send(Buffer.from(n), port, '127.0.0.1');
    const got = await c.until(2);
    await new Promise((r) => setTimeout(r, 100));
    expect(got.map((r) => r.msg.toString('hex')).sort()).toEqual(['2a', '2a01']);
    expect(seen.map((s) => s.length)).toEqual([1, 2, 3, 5, 1]);
    expect(seen.every((s) => s.slot === addon.SLOT && Number.isFinite(s.now))).toBe(true);
    await c.close();
  });

  it('gives the client address as 4 or 16 octets', async () => {
    const addrs: string[] = [];
    const record = (msg: Uint8Array, from: ClientAddress) => { addrs.push(typeof from === 'string' ? from : Buffer.from(from).toString('hex')); return msg; };
    const p4 = await freePort();
    const p6 = await freePort('::1');
    await listen(`127.0.0.1:${p4}`, record);
    await listen(`[::1]:${p6}`, record);
    const c4 = await client('udp4');
    const c6 = await client('udp6');
    c4.s.send(Buffer.from('x'), p4, '127.0.0.1');
    await c4.until(1);
    c6.s.send(Buffer.from('y'), p6, '::1');
    await c6.until(1);
    expect(addrs).toEqual(['7f000001', '00000000000000000000000000000001']);
    await c4.close();
    await c6.close();
  });

  it('on a wildcard address, replies from the address the query was sent to (IP_PKTINFO)', async () => {
    const port = await freePort();
    await listen(`0.0.0.0:${port}`, echo);
    const c = await client('udp4', '127.0.0.1');
    for (const to of ['127.0.0.2', '127.0.0.3', '127.0.0.1']) c.s.send(Buffer.from(to), port, to);
    const got = await c.until(3);
    // Without IP_PKTINFO the kernel would pick 127.0.0.1 as the source of all three.
    expect(got.map((r) => [r.msg.toString(), r.from]).sort()).toEqual([['127.0.0.1', '127.0.0.1'], ['127.0.0.2', '127.0.0.2'], ['127.0.0.3', '127.0.0.3']]);
    await c.close();
  });

  it('binds one port twice only with SO_REUSEPORT, and reports a busy port as EADDRINUSE', async () => {
    const port = await freePort();
    await listen(`127.0.0.1:${port}`, echo, true);
    await listen(`127.0.0.1:${port}`, echo, true);
    const other = await freePort();
    await listen(`127.0.0.1:${other}`, echo);
    await expect(listen(`127.0.0.1:${other}`, echo)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const held = dgram.createSocket('udp4');
    const p3 = await freePort();
    await new Promise<void>((r) => held.bind(p3, '127.0.0.1', () => r()));
    await expect(listen(`127.0.0.1:${p3}`, echo, true)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    held.close();
  });

  it('keeps answering the rest of a batch when the handler throws, and reports the error', async () => {
    const port = await freePort();
    await listen(`127.0.0.1:${port}`, (msg) => { if (msg[0] === 0x21) throw new Error('boom'); return msg; });
    const c = await client('udp4');
    for (const m of ['a', '!', 'b', '!', 'c']) c.s.send(Buffer.from(m), port, '127.0.0.1');
    const got = await c.until(3);
    await new Promise((r) => setTimeout(r, 100));
    expect(got.map((r) => r.msg.toString()).sort()).toEqual(['a', 'b', 'c']);
    expect(errors.map((e) => e.message)).toEqual(['boom', 'boom']);
    await c.close();
  });

  it('survives a close from inside a batch, and frees the port', async () => {
    const port = await freePort();
    let l: Listener | null = null;
    let calls = 0;
    l = await listen(`127.0.0.1:${port}`, (msg) => { calls++; void l?.close(); return msg; });
    const c = await client('udp4');
    for (let i = 0; i < 10; i++) c.s.send(Buffer.from([i]), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    // The batch in progress is finished (its replies are not sent: the socket is closed), nothing after it is read.
    expect(calls).toBe(10);
    expect(c.replies.length).toBe(0);
    // Freed: a new socket binds the same port without SO_REUSEPORT.
    const again = await listen(`127.0.0.1:${port}`, echo);
    c.s.send(Buffer.from('again'), port, '127.0.0.1');
    expect((await c.until(1))[0].msg.toString()).toBe('again');
    expect(again.address()).toMatchObject({ address: '127.0.0.1', port, family: 'IPv4' });
    await c.close();
  });

  it('closes the socket of a worker thread that ends without closing it: the process goes on, the port is freed', async () => {
    // A DNS worker thread that is ended (a replaced worker, a shutdown) must leave no handle on its
    // loop (Node would abort the process) and no socket in the port's SO_REUSEPORT group (it would
    // swallow a share of the queries). The thread runs the built JavaScript (vitest's global setup builds dist/).
    const port = await freePort();
    const dist = (f: string) => pathToFileURL(path.join(import.meta.dirname, '../../dist/dns', f)).href;
    const w = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads');
      (async () => {
        const { resolveUdpEngine } = await import(workerData.engine);
        const { listenUdpBatch } = await import(workerData.batch);
        listenUdpBatch(resolveUdpEngine('batch').addon, { host: '127.0.0.1', port: workerData.port, family: 4 }, (msg, length, client, out) => { out.set(msg.subarray(0, length)); return length; }, () => {}, { reusePort: true });
        parentPort.postMessage('listening');
      })();`, { eval: true, workerData: { port, engine: dist('udp-engine.js'), batch: dist('udp-batch.js') } });
    await once(w, 'message');
    const c = await client('udp4');
    c.s.send(Buffer.from('thread'), port, '127.0.0.1');
    expect((await c.until(1))[0].msg.toString()).toBe('thread');
    expect(await w.terminate()).toBe(1);
    // Freed: a socket without SO_REUSEPORT binds the port, and gets every query.
    await listen(`127.0.0.1:${port}`, echo);
    for (let i = 0; i < 20; i++) c.s.send(Buffer.from(`q${i}`), port, '127.0.0.1');
    expect((await c.until(21)).length).toBe(21);
    await c.close();
  });
});
