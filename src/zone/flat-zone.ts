// A zone in a few typed arrays instead of millions of objects. The reload process builds it from the
// parsed records (names, empty non-terminals, wildcards, RRsets grouped as buildZone groups them);
// the arrays reach the serving process as one file (src/server/reload/flat-file.ts) and are put in force as they are.
// So a reload of a million records costs the serving thread no build and its collector no new
// objects; a node becomes objects only when a query first reaches it, like TenantTable's layout.
//
// Layout: names and rdata names are UTF-16 code units in `chars`; per node [nameOff, nameLen,
// firstRecord, recordCount] in `node` and the wildcard child in `wildcard`; per record [type << 16 |
// class, ttl, rdataOff, rdataLen, targetOff, targetLen] in `rec`, grouped by node, then by type in
// the order the types first appear; `slots`: an open-addressing hash table of node index + 1.

import { RRType } from '../dns/constants.js';
import { isSubdomain, parentName } from '../dns/name.js';
import type { WireRR } from '../dns/types.js';
import type { ZoneRecord } from './masterfile.js';
import { addQuestionOwned, ZoneRR, type NodeIndex, type RRSet, type Zone, type ZoneNode } from './tree.js';

const NODE = 4;
const REC = 6;
const NO_TARGET = 0xffffffff;

export interface FlatZoneData {
  origin: string;
  file: string;
  recordCount: number;
  hasCuts: boolean;
  hasWildcards: boolean;
  /** Index in `rec` of the apex SOA, and its MINIMUM field (RFC 2308). */
  soaRecord: number;
  soaMinimum: number;
  chars: Uint16Array;
  node: Uint32Array;
  wildcard: Int32Array;
  slots: Int32Array;
  rec: Uint32Array;
  rdata: Uint8Array;
}

/** FNV-1a over the UTF-16 code units, then the murmur3 finalizer so the low bits (the slot) spread. */
function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 0;
}

/** The buffers to list in postMessage's transfer list. */
export function flatZoneBuffers(d: FlatZoneData): ArrayBuffer[] {
  return [d.chars, d.node, d.wildcard, d.slots, d.rec, d.rdata].map((a) => a.buffer as ArrayBuffer);
}

/**
 * Builds the flat form of a validated zone (the reload process does this). `extraNames` are the
 * steered names, which exist without static data, as in buildZone.
 */
export function encodeFlatZone(origin: string, file: string, records: readonly ZoneRecord[], extraNames: Iterable<string> = []): FlatZoneData {
  const index = new Map<string, number>();
  const names: string[] = [];
  const wild: number[] = [];
  const nodeFor = (name: string): number => {
    let i = index.get(name);
    if (i === undefined) {
      i = names.length;
      index.set(name, i);
      names.push(name);
      wild.push(-1);
      // Every ancestor up to the apex exists, if only as an empty non-terminal (RFC 4592 §2.2.2).
      if (name !== origin) {
        const parent = nodeFor(parentName(name));
        if (name.startsWith('*.')) wild[parent] = i;
      }
    }
    return i;
  };
  nodeFor(origin);
  const R = records.length;
  const recNode = new Int32Array(R);
  let hasCuts = false;
  let hasWildcards = false;
  let soaAt = -1;
  let soaMinimum = 0;
  let targetChars = 0;
  for (let i = 0; i < R; i++) {
    const r = records[i];
    recNode[i] = nodeFor(r.owner);
    if (r.type === RRType.SOA && r.owner === origin) { soaAt = i; soaMinimum = r.soaMinimum ?? r.ttl; }
    if (r.type === RRType.NS && r.owner !== origin) hasCuts = true;
    if (r.owner.startsWith('*.')) hasWildcards = true;
    if (r.target !== undefined) targetChars += r.target.length;
  }
  for (const name of extraNames) {
    if (!isSubdomain(name, origin)) continue;
    nodeFor(name);
    if (name.startsWith('*.')) hasWildcards = true; // a steered wildcard (tenant subdomains)
  }
  if (soaAt < 0) throw new Error(`zone ${origin} has no SOA at the apex`);
  const N = names.length;

  // Names first, then targets as records are written.
  let nameChars = 0;
  for (const n of names) nameChars += n.length;
  const chars = new Uint16Array(nameChars + targetChars);
  let c = 0;
  const put = (s: string): number => {
    const at = c;
    for (let j = 0; j < s.length; j++) chars[c++] = s.charCodeAt(j);
    return at;
  };
  const node = new Uint32Array(N * NODE);
  for (let n = 0; n < N; n++) {
    node[n * NODE] = put(names[n]);
    node[n * NODE + 1] = names[n].length;
  }

  // Records by node (a counting sort keeps their order), then by type within a node.
  const start = new Uint32Array(N + 1);
  for (let i = 0; i < R; i++) start[recNode[i] + 1]++;
  for (let n = 0; n < N; n++) start[n + 1] += start[n];
  const order = new Int32Array(R);
  const fill = start.slice(0, N);
  for (let i = 0; i < R; i++) order[fill[recNode[i]]++] = i;

  let rdataBytes = 0;
  for (const r of records) rdataBytes += r.rdata.length;
  const rdata = new Uint8Array(rdataBytes);
  const rec = new Uint32Array(R * REC);
  let k = 0;
  let roff = 0;
  let soaRecord = -1;
  const emit = (i: number) => {
    const r = records[i];
    const m = k * REC;
    rec[m] = ((r.type << 16) | r.klass) >>> 0;
    rec[m + 1] = r.ttl;
    rec[m + 2] = roff;
    rec[m + 3] = r.rdata.length;
    rdata.set(r.rdata, roff);
    roff += r.rdata.length;
    if (r.target !== undefined) { rec[m + 4] = put(r.target); rec[m + 5] = r.target.length; } else { rec[m + 4] = NO_TARGET; }
    if (i === soaAt) soaRecord = k;
    k++;
  };
  for (let n = 0; n < N; n++) {
    const a = start[n];
    const b = start[n + 1];
    node[n * NODE + 2] = k;
    node[n * NODE + 3] = b - a;
    if (b - a === 1) { emit(order[a]); continue; }
    const types: number[] = [];
    for (let j = a; j < b; j++) { const t = records[order[j]].type; if (!types.includes(t)) types.push(t); }
    for (const t of types) for (let j = a; j < b; j++) if (records[order[j]].type === t) emit(order[j]);
  }

  let cap = 16;
  while (cap < N * 2) cap *= 2;
  const slots = new Int32Array(cap);
  for (let n = 0; n < N; n++) {
    let s = hashOf(names[n]) & (cap - 1);
    while (slots[s] !== 0) s = (s + 1) & (cap - 1);
    slots[s] = n + 1;
  }
  return { origin, file, recordCount: R, hasCuts, hasWildcards, soaRecord, soaMinimum, chars, node, wildcard: Int32Array.from(wild), slots, rec, rdata };
}

/**
 * The nodes of a flat zone. Contract: a node is made (its RRsets as objects) the first time a
 * query reaches it and kept for the life of this snapshot's zone; nothing else changes.
 */
export class FlatNodes implements NodeIndex {
  private readonly made = new Map<number, ZoneNode>();

  constructor(private readonly d: FlatZoneData) {}

  /**
   * Derived data, safe to fill: the name asked last and what it found. Queries come in runs of one
   * name, so a repeat skips the hash, the probe and the compare (hashOf and find were 2.8% of a
   * worker's samples under ECS load, --cpu-prof).
   */
  private lastName: string | null = null;
  private lastFound: ZoneNode | undefined;

  get(name: string): ZoneNode | undefined {
    if (name === this.lastName) return this.lastFound;
    const i = this.find(name);
    const found = i < 0 ? undefined : this.node(i, name);
    this.lastName = name;
    this.lastFound = found;
    return found;
  }

  /** The node index of `name`, or -1. Allocates nothing. */
  private find(name: string): number {
    const { slots, node, chars } = this.d;
    const mask = slots.length - 1;
    const len = name.length;
    for (let s = hashOf(name) & mask; ; s = (s + 1) & mask) {
      const v = slots[s];
      if (v === 0) return -1;
      const n = v - 1;
      if (node[n * NODE + 1] !== len) continue;
      const off = node[n * NODE];
      let j = 0;
      while (j < len && chars[off + j] === name.charCodeAt(j)) j++;
      if (j === len) return n;
    }
  }

  private text(off: number, len: number): string {
    let s = '';
    for (let j = 0; j < len; j++) s += String.fromCharCode(this.d.chars[off + j]);
    return s;
  }

  private node(n: number, name?: string): ZoneNode {
    let made = this.made.get(n);
    if (made) return made;
    const { node, rec, wildcard } = this.d;
    const owner = name ?? this.text(node[n * NODE], node[n * NODE + 1]);
    const rrsets = new Map<number, RRSet>();
    const first = node[n * NODE + 2];
    const end = first + node[n * NODE + 3];
    for (let k = first; k < end; k++) {
      const rr = this.record(k, owner);
      let set = rrsets.get(rr.type);
      if (!set) { set = { type: rr.type, ttl: rr.ttl, records: [], targets: [] }; rrsets.set(rr.type, set); }
      set.records.push(rr);
      if (rec[k * REC + 4] !== NO_TARGET) set.targets.push(this.text(rec[k * REC + 4], rec[k * REC + 5]));
    }
    made = { name: owner, rrsets };
    addQuestionOwned(made);
    this.made.set(n, made);
    if (wildcard[n] >= 0) made.wildcard = this.node(wildcard[n]);
    return made;
  }

  record(k: number, owner: string): WireRR {
    const { rec, rdata } = this.d;
    const m = k * REC;
    return new ZoneRR(owner, rec[m] >>> 16, rec[m] & 0xffff, rec[m + 1], rdata.subarray(rec[m + 2], rec[m + 2] + rec[m + 3]));
  }
}

/** The Zone a FlatZoneData describes: O(1) work, the apex SOA made now. */
export function flatZone(d: FlatZoneData): Zone {
  const nodes = new FlatNodes(d);
  const soa = nodes.record(d.soaRecord, d.origin);
  // A new record, not a spread: a spread would drop ZoneRR's ownerWire getter.
  const negativeSoa: WireRR = new ZoneRR(soa.owner, soa.type, soa.klass, Math.min(soa.ttl, d.soaMinimum), soa.rdata);
  return { origin: d.origin, file: d.file, nodes, soa, negativeSoa, hasCuts: d.hasCuts, hasWildcards: d.hasWildcards, recordCount: d.recordCount };
}
