// Domain names in presentation form (RFC 1035 §5.1) and wire form (RFC 1035 §3.1).
// Canonical names in regiondns are lower case, absolute, with a trailing dot; a dot or backslash
// inside a label keeps its backslash escape, any other byte outside 0x21-0x7e is written \DDD.

export const MAX_NAME_WIRE = 255;
export const MAX_LABEL = 63;

/** Splits a presentation-form name into raw label bytes. Throws with a user-facing message. */
export function nameToLabels(name: string): Uint8Array[] {
  if (name === '.' ) return [];
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let i = 0;
  const n = name.length;
  while (i < n) {
    const c = name.charCodeAt(i);
    if (c === 0x2e /* . */) {
      if (cur.length === 0) throw new Error(`empty label in name "${name}"`);
      labels.push(Uint8Array.from(cur));
      cur = [];
      i++;
      if (i === n) return checkLength(labels, name);
      continue;
    }
    if (c === 0x5c /* \ */) {
      const d = name.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) throw new Error(`escape \\${d} out of range in name "${name}"`);
        cur.push(v);
        i += 4;
      } else if (i + 1 < n) {
        cur.push(name.charCodeAt(i + 1) & 0xff);
        i += 2;
      } else {
        throw new Error(`dangling backslash in name "${name}"`);
      }
    } else {
      if (c > 0x7e) throw new Error(`non-ASCII character in name "${name}" (use punycode or \\DDD escapes)`);
      cur.push(c);
      i++;
    }
    if (cur.length > MAX_LABEL) throw new Error(`label longer than ${MAX_LABEL} octets in name "${name}"`);
  }
  if (cur.length) labels.push(Uint8Array.from(cur));
  return checkLength(labels, name);
}

function checkLength(labels: Uint8Array[], name: string): Uint8Array[] {
  let len = 1;
  for (const l of labels) len += l.length + 1;
  if (len > MAX_NAME_WIRE) throw new Error(`name "${name}" is longer than ${MAX_NAME_WIRE} octets in wire form`);
  return labels;
}

/** Presentation-form label from raw bytes, lower-cased (names compare case-insensitively, RFC 4343). */
export function labelToText(bytes: Uint8Array, lower = true): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    let b = bytes[i];
    if (lower && b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b === 0x2e || b === 0x5c) s += '\\' + String.fromCharCode(b);
    else if (b > 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += '\\' + String(b).padStart(3, '0');
  }
  return s;
}

/** Canonical form of a presentation-form absolute name: lower case, trailing dot. */
export function canonicalName(name: string): string {
  const labels = nameToLabels(name.endsWith('.') ? name : name + '.');
  if (labels.length === 0) return '.';
  return labels.map((l) => labelToText(l)).join('.') + '.';
}

/**
 * Uncompressed wire form of an absolute presentation-form name. The common case (printable ASCII, no
 * escapes, trailing dot) is one pass with one allocation: "a.bc." → 1 a 2 b c 0, the text's length
 * plus one. Anything else goes through nameToLabels, which also explains what is wrong.
 */
export function nameToWire(name: string): Uint8Array {
  const n = name.length;
  if (n === 1 && name === '.') return new Uint8Array(1);
  if (n + 1 <= MAX_NAME_WIRE && n > 1 && name.charCodeAt(n - 1) === 0x2e) {
    const out = new Uint8Array(n + 1);
    let lenAt = 0;
    let i = 0;
    for (; i < n; i++) {
      const c = name.charCodeAt(i);
      if (c === 0x2e) {
        const len = i - lenAt;
        if (len === 0 || len > MAX_LABEL) break;
        out[lenAt] = len;
        lenAt = i + 1;
      } else if (c <= 0x20 || c > 0x7e || c === 0x5c) break;
      else out[i + 1] = c;
    }
    if (i === n) return out; // out[n] is the root label's 0
  }
  return slowNameToWire(name);
}

function slowNameToWire(name: string): Uint8Array {
  const labels = nameToLabels(name);
  let len = 1;
  for (const l of labels) len += l.length + 1;
  const out = new Uint8Array(len);
  let o = 0;
  for (const l of labels) {
    out[o++] = l.length;
    out.set(l, o);
    o += l.length;
  }
  out[o] = 0;
  return out;
}

/** True when `name` equals `zone` or lies below it (both canonical). */
export function isSubdomain(name: string, zone: string): boolean {
  if (zone === '.') return true;
  if (name.length === zone.length) return name === zone;
  return name.length > zone.length && name.endsWith(zone) && name.charCodeAt(name.length - zone.length - 1) === 0x2e
    && !isEscapedDot(name, name.length - zone.length - 1);
}

/** True when the dot at `dotIndex` is part of a label (escaped by an odd number of backslashes). */
export function isEscapedDot(name: string, dotIndex: number): boolean {
  let k = dotIndex - 1;
  let backslashes = 0;
  while (k >= 0 && name.charCodeAt(k) === 0x5c) { backslashes++; k--; }
  return backslashes % 2 === 1;
}

/** The canonical parent of a canonical name ("a.b." → "b.", "b." → "."). */
export function parentName(name: string): string {
  if (name === '.') return '.';
  for (let i = 0; i < name.length - 1; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5c) { i++; continue; }
    if (c === 0x2e) return name.slice(i + 1);
  }
  return '.';
}

/** Number of labels in a canonical name (root has 0). */
export function labelCount(name: string): number {
  if (name === '.') return 0;
  let n = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5c) { i++; continue; }
    if (c === 0x2e) n++;
  }
  return n;
}
