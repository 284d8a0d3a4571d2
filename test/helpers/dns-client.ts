// A small DNS client for tests: builds queries with dns2 (or raw bytes), sends them over real
// UDP/TCP sockets, and decodes replies with dns2 as an independent reference decoder.
import dgram from 'node:dgram';
import net from 'node:net';
import dns2 from 'dns2';

const { Packet } = dns2 as unknown as { Packet: any };
export { Packet };

export interface QueryOptions {
  id?: number;
  edns?: boolean | { udpSize?: number; version?: number; options?: Buffer[] };
  rd?: boolean;
}

/** Query bytes; EDNS options are raw option TLVs (code, length, data). */
export function buildQuery(name: string, type: number | string, opts: QueryOptions = {}): Buffer {
  const id = opts.id ?? Math.floor(Math.random() * 65536);
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
  const qtype = typeof type === 'number' ? type : Packet.TYPE[type];
  const edns = opts.edns ? (opts.edns === true ? {} : opts.edns) : null;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(opts.rd === false ? 0 : 0x0100, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(edns ? 1 : 0, 10);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(qtype, 0);
  q.writeUInt16BE(1, 2);
  const parts = [header, qname, q];
  if (edns) {
    const rdata = Buffer.concat(edns.options ?? []);
    const opt = Buffer.alloc(11);
    opt[0] = 0; // root
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(edns.udpSize ?? 1232, 3);
    opt[5] = 0; // extended rcode
    opt[6] = edns.version ?? 0;
    opt.writeUInt16BE(0, 7);
    opt.writeUInt16BE(rdata.length, 9);
    parts.push(opt, rdata);
  }
  return Buffer.concat(parts);
}

/** ECS option TLV for an IPv4 or IPv6 subnet (RFC 7871 §6), address truncated to the prefix. */
export function ecsOption(subnet: string): Buffer {
  const [addr, prefixText] = subnet.split('/');
  const v6 = addr.includes(':');
  const prefix = Number(prefixText ?? (v6 ? 128 : 32));
  const full = v6 ? ipv6Bytes(addr) : Buffer.from(addr.split('.').map(Number));
  const addrBytes = full.subarray(0, Math.ceil(prefix / 8));
  const data = Buffer.concat([Buffer.from([0, v6 ? 2 : 1, prefix, 0]), addrBytes]);
  const tlv = Buffer.alloc(4);
  tlv.writeUInt16BE(8, 0);
  tlv.writeUInt16BE(data.length, 2);
  return Buffer.concat([tlv, data]);
}

function ipv6Bytes(addr: string): Buffer {
  const [h, t] = addr.includes('::') ? addr.split('::') : [addr, ''];
  const hs = h ? h.split(':') : [];
  const ts = t ? t.split(':') : [];
  const groups = [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export function udpExchange(port: number, msg: Buffer, host = '127.0.0.1', timeoutMs = 2000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => { s.close(); reject(new Error('UDP timeout')); }, timeoutMs);
    s.once('message', (m) => { clearTimeout(timer); s.close(); resolve(m); });
    s.send(msg, port, host);
  });
}

/** Sends nothing back within `ms`? Resolves true when no reply came. */
export function udpNoReply(port: number, msg: Buffer, ms = 300, host = '127.0.0.1'): Promise<boolean> {
  return udpExchange(port, msg, host, ms).then(() => false, () => true);
}

/** Sends several messages on one TCP connection (pipelined in one write) and collects `expect` replies. */
export function tcpExchange(port: number, msgs: Buffer[], expect = msgs.length, host = '127.0.0.1', timeoutMs = 3000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host);
    const replies: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`TCP timeout with ${replies.length}/${expect} replies`)); }, timeoutMs);
    sock.on('connect', () => {
      sock.write(Buffer.concat(msgs.map((m) => { const l = Buffer.alloc(2); l.writeUInt16BE(m.length); return Buffer.concat([l, m]); })));
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        replies.push(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
      }
      if (replies.length >= expect) { clearTimeout(timer); sock.end(); resolve(replies); }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

export function parse(buf: Buffer): any {
  return Packet.parse(buf);
}

export function rcodeOf(buf: Buffer): number {
  return buf[3] & 0x0f;
}

export function flagsOf(buf: Buffer): { qr: boolean; aa: boolean; tc: boolean; rd: boolean; rcode: number } {
  return { qr: !!(buf[2] & 0x80), aa: !!(buf[2] & 0x04), tc: !!(buf[2] & 0x02), rd: !!(buf[2] & 0x01), rcode: buf[3] & 0x0f };
}
