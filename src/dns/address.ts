// The one codec for IP addresses and networks: text ↔ bytes (4 for IPv4, 16 for IPv6), used by the
// zone parser, the query path, ECS, the GeoIP reader and writer, the latency table and the ops API.
//
// Text rules, the same everywhere:
//  - IPv4 is a strict dotted quad: four decimal octets, no leading zeros (elsewhere "010" reads as octal).
//  - IPv6 is RFC 4291 §2.2 text ("::" once, a trailing dotted quad allowed), any hex case.
//  - Text a person wrote (config, CLI, ops API) may not carry a zone index ("fe80::1%eth0"); text a
//    socket reports may, and the index is dropped (it names an interface, not part of the address).
//  - Except in AAAA RDATA (which holds exactly the 16 bytes written), an IPv4-mapped IPv6 address
//    written with its dotted quad (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) is the IPv4 address: that is
//    how dual-stack sockets report IPv4 peers. Written in hex (::ffff:0:0/96, the GeoIP writer's alias
//    for the IPv4 space) it stays IPv6.
//
// Networks have ONE host-bit rule: parseNetwork always masks and says whether it had to
// (`hostBits`). Each caller decides what that means: data files (GeoIP, latency table) reject it as
// a probable typo; a query client given for explain is truncated as a resolver must truncate an ECS
// address (RFC 7871 §6). On the wire, decodeEcs rejects host bits with FORMERR (RFC 7871 §7.1.1).

/** Strict dotted quad → 4 bytes. */
export function parseIPv4(text: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  return v4Into(text, 0, text.length, out, 0) ? out : undefined;
}

/** RFC 4291 §2.2 text → exactly 16 bytes (an IPv4-mapped address stays 16 bytes); no zone index. */
export function parseIPv6(text: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  return v6Into(text, text.length, out) ? out : undefined;
}

/** Address text a person wrote → 4 or 16 bytes (IPv4-mapped → 4); null when it is not one. */
export function parseIp(text: string): Uint8Array | null {
  if (text.indexOf('%') >= 0) return null;
  return ipToBytes(text);
}

/** Address text a socket reports → 4 or 16 bytes (IPv4-mapped → 4, zone index dropped); null when not an address. */
export function ipToBytes(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  const n = ipIntoBytes(text, out);
  return n === 0 ? null : n === 4 ? out.slice(0, 4) : out;
}

/**
 * Allocation-free ipToBytes into out[0..16): returns 4, 16 or 0 (not an address). For per-query work
 * (rate limiting, cookies) where a fresh array would be garbage on every packet.
 */
/** A client address as the sockets give it (text, or 4/16 octets from the batched UDP engine) into `out`. */
export function clientIntoBytes(client: string | Uint8Array, out: Uint8Array): 0 | 4 | 16 {
  if (typeof client === 'string') return ipIntoBytes(client, out);
  if (client.length !== 4 && client.length !== 16) return 0;
  out.set(client);
  return client.length;
}

export function ipIntoBytes(text: string, out: Uint8Array): 0 | 4 | 16 {
  if (text.indexOf(':') < 0) return v4Into(text, 0, text.length, out, 0) ? 4 : 0;
  const pct = text.indexOf('%');
  const end = pct >= 0 ? pct : text.length;
  if (!v6Into(text, end, out)) return 0;
  if (!isV4Mapped(out) || text.indexOf('.') < 0) return 16;
  out.copyWithin(0, 12, 16);
  return 4;
}

/** True for ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), which regiondns treats as the IPv4 address. */
export function isV4Mapped(a: Uint8Array): boolean {
  if (a.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

/** 4 bytes → "192.0.2.1"; 16 bytes → RFC 5952 text ("2001:db8::1"). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  // Compress the longest run of two or more zero groups, the first on a tie (RFC 5952 §4.2).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

// ---------------------------------------------------------------------------------------------
// Networks

export interface IpNetwork {
  /** 4 bytes for IPv4, 16 for IPv6; host bits are zero. */
  bytes: Uint8Array;
  prefix: number;
}

export type NetworkParse =
  | { ok: true; network: IpNetwork; /** The text had bits set past the prefix; `network` has them cleared. */ hostBits: boolean }
  | { ok: false; error: string };

/**
 * Parses "193.0.0.0/16" or "2001:db8::/32"; a bare address is a host route (/32 or /128).
 * "::ffff:193.0.0.0/112" is IPv4-mapped and becomes 193.0.0.0/16, as the address does in parseIp.
 * Host bits are masked and reported (see the file comment for who rejects them).
 */
export function parseNetwork(text: string): NetworkParse {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const bytes = parseIp(addrText);
  if (bytes === null) return { ok: false, error: `"${addrText}" is not an IPv4 or IPv6 address` };
  const mapped = bytes.length === 4 && addrText.includes(':');
  const max = mapped ? 128 : bytes.length * 8;
  let prefix = bytes.length * 8;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > max || (mapped && Number(p) < 96)) {
      return { ok: false, error: `prefix length "/${p}" must be ${mapped ? 96 : 0}..${max} for ${addrText}` };
    }
    prefix = Number(p) - (mapped ? 96 : 0);
  }
  const hostBits = hasHostBits(bytes, prefix);
  if (hostBits) maskAddress(bytes, prefix);
  return { ok: true, network: { bytes, prefix }, hostBits };
}

/**
 * parseNetwork for data files (GeoIP CSV, latency table): there a network written with host bits is
 * most likely a typo for another network, so it is refused with the network that was probably meant.
 */
export function parseDataNetwork(text: string): { ok: true; network: IpNetwork } | { ok: false; error: string } {
  const r = parseNetwork(text);
  if (!r.ok) return r;
  if (r.hostBits) return { ok: false, error: `${text} has host bits set; did you mean ${formatNetwork(r.network)}?` };
  return { ok: true, network: r.network };
}

/** "193.0.0.0/16", "2001:db8::/32". */
export function formatNetwork(n: IpNetwork): string {
  return `${bytesToIp(n.bytes)}/${n.prefix}`;
}

/** True when any bit of `address` past `prefix` is set. */
export function hasHostBits(address: Uint8Array, prefix: number): boolean {
  for (let i = prefix >> 3; i < address.length; i++) {
    const keep = prefix - i * 8;
    const mask = keep <= 0 ? 0xff : 0xff >> keep;
    if ((address[i] & mask) !== 0) return true;
  }
  return false;
}

/** Bit `bit` of `bytes`, counting from the most significant bit of byte 0. */
export function bitAt(bytes: Uint8Array, bit: number): number {
  return (bytes[bit >> 3] >> (7 - (bit & 7))) & 1;
}

/** Zeroes every bit of `address` past `prefix` in place. */
export function maskAddress(address: Uint8Array, prefix: number): void {
  for (let i = 0; i < address.length; i++) {
    const keep = prefix - i * 8;
    if (keep >= 8) continue;
    address[i] = keep <= 0 ? 0 : address[i] & ((0xff << (8 - keep)) & 0xff);
  }
}

// ---------------------------------------------------------------------------------------------
// Parsers (allocation-free, validating)

function v4Into(text: string, from: number, to: number, out: Uint8Array, at: number): boolean {
  let part = 0;
  let v = 0;
  let digits = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || part === 3) return false;
      out[at + part++] = v;
      v = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3) {
      if (digits > 0 && v === 0) return false; // leading zero
      v = v * 10 + (c - 0x30);
      digits++;
      if (v > 255) return false;
    } else return false;
  }
  if (digits === 0 || part !== 3) return false;
  out[at + 3] = v;
  return true;
}

/** Parses text[0..end) as IPv6 into out[0..16). */
function v6Into(text: string, end: number, out: Uint8Array): boolean {
  if (end === 0) return false;
  out.fill(0, 0, 16);
  let g = 0; // groups written from the front
  let gap = -1; // group index where "::" stands
  let i = 0;
  if (text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    let v = 0;
    let n = 0;
    const start = i;
    while (i < end && n < 5) {
      const c = text.charCodeAt(i);
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) break;
      v = (v << 4) | d;
      n++;
      i++;
    }
    if (i < end && text.charCodeAt(i) === 0x2e) { // embedded IPv4 in the last 32 bits
      if (g > 6 || !v4Into(text, start, end, out, g * 2)) return false;
      g += 2;
      i = end;
      break;
    }
    if (n === 0 || n > 4 || g === 8) return false;
    out[g * 2] = v >> 8;
    out[g * 2 + 1] = v & 0xff;
    g++;
    if (i === end) break;
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (text.charCodeAt(i) === 0x3a && i < end) {
      if (gap >= 0) return false;
      gap = g;
      i++;
    } else if (i === end) return false;
  }
  if (gap < 0) return g === 8;
  if (g === 8) return false;
  // Move the groups after "::" to the end.
  const tail = g - gap;
  for (let k = tail - 1; k >= 0; k--) {
    const from = (gap + k) * 2;
    const to = (8 - tail + k) * 2;
    out[to] = out[from];
    out[to + 1] = out[from + 1];
  }
  for (let k = gap * 2; k < (8 - tail) * 2; k++) out[k] = 0;
  return true;
}
