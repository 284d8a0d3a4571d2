// A parsed zone as three flat arrays, so it crosses from the reload thread to the serving thread
// by transfer (no copy, no per-record structured clone, which costs more than parsing), and is
// decoded there a slice at a time into a ZoneBuilder. rdata stays in one buffer: records view it.

import type { LoadedZone } from '../../zone/load.js';
import type { ZoneBuilder } from '../../zone/tree.js';

/** Fields per record in `meta`. */
const F = 9;
const NONE = 0xffffffff;
// meta per record: ownerOff, ownerLen, type << 16 | class, ttl, rdataOff, rdataLen, targetOff (NONE: no target), targetLen, soaMinimum

export interface EncodedZone {
  count: number;
  meta: Uint32Array;
  /** Flags per record: bit 0 = has an SOA minimum. */
  flags: Uint8Array;
  strings: Uint8Array;
  rdata: Uint8Array;
}

class Grow {
  buf = Buffer.allocUnsafe(1 << 16);
  used = 0;
  reserve(n: number): void {
    if (this.used + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + n));
    this.buf.copy(bigger, 0, 0, this.used);
    this.buf = bigger;
  }
  /** Writes `s` as UTF-8; returns its offset (the length is `used - offset`). */
  text(s: string): number {
    this.reserve(s.length * 3);
    const at = this.used;
    this.used += this.buf.write(s, at, 'utf8');
    return at;
  }
  bytes(b: Uint8Array): number {
    this.reserve(b.length);
    const at = this.used;
    this.buf.set(b, at);
    this.used += b.length;
    return at;
  }
  /** A copy of the used part in its own ArrayBuffer, so it can be transferred alone. */
  done(): Uint8Array {
    const out = new Uint8Array(this.used);
    out.set(this.buf.subarray(0, this.used));
    return out;
  }
}

export function encodeZone(z: LoadedZone): EncodedZone {
  const n = z.records.length;
  const meta = new Uint32Array(n * F);
  const flags = new Uint8Array(n);
  const strings = new Grow();
  const rdata = new Grow();
  let lastOwner = '';
  let lastOff = 0;
  let lastLen = 0;
  for (let i = 0; i < n; i++) {
    const r = z.records[i];
    const m = i * F;
    if (i === 0 || r.owner !== lastOwner) {
      // Records of one owner come together: write the owner once, decode it once.
      lastOff = strings.text(r.owner);
      lastLen = strings.used - lastOff;
      lastOwner = r.owner;
    }
    meta[m] = lastOff;
    meta[m + 1] = lastLen;
    meta[m + 2] = ((r.type << 16) | r.klass) >>> 0;
    meta[m + 3] = r.ttl;
    meta[m + 4] = rdata.bytes(r.rdata);
    meta[m + 5] = r.rdata.length;
    if (r.target !== undefined) {
      meta[m + 6] = strings.text(r.target);
      meta[m + 7] = strings.used - meta[m + 6];
    } else {
      meta[m + 6] = NONE;
    }
    if (r.soaMinimum !== undefined) {
      meta[m + 8] = r.soaMinimum;
      flags[i] = 1;
    }
  }
  return { count: n, meta, flags, strings: strings.done(), rdata: rdata.done() };
}

/** The buffers to list in postMessage's transfer list. */
export function transferables(e: EncodedZone): ArrayBuffer[] {
  return [e.meta.buffer, e.flags.buffer, e.strings.buffer, e.rdata.buffer] as ArrayBuffer[];
}

/** Decodes an EncodedZone into a builder, `step()` by `step()`, so the caller can yield between slices. */
export class ZoneDecoder {
  private i = 0;
  private readonly strings: Buffer;
  private lastOff = NONE;
  private lastOwner = '';

  constructor(private readonly e: EncodedZone, private readonly into: ZoneBuilder) {
    this.strings = Buffer.from(e.strings.buffer, e.strings.byteOffset, e.strings.length);
  }

  /** Adds up to `n` records; true when every record is in. */
  step(n: number): boolean {
    const { meta, flags, rdata, count } = this.e;
    const end = Math.min(count, this.i + n);
    for (let i = this.i; i < end; i++) {
      const m = i * F;
      const ownerOff = meta[m];
      if (ownerOff !== this.lastOff) {
        this.lastOwner = this.strings.toString('utf8', ownerOff, ownerOff + meta[m + 1]);
        this.lastOff = ownerOff;
      }
      const tc = meta[m + 2];
      const rOff = meta[m + 4];
      const tOff = meta[m + 6];
      this.into.add(
        this.lastOwner, tc >>> 16, tc & 0xffff, meta[m + 3],
        rdata.subarray(rOff, rOff + meta[m + 5]),
        tOff === NONE ? undefined : this.strings.toString('utf8', tOff, tOff + meta[m + 7]),
        flags[i] === 1 ? meta[m + 8] : undefined,
      );
    }
    this.i = end;
    return end >= count;
  }
}
