// The store kit: the pieces every FleetStore shares, so each applies a change exactly as the others
// do: change normalisation, copy-on-write namespace views (OverrideMap) and the event hub.

import type { Logger } from 'pino';
import { fleetStoreBadEntries } from '../obs/metrics.js';
import { NAMESPACES, type Change, type ChangeList, type Namespace, type StoreEvent } from './fleet-store.js';
import { keyProblem, parseNamespaceValue, type NamespaceValues } from './schemas.js';

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

  /**
   * A map of groups of keys that share a value (a store's rows read back grouped by value): the
   * million-key load of a start-up, without a generator step or an object per key.
   */
  static fromGroups(groups: Iterable<{ value: unknown; keys: readonly string[] }>): OverrideMap {
    const buckets = new Array<Map<string, unknown> | undefined>(BUCKETS).fill(undefined);
    let size = 0;
    for (const { value, keys } of groups) {
      if (value === null || value === undefined) continue;
      for (const key of keys) {
        const i = bucketOf(key);
        const b = buckets[i] ?? (buckets[i] = new Map());
        const n = b.size;
        b.set(key, value);
        size += b.size - n;
      }
    }
    return new OverrideMap(buckets, size);
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
      // One hash lookup per change, not two (has + set): this loop takes a million-tenant import.
      if (value === null || value === undefined) {
        if (b.delete(key)) size--;
      } else {
        const n = b.size;
        b.set(key, value);
        size += b.size - n;
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

  /** In bucket order, like the iterators, but with no generator or pair per entry (a million-entry walk). */
  forEach(fn: (value: unknown, key: string, map: ReadonlyMap<string, unknown>) => void, thisArg?: unknown): void {
    for (const b of this.buckets) if (b) for (const [k, v] of b) fn.call(thisArg, v, k, this);
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
export function normalizeChanges(changes: ChangeList): StoredChange[] {
  return Array.from(storedChanges(changes));
}

/**
 * normalizeChanges made on demand: each pass normalises the changes again as it goes, so a
 * million-key write is never a million-element list. Throws, during a pass, what normalizeChanges would.
 */
export function storedChanges(changes: ChangeList): Iterable<StoredChange> {
  return {
    *[Symbol.iterator]() {
      // A bulk write often gives many keys one value object (an import: one per region): serialised once.
      const texts = new Map<unknown, string | undefined>();
      let i = 0;
      for (const c of changes) yield normalized(c, i++, texts);
    },
  };
}

function normalized(c: Change, i: number, texts: Map<unknown, string | undefined>): StoredChange {
  if (!NAMESPACES.includes(c.ns)) throw new TypeError(`change ${i}: unknown namespace ${JSON.stringify(c.ns)}`);
  if (typeof c.key !== 'string' || c.key === '') throw new TypeError(`change ${i}: key must be a non-empty string`);
  if (c.value === null || c.value === undefined) return { ns: c.ns, key: c.key, json: null };
  let json = texts.get(c.value);
  if (json === undefined) {
    json = JSON.stringify(c.value);
    if (typeof c.value === 'object') texts.set(c.value, json);
  }
  if (json === undefined) throw new TypeError(`change ${i} (${c.ns}/${c.key}): value is not JSON`);
  return { ns: c.ns, key: c.key, json };
}

/** The changes as they travel in messages: values parsed back from their JSON. */
export function toChanges(stored: readonly StoredChange[]): Change[] {
  return stored.map((c) => ({ ns: c.ns, key: c.key, value: c.json === null ? null : (JSON.parse(c.json) as unknown) }));
}

/** Distinct value texts remembered per namespace; past this the memo starts again (it is only a memo). */
const DECODED_MEMO = 4096;
/** Keys whose bad value was logged; past this, bad values are only counted. */
const BAD_KEYS_LOGGED = 1000;

/**
 * Turns a stored value's JSON text into the value a snapshot may use: parsed with the namespace's
 * schema (a bad value is skipped: logged once with its key and counted, never served), then frozen
 * and shared by every key whose text is the same. That sharing is what keeps a million tenants
 * small: an import writes `{region, by, at}` with one actor and one time, so a million keys point at
 * a handful of value objects instead of a million parsed copies; and it makes loading them cheap
 * (one JSON.parse and one schema check per distinct text, a Map probe for the rest).
 */
export class ValueDecoder {
  private readonly memo = new Map<Namespace, Map<string, unknown>>(NAMESPACES.map((ns) => [ns, new Map()]));
  private readonly logged = new Set<string>();
  constructor(private readonly log?: Logger) {}

  /** The value, or undefined when the text is not a valid value of `ns` (logged and counted). */
  decode<N extends Namespace>(ns: N, key: string, json: string): NamespaceValues[N] | undefined {
    const r = this.parse(ns, json);
    if (typeof r === 'string') return this.bad(ns, key, r);
    // The value must also belong under its key: a drain of "elsewhere" filed under us-east is bad.
    const misfiled = keyProblem(ns, key, r.value);
    return misfiled === null ? (r.value as NamespaceValues[N]) : this.bad(ns, key, misfiled);
  }

  /** A caller's own value about to be written, as readers will see it; TypeError when it is not valid. */
  own<N extends Namespace>(ns: N, key: string, json: string): NamespaceValues[N] {
    const r = this.parse(ns, json);
    if (typeof r === 'string') throw new TypeError(`${ns}/${key}: not a valid ${ns} value: ${r}`);
    return r.value as NamespaceValues[N];
  }

  private parse(ns: Namespace, json: string): { value: unknown } | string {
    const memo = this.memo.get(ns);
    if (memo === undefined) return 'unknown namespace';
    const hit = memo.get(json);
    if (hit !== undefined) return { value: hit };
    let raw: unknown;
    try {
      raw = JSON.parse(json);
    } catch (err) {
      return `not JSON: ${(err as Error).message}`;
    }
    const r = parseNamespaceValue(ns, raw);
    if (!r.ok) return r.error;
    const value = deepFreeze(r.value);
    if (memo.size >= DECODED_MEMO) memo.clear();
    memo.set(json, value);
    return { value };
  }

  /** Skips an entry for a reason of its own (logged once with its key, counted). */
  refuse(ns: string, key: string, problem: string): undefined {
    return this.bad(ns, key, problem);
  }

  private bad(ns: string, key: string, problem: string): undefined {
    fleetStoreBadEntries.labels(NAMESPACES.includes(ns as Namespace) ? ns : 'unknown').inc();
    const id = `${ns}\u0000${key}`;
    if (this.log && !this.logged.has(id) && this.logged.size < BAD_KEYS_LOGGED) {
      this.logged.add(id);
      this.log.error({ namespace: ns, key, problem }, 'fleet store entry skipped: its value does not match the namespace schema');
    }
    return undefined;
  }
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
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

/**
 * applyChanges for changes as stored, each value given by `decode` (e.g. the decoder's shared value for
 * its text): no Change object is made per key, so a million-key write does not make a million more
 * objects while the previous views are still alive. `stored` is read once, then once per namespace.
 */
export function applyStored(views: Views, stored: Iterable<StoredChange>, decode: (c: StoredChange & { json: string }) => unknown): { views: Map<Namespace, OverrideMap>; touched: Namespace[] } {
  const touched = new Set<Namespace>();
  for (const c of stored) touched.add(c.ns);
  const next = new Map(views);
  for (const ns of touched) next.set(ns, (views.get(ns) ?? OverrideMap.EMPTY).with(cellsOf(stored, ns, decode)));
  return { views: next, touched: [...touched] };
}

/** The changes of one namespace through one reused cell (OverrideMap.with reads each before the next). */
function* cellsOf(stored: Iterable<StoredChange>, ns: Namespace, decode: (c: StoredChange & { json: string }) => unknown): Generator<{ key: string; value: unknown }> {
  const cell = { key: '', value: null as unknown };
  for (const c of stored) {
    if (c.ns !== ns) continue;
    cell.key = c.key;
    cell.value = c.json === null ? null : decode(c as StoredChange & { json: string });
    yield cell;
  }
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
