// DNS cookie helpers for tests: the COOKIE option to send, and what a reply's OPT says, read with a
// small independent walker over the reply's bytes.

/** COOKIE option TLV (RFC 7873 §4) carrying `hex` (a client cookie, optionally followed by a server cookie). */
export function cookieOption(hex: string): Buffer {
  const data = Buffer.from(hex, 'hex');
  const tlv = Buffer.alloc(4);
  tlv.writeUInt16BE(10, 0);
  tlv.writeUInt16BE(data.length, 2);
  return Buffer.concat([tlv, data]);
}

function skipName(b: Buffer, p: number): number {
  for (;;) {
    const l = b[p];
    if (l === 0) return p + 1;
    if (l >= 0xc0) return p + 2;
    p += l + 1;
  }
}

export interface ReplyOpt {
  /** The full 12-bit rcode: header low 4 bits, OPT TTL high 8 (RFC 6891 §6.1.3). */
  rcode: number;
  /** COOKIE option data as hex, or null. */
  cookie: string | null;
}

/** The reply's OPT, or null when it has none. */
export function replyOpt(b: Buffer): ReplyOpt | null {
  const qd = b.readUInt16BE(4);
  const rrs = b.readUInt16BE(6) + b.readUInt16BE(8) + b.readUInt16BE(10);
  let p = 12;
  for (let i = 0; i < qd; i++) p = skipName(b, p) + 4;
  for (let i = 0; i < rrs; i++) {
    p = skipName(b, p);
    const type = b.readUInt16BE(p);
    const ttl = b.readUInt32BE(p + 4);
    const rdlen = b.readUInt16BE(p + 8);
    const rd = p + 10;
    p = rd + rdlen;
    if (type !== 41) continue;
    let cookie: string | null = null;
    for (let o = rd; o + 4 <= p; ) {
      const code = b.readUInt16BE(o);
      const len = b.readUInt16BE(o + 2);
      if (code === 10) cookie = b.subarray(o + 4, o + 4 + len).toString('hex');
      o += 4 + len;
    }
    return { rcode: ((ttl >>> 24) << 4) | (b[3] & 0x0f), cookie };
  }
  return null;
}

/** A query with no question (QDCOUNT=0) and only an OPT with a COOKIE: RFC 7873 §5.4. */
export function cookieOnlyQuery(hex: string, id = 0x1234): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(1, 10);
  const opt = cookieOption(hex);
  const rr = Buffer.alloc(11);
  rr.writeUInt16BE(41, 1);
  rr.writeUInt16BE(1232, 3);
  rr.writeUInt16BE(opt.length, 9);
  return Buffer.concat([header, rr, opt]);
}
