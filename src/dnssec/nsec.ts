// NSEC records made on the fly (RFC 4034 §4). regiondns answers online, so it never walks a sorted
// zone: every NSEC is about the one name asked, which also means the zone cannot be enumerated.
//
// Denial is compact denial of existence (RFC 9824): a name that does not exist is answered NOERROR
// with an NSEC at the name itself whose next name is `\000.<name>` (its immediate successor) and whose
// types are RRSIG, NSEC and NXNAME; NODATA is the same NSEC listing the types the name has. Chosen over
// RFC 4470 minimally covering NSEC because one NSEC and one signature answer both cases (RFC 4470
// needs up to three for NXDOMAIN: qname, closest encloser, wildcard), the signatures can be cached per
// name and type set, and responses stay small. The one place a covering NSEC is still needed is a
// wildcard expansion, which must prove the name asked does not exist (RFC 4035 §5.3.4): there the NSEC
// spans just the next closer name and its descendants (RFC 4470 §3 style epsilon names).

import { labelToText } from '../dns/name.js';

export const NSEC = 47;
export const RRSIG = 46;
export const DNSKEY = 48;
export const DS = 43;
export const CDS = 59;
export const CDNSKEY = 60;
/** RFC 9824: a pseudo-type in the bitmap meaning "this name does not exist". */
export const NXNAME = 128;

/** Type bit maps (RFC 4034 §4.1.2): windows of up to 32 octets, types sorted. */
export function typeBitmap(types: Iterable<number>): Uint8Array {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  const out: number[] = [];
  let i = 0;
  while (i < sorted.length) {
    const win = sorted[i] >> 8;
    const bits = new Uint8Array(32);
    let len = 0;
    for (; i < sorted.length && sorted[i] >> 8 === win; i++) {
      const low = sorted[i] & 0xff;
      bits[low >> 3] |= 0x80 >> (low & 7);
      len = (low >> 3) + 1;
    }
    out.push(win, len, ...bits.subarray(0, len));
  }
  return Uint8Array.from(out);
}

/** NSEC rdata: next owner name (uncompressed, RFC 4034 §4.1.1) and the bitmap. */
export function nsecRdata(nextWire: Uint8Array, bitmap: Uint8Array): Uint8Array {
  const out = new Uint8Array(nextWire.length + bitmap.length);
  out.set(nextWire, 0);
  out.set(bitmap, nextWire.length);
  return out;
}

/** `\000.<name>`: the immediate successor of `name` in canonical order (RFC 9824); null if too long. */
export function successorWire(nameWire: Uint8Array): Uint8Array | null {
  if (nameWire.length + 2 > 255) return null;
  const out = new Uint8Array(nameWire.length + 2);
  out[0] = 1;
  out[1] = 0;
  out.set(nameWire, 2);
  return out;
}

/**
 * A name just after every descendant of `name`: the leftmost label with a zero octet appended
 * (`b.example.` → `b\000.example.`). With {@link predecessorWire}, an NSEC from before `name` to this
 * covers `name` and every name below it, and (in canonical order) nothing else of note.
 */
export function afterSubtreeWire(nameWire: Uint8Array): Uint8Array | null {
  const l = nameWire[0];
  if (l === 0 || l >= 63 || nameWire.length + 1 > 255) return null;
  const out = new Uint8Array(nameWire.length + 1);
  out[0] = l + 1;
  out.set(nameWire.subarray(1, 1 + l), 1);
  out[1 + l] = 0;
  out.set(nameWire.subarray(1 + l), 2 + l);
  return out;
}

/**
 * A name shortly before `name` in canonical order (RFC 4034 §6.1): the leftmost label with its last
 * octet decremented and padded with \255 up to 63 octets (within the 255-octet name limit); a label
 * ending in \000 loses that octet. Null when the label is a lone \000 (its predecessor is the parent).
 */
export function predecessorWire(nameWire: Uint8Array): Uint8Array | null {
  const l = nameWire[0];
  if (l === 0) return null;
  const rest = nameWire.subarray(1 + l);
  const label = Array.from(nameWire.subarray(1, 1 + l));
  const last = label[l - 1];
  if (last === 0) {
    if (l === 1) return null;
    label.pop();
  } else {
    let dec = last - 1;
    // Upper-case letters sort as lower case (RFC 4034 §6.1): step below 'A' instead.
    if (dec >= 0x41 && dec <= 0x5a) dec = 0x40;
    label[l - 1] = dec;
    const room = Math.min(63, 255 - rest.length - 1);
    while (label.length < room) label.push(0xff);
  }
  const out = new Uint8Array(1 + label.length + rest.length);
  out[0] = label.length;
  out.set(label, 1);
  out.set(rest, 1 + label.length);
  return out;
}

/** Presentation (canonical) text of a wire name without compression. */
export function wireToName(wire: Uint8Array): string {
  let s = '';
  let p = 0;
  while (p < wire.length && wire[p] !== 0) {
    const l = wire[p];
    s += labelToText(wire.subarray(p + 1, p + 1 + l)) + '.';
    p += l + 1;
  }
  return s === '' ? '.' : s;
}
