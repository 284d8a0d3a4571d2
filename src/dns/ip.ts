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
