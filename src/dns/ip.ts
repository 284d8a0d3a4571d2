// IP addresses as bytes, for client addresses on the query path (no allocation beyond the result).

import { isIPv4, isIPv6 } from 'node:net';

/** 4 bytes for IPv4 (also for IPv4-mapped IPv6 "::ffff:a.b.c.d" from dual-stack sockets), 16 for IPv6. */
export function ipToBytes(text: string): Uint8Array | null {
  if (text.startsWith('::ffff:') && text.indexOf('.') > 0) text = text.slice(7);
  if (isIPv4(text)) return ipv4ToBytes(text);
  if (isIPv6(text)) return ipv6ToBytes(text);
  return null;
}

function ipv4ToBytes(text: string): Uint8Array {
  const out = new Uint8Array(4);
  let part = 0;
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) { out[part++] = v; v = 0; } else v = v * 10 + (c - 0x30);
  }
  out[part] = v;
  return out;
}

function ipv6ToBytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let head = text;
  let tail = '';
  const dbl = text.indexOf('::');
  if (dbl >= 0) { head = text.slice(0, dbl); tail = text.slice(dbl + 2); }
  const groups = (s: string): number[] => {
    if (s === '') return [];
    const res: number[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const v4 = ipv4ToBytes(g);
        res.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else res.push(parseInt(g, 16));
    }
    return res;
  };
  const h = groups(head);
  const t = groups(tail);
  h.forEach((g, i) => { out[i * 2] = g >> 8; out[i * 2 + 1] = g & 0xff; });
  const start = 8 - t.length;
  t.forEach((g, i) => { out[(start + i) * 2] = g >> 8; out[(start + i) * 2 + 1] = g & 0xff; });
  return out;
}

export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  // Compress the longest run of zero groups (RFC 5952 §4.2).
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

/**
 * Allocation-free parse of an address as a socket reports it into out[0..16): returns 4 (IPv4, also
 * for an IPv4-mapped "::ffff:a.b.c.d"), 16 (IPv6) or 0 (not an address). For per-query work (rate
 * limiting, cookies) where ipToBytes' fresh array and string slices would be garbage on every packet.
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
  if (text.length > 7 && text.startsWith('::ffff:') && text.indexOf('.') > 0) return v4Into(text, 7, text.length, out, 0) ? 4 : 0;
  return v6Into(text, out) ? 16 : 0;
}

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
      v = v * 10 + (c - 0x30);
      digits++;
      if (v > 255) return false;
    } else return false;
  }
  if (digits === 0 || part !== 3) return false;
  out[at + 3] = v;
  return true;
}

function v6Into(text: string, out: Uint8Array): boolean {
  out.fill(0, 0, 16);
  const end = text.indexOf('%') >= 0 ? text.indexOf('%') : text.length; // a zone index ("fe80::1%eth0") is not part of the address
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
    if (text.charCodeAt(i) === 0x3a) {
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
