// slug → home region for up to millions of tenants, in three typed arrays instead of a Map of
// strings: an open-addressing hash table of (hash, record offset) pairs and an arena of records
// [slug length, region index, slug octets…]. A lookup reads one slot pair and one record, two cache
// lines, and allocates nothing: it hashes the slug where it lies in the query name. A Map of a
// million strings reads four or five scattered lines per lookup (slower than the rest of the query
// path together, measured) and holds ~100 bytes per entry; this holds ~26.
// Built once per load of the tenants file, read-only afterwards.

import type { RegionId } from '../core/region-id.js';

const EMPTY = 0;
const MAX_KEY = 255;

/** FNV-1a over the slug's characters, then the murmur3 finalizer so the low bits (the slot) spread. */
function hashOf(text: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 0;
}

export interface TenantTableParts {
  regions: RegionId[];
  slots: Int32Array;
  arena: Uint8Array;
  count: number;
}

export class TenantTable implements Iterable<[string, RegionId]> {
  /** Pairs: [hash, record offset + 1]; offset + 1 = 0 marks an empty slot. */
  private slots: Int32Array;
  private mask: number;
  private arena: Uint8Array;
  private used = 0;
  private count = 0;
  private readonly index: Map<RegionId, number>;

  /** `regions`: every region an entry may name (at most 256), indexed by position. */
  constructor(readonly regions: readonly RegionId[], expected = 16) {
    if (regions.length > 256) throw new RangeError('a tenant table holds at most 256 regions');
    this.index = new Map(regions.map((r, i) => [r, i]));
    let capacity = 16;
    while (capacity < expected * 1.5) capacity *= 2;
    this.slots = new Int32Array(capacity * 2);
    this.mask = capacity - 1;
    this.arena = new Uint8Array(Math.max(64, Math.ceil(expected * 12)));
  }

  get size(): number {
    return this.count;
  }

  /**
   * Adds text[start, end) → region; false when the slug is there already (nothing changes). The
   * slug must be ASCII of 1-255 characters (callers check the slug rules first).
   */
  add(text: string, start: number, end: number, region: RegionId): boolean {
    const len = end - start;
    const r = this.index.get(region);
    if (len <= 0 || len > MAX_KEY || r === undefined) throw new RangeError(`cannot add ${JSON.stringify(text.slice(start, end))} → ${region}`);
    const h = hashOf(text, start, end);
    let i = this.find(text, start, end, h);
    if (i >= 0) return false;
    if ((this.count + 1) * 2 > this.mask + 1) {
      this.grow();
      i = this.find(text, start, end, h);
    }
    if (this.used + len + 2 > this.arena.length) {
      const bigger = new Uint8Array(Math.max(this.arena.length * 2, this.used + len + 2));
      bigger.set(this.arena.subarray(0, this.used));
      this.arena = bigger;
    }
    const o = this.used;
    this.arena[o] = len;
    this.arena[o + 1] = r;
    for (let j = 0; j < len; j++) this.arena[o + 2 + j] = text.charCodeAt(start + j);
    this.used += len + 2;
    const slot = ~i; // find() returns ~(empty slot) on a miss
    this.slots[2 * slot] = h;
    this.slots[2 * slot + 1] = o + 1;
    this.count++;
    return true;
  }

  /** The region of the slug text[start, end) (e.g. a label of a query name), or null. */
  getIn(text: string, start: number, end: number): RegionId | null {
    const len = end - start;
    if (len <= 0 || len > MAX_KEY) return null;
    const i = this.find(text, start, end, hashOf(text, start, end));
    return i < 0 ? null : this.regions[this.arena[this.slots[2 * i + 1]]];
  }

  get(slug: string): RegionId | null {
    return this.getIn(slug, 0, slug.length);
  }

  /** The slug text[start, end)'s place in the order entries were added, or -1. Walks the records: for the rare caller. */
  indexOf(text: string, start: number, end: number): number {
    const len = end - start;
    if (len <= 0 || len > MAX_KEY) return -1;
    const i = this.find(text, start, end, hashOf(text, start, end));
    if (i < 0) return -1;
    const record = this.slots[2 * i + 1] - 1;
    let n = 0;
    for (let o = 0; o < record; o += this.arena[o] + 2) n++;
    return n;
  }

  *entries(): IterableIterator<[string, RegionId]> {
    // Slugs are ASCII: one latin1 slice each (a million-tenant import walks the table several times).
    const text = Buffer.from(this.arena.buffer, this.arena.byteOffset, this.used);
    for (let o = 0; o < this.used; o += this.arena[o] + 2) yield [text.toString('latin1', o + 2, o + 2 + this.arena[o]), this.regions[this.arena[o + 1]]];
  }

  [Symbol.iterator](): IterableIterator<[string, RegionId]> {
    return this.entries();
  }

  /** The table as typed arrays and plain values, to cross a thread boundary (structured clone copies them flat). */
  toParts(): TenantTableParts {
    return { regions: [...this.regions], slots: this.slots, arena: this.arena.subarray(0, this.used), count: this.count };
  }

  /** The table toParts() described, without re-hashing a slug. */
  static fromParts(p: TenantTableParts): TenantTable {
    const t = new TenantTable(p.regions);
    t.slots = p.slots;
    t.mask = p.slots.length / 2 - 1;
    t.arena = p.arena;
    t.used = p.arena.length;
    t.count = p.count;
    return t;
  }

  /** The slot holding the slug, or ~slot of the empty slot where it would go. */
  private find(text: string, start: number, end: number, h: number): number {
    const len = end - start;
    const { slots, mask, arena } = this;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const off = slots[2 * i + 1];
      if (off === EMPTY) return ~i;
      if (slots[2 * i] !== h) continue;
      const o = off - 1;
      if (arena[o] !== len) continue;
      let j = 0;
      while (j < len && arena[o + 2 + j] === text.charCodeAt(start + j)) j++;
      if (j === len) return i;
    }
  }

  private grow(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    this.slots = new Int32Array(capacity * 2);
    this.mask = capacity - 1;
    for (let k = 0; k < old.length; k += 2) {
      if (old[k + 1] === EMPTY) continue;
      let i = old[k] & this.mask;
      while (this.slots[2 * i + 1] !== EMPTY) i = (i + 1) & this.mask;
      this.slots[2 * i] = old[k];
      this.slots[2 * i + 1] = old[k + 1];
    }
  }
}

/** No tenants file. */
/** The tenant map from the `tenants.source` file: slug → home region. One per server. */
export interface TenantFile {
  entries: TenantTable;
  /** The file as named in errors, or null when no hostname names one. */
  file: string | null;
}

export const NO_TENANT_FILE: TenantFile = Object.freeze({ entries: new TenantTable([]), file: null });
