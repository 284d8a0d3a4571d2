// The store kit: the pieces every FleetStore shares, so each applies a change exactly as the others
// do: change normalisation, copy-on-write namespace views (OverrideMap) and the event hub.

import type { Logger } from 'pino';
import { NAMESPACES, type Change, type Namespace, type StoreEvent } from './fleet-store.js';

const BUCKETS = 1024;

function bucketOf(key: string): number {
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) & (BUCKETS - 1);
}

/**
 * An immutable map of one namespace. An update copies only the buckets it touches: changing one
 * tenant among a million copies about a thousand entries, not a million (a full copy stalls the
 * event loop, and with it the DNS answers, for most of a second). A map handed out by get() never
 * changes, so a snapshot built from it stays consistent. Iteration is in bucket order.
 */
export class OverrideMap implements ReadonlyMap<string, unknown> {
  static readonly EMPTY = new OverrideMap(new Array<undefined>(BUCKETS).fill(undefined), 0);

  private constructor(
    private readonly buckets: readonly (ReadonlyMap<string, unknown> | undefined)[],
    readonly size: number,
  ) {}

  static from(entries: Iterable<readonly [string, unknown]>): OverrideMap {
    const changes: { key: string; value: unknown }[] = [];
    for (const [key, value] of entries) changes.push({ key, value });
    return OverrideMap.EMPTY.with(changes);
  }

  /** A new map with the changes applied in order (value null or undefined deletes). */
  with(changes: Iterable<{ key: string; value: unknown }>): OverrideMap {
    const buckets = this.buckets.slice();
    const copied = new Uint8Array(BUCKETS);
    let size = this.size;
    for (const { key, value } of changes) {
      const i = bucketOf(key);
      if (!copied[i]) {
        buckets[i] = new Map(buckets[i]);
        copied[i] = 1;
      }
      const b = buckets[i] as Map<string, unknown>;
      const had = b.has(key);
      if (value === null || value === undefined) {
        if (had) size--;
        b.delete(key);
      } else {
        if (!had) size++;
        b.set(key, value);
      }
    }
    return new OverrideMap(buckets, size);
  }

  get(key: string): unknown {
    return this.buckets[bucketOf(key)]?.get(key);
  }

  /**
   * The keys whose value differs from `prev` (value undefined: removed), e.g. to send another process
   * only what changed. Buckets shared with `prev` are skipped: after one change this reads one bucket.
   */
  changesSince(prev: OverrideMap, same: (a: unknown, b: unknown) => boolean = Object.is): { key: string; value: unknown }[] {
    const out: { key: string; value: unknown }[] = [];
    for (let i = 0; i < BUCKETS; i++) {
      const was = prev.buckets[i];
      const now = this.buckets[i];
      if (was === now) continue;
      if (now) for (const [key, value] of now) if (!was?.has(key) || !same(was.get(key), value)) out.push({ key, value });
      if (was) for (const key of was.keys()) if (!now?.has(key)) out.push({ key, value: undefined });
    }
    return out;
  }

  has(key: string): boolean {
    return this.buckets[bucketOf(key)]?.has(key) ?? false;
  }

  forEach(fn: (value: unknown, key: string, map: ReadonlyMap<string, unknown>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }

  entries(): MapIterator<[string, unknown]> {
    return this.walk((k, v) => [k, v]);
  }

  keys(): MapIterator<string> {
    return this.walk((k) => k);
  }

  values(): MapIterator<unknown> {
    return this.walk((_, v) => v);
  }

  [Symbol.iterator](): MapIterator<[string, unknown]> {
    return this.entries();
  }

  private walk<T>(pick: (k: string, v: unknown) => T): MapIterator<T> {
    const buckets = this.buckets;
    function* gen(): Generator<T, undefined, unknown> {
      for (const b of buckets) if (b) for (const [k, v] of b) yield pick(k, v);
      return undefined;
    }
    // A generator is an Iterator (with the helpers) at run time; TypeScript only lacks the name.
    return gen() as unknown as MapIterator<T>;
  }
}

export type Views = ReadonlyMap<Namespace, OverrideMap>;

export function emptyViews(): Map<Namespace, OverrideMap> {
  return new Map(NAMESPACES.map((ns) => [ns, OverrideMap.EMPTY]));
}

/** A change as stored: the value is what JSON gives back (null = delete), so every instance sees the same thing. */
export interface StoredChange {
  ns: Namespace;
  key: string;
  /** JSON text of the value; null deletes the key. */
  json: string | null;
}

/** Checks namespaces and keys and serialises values once. Throws TypeError on a caller's mistake. */
export function normalizeChanges(changes: readonly Change[]): StoredChange[] {
  return changes.map((c, i) => {
    if (!NAMESPACES.includes(c.ns)) throw new TypeError(`change ${i}: unknown namespace ${JSON.stringify(c.ns)}`);
    if (typeof c.key !== 'string' || c.key === '') throw new TypeError(`change ${i}: key must be a non-empty string`);
    if (c.value === null || c.value === undefined) return { ns: c.ns, key: c.key, json: null };
    const json = JSON.stringify(c.value);
    if (json === undefined) throw new TypeError(`change ${i} (${c.ns}/${c.key}): value is not JSON`);
    return { ns: c.ns, key: c.key, json };
  });
}

/** The changes as they travel in messages: values parsed back from their JSON. */
export function toChanges(stored: readonly StoredChange[]): Change[] {
  return stored.map((c) => ({ ns: c.ns, key: c.key, value: c.json === null ? null : (JSON.parse(c.json) as unknown) }));
}

/** Touched namespaces get a new OverrideMap; untouched ones keep theirs. */
export function applyChanges(views: Views, changes: readonly Change[]): { views: Map<Namespace, OverrideMap>; touched: Namespace[] } {
  const byNs = new Map<Namespace, Change[]>();
  for (const c of changes) {
    const list = byNs.get(c.ns);
    if (list) list.push(c);
    else byNs.set(c.ns, [c]);
  }
  const next = new Map(views);
  for (const [ns, list] of byNs) next.set(ns, (views.get(ns) ?? OverrideMap.EMPTY).with(list));
  return { views: next, touched: [...byNs.keys()] };
}

export function verdictKey(checkId: string, prober: string): string {
  return `${checkId}\u0000${prober}`;
}

/** Listeners run synchronously; one that throws is logged and does not stop the others. */
export class EventHub {
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  constructor(private readonly log?: Logger) {}

  on(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  emit(e: StoreEvent): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(e);
      } catch (err) {
        this.log?.error({ err, event: e }, 'fleet store listener threw');
      }
    }
  }
}
