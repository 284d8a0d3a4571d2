// A DNS query on the wire, for the bench scripts: header, one question (class IN) and, when options
// are given, an OPT record (RFC 6891 §6.1.2) carrying them, e.g. ECS (code 8, RFC 7871 §6).

/**
 * `options`: [{ code, value }] with value as bytes; null for a query without EDNS. `flags` is the
 * header's second word (0x0100: RD).
 */
export function encodeQuery({ id = 0, flags = 0, name, type = 1, options = null, udpSize = 1232 }) {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4); // QDCOUNT
  const question = Buffer.alloc(4);
  question.writeUInt16BE(type, 0);
  question.writeUInt16BE(1, 2); // IN
  if (options === null) return Buffer.concat([header, qname, question]);
  header.writeUInt16BE(1, 10); // ARCOUNT
  const rdata = Buffer.concat(options.map((o) => {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(o.code, 0);
    h.writeUInt16BE(o.value.length, 2);
    return Buffer.concat([h, Buffer.from(o.value)]);
  }));
  const opt = Buffer.alloc(11);
  opt.writeUInt8(0, 0); // root name
  opt.writeUInt16BE(41, 1); // OPT
  opt.writeUInt16BE(udpSize, 3);
  opt.writeUInt32BE(0, 5); // extended rcode, version, flags
  opt.writeUInt16BE(rdata.length, 9);
  return Buffer.concat([header, qname, question, opt, rdata]);
}

/** The ECS option (code 8) for an IPv4 client subnet: family 1, `prefix` bits of `octets`, scope 0. */
export function ecsV4(octets, prefix) {
  return { code: 8, value: Buffer.from([0, 1, prefix, 0, ...octets.slice(0, Math.ceil(prefix / 8))]) };
}
