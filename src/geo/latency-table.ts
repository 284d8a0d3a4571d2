// Measured latencies that beat the distance model: a CSV of `key,region,ms`, where key is a client
// network ("193.0.0.0/16", "2001:db8::/32") or a country code ("DE"). For a client and a region
// the longest matching prefix wins, then the client's country; no row means "use the model".

import type { ConfigError } from '../config/errors.js';
import { bitAt, formatNetwork, isV4Mapped, parseDataNetwork } from '../dns/address.js';
import { LatencyError } from '../config/error-codes.js';

export interface LatencyHit {
  ms: number;
  /** Where the figure came from, for explain: "geo/latency.csv:7 193.0.0.0/16". */
  source: string;
}

/**
 * The table's rows for one equivalence class of addresses: every address whose deepest matching
 * table prefix is this one gets these hits. Interned (one per prefix in the table, plus NO_PREFIX),
 * so the steering memo can use it as a key.
 */
export interface PrefixCell {
  /** The deepest table network the address lies in, "193.0.1.0/24"; null for NO_PREFIX. */
  readonly network: string | null;
  /** Per region, the row of the longest matching prefix that has one for that region. */
  readonly hits: ReadonlyMap<string, LatencyHit>;
}

/** The cell of addresses in no table network. */
export const NO_PREFIX: PrefixCell = Object.freeze({ network: null, hits: new Map<string, LatencyHit>() });

export interface PrefixMatch {
  cell: PrefixCell;
  /**
   * Prefix length (in the address's own 32 or 128 bits) that decides the table's answer: every address
   * sharing this many leading bits gets the same cell. The narrowest exact ECS scope the table allows
   * (RFC 7871 §7.2.1): the matched prefix, longer when a narrower table row lies beside the address.
   */
  scope: number;
}

export interface LatencyTable {
  /** `address` is 4 or 16 bytes (IPv4-mapped IPv6 matches IPv4 rows); `country` is upper case. */
  lookup(address: Uint8Array, country: string | null, region: string): LatencyHit | null;
  /** Which table prefixes `address` falls in; one trie walk, no allocation beyond the result. */
  match(address: Uint8Array): PrefixMatch;
  /** The row for `region` in `cell`, else the country's row. */
  hitIn(cell: PrefixCell, country: string | null, region: string): LatencyHit | null;
  /** Number of rows. */
  readonly size: number;
}

interface PrefixRow {
  bytes: Uint8Array;
  prefix: number;
  region: string;
  hit: LatencyHit;
  network: string;
}

const REGION_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const COUNTRY_RE = /^[A-Za-z]{2}$/;
const MS_RE = /^[0-9]+(\.[0-9]+)?$/;

export function parseLatencyTable(text: string, file: string): { table: LatencyTable; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const networks: PrefixRow[] = [];
  const countries = new Map<string, Map<string, LatencyHit>>(); // region → country → hit
  const firstLine = new Map<string, number>(); // "key region" → line, to report duplicates
  let size = 0;
  let sawData = false;
  const fail = (code: Exclude<keyof typeof LatencyError, 'TABLE'>, line: number, message: string): void => {
    errors.push({ code: LatencyError[code], file, line, message });
  };

  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const hash = raw.indexOf('#');
    const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (body === '') return;
    const fields = body.split(',').map((f) => f.trim());
    const first = !sawData;
    sawData = true;
    if (first && fields.join(',').toLowerCase() === 'key,region,ms') return;
    if (fields.length !== 3) {
      fail('FIELDS', line, `expected 3 fields "key,region,ms", got ${fields.length}`);
      return;
    }
    const [key, region, msText] = fields;
    if (!REGION_RE.test(region)) {
      fail('REGION', line, `region "${region}" must be letters, digits, ".", "_" or "-"`);
      return;
    }
    if (!MS_RE.test(msText)) {
      fail('MS', line, `latency "${msText}" must be a non-negative number of milliseconds`);
      return;
    }
    const ms = Number(msText);

    let canonical: string;
    let network: PrefixRow | null = null;
    if (COUNTRY_RE.test(key)) {
      canonical = key.toUpperCase();
    } else if (/[.:]/.test(key)) {
      const r = parseDataNetwork(key);
      if (!r.ok) {
        fail('KEY', line, r.error);
        return;
      }
      canonical = formatNetwork(r.network);
      network = { ...r.network, region, network: canonical, hit: { ms, source: `${file}:${line} ${canonical}` } };
    } else {
      fail('KEY', line, `key "${key}" must be a two-letter country code (DE) or a network (193.0.0.0/16)`);
      return;
    }

    const dupKey = `${canonical} ${region}`;
    const earlier = firstLine.get(dupKey);
    if (earlier !== undefined) {
      fail('DUPLICATE', line, `${canonical} → ${region} is already given at line ${earlier}`);
      return;
    }
    firstLine.set(dupKey, line);

    if (network !== null) networks.push(network);
    else {
      let byCountry = countries.get(region);
      if (byCountry === undefined) countries.set(region, (byCountry = new Map()));
      byCountry.set(canonical, { ms, source: `${file}:${line} ${canonical}` });
    }
    size++;
  });

  return { errors, table: new PrefixTrieTable(networks, countries, size) };
}

/** A binary trie node: children by the next address bit, and a cell when a table network ends here. */
interface TrieNode {
  zero: TrieNode | null;
  one: TrieNode | null;
  cell: PrefixCell | null;
}

const newNode = (): TrieNode => ({ zero: null, one: null, cell: null });

/**
 * One binary trie per family over every region's networks (a /16 row for eu-central and a /24 row
 * for ap-south share nodes). A node where networks end holds a cell whose hits are its own rows
 * over its ancestors' (longest prefix wins per region), so a lookup is one walk of at most 32 or
 * 128 steps, whatever the number of rows; before, it scanned every row of the region.
 */
class PrefixTrieTable implements LatencyTable {
  private readonly v4 = newNode();
  private readonly v6 = newNode();

  constructor(
    rows: readonly PrefixRow[],
    private readonly countries: ReadonlyMap<string, ReadonlyMap<string, LatencyHit>>,
    readonly size: number,
  ) {
    const own = new Map<TrieNode, { network: string; hits: Map<string, LatencyHit> }>();
    for (const r of rows) {
      let node = r.bytes.length === 4 ? this.v4 : this.v6;
      for (let bit = 0; bit < r.prefix; bit++) {
        if (bitAt(r.bytes, bit)) node = node.one ??= newNode();
        else node = node.zero ??= newNode();
      }
      let o = own.get(node);
      if (o === undefined) own.set(node, (o = { network: r.network, hits: new Map() }));
      o.hits.set(r.region, r.hit);
    }
    const inherit = (node: TrieNode, above: ReadonlyMap<string, LatencyHit>): void => {
      let hits = above;
      const o = own.get(node);
      if (o !== undefined) {
        const merged = new Map(above);
        for (const [region, hit] of o.hits) merged.set(region, hit);
        node.cell = Object.freeze({ network: o.network, hits: merged });
        hits = merged;
      }
      if (node.zero) inherit(node.zero, hits);
      if (node.one) inherit(node.one, hits);
    };
    inherit(this.v4, NO_PREFIX.hits);
    inherit(this.v6, NO_PREFIX.hits);
  }

  match(address: Uint8Array): PrefixMatch {
    let from = 0;
    let bits: number;
    let root: TrieNode;
    if (address.length === 4) {
      bits = 32;
      root = this.v4;
    } else if (address.length === 16) {
      if (isV4Mapped(address)) {
        from = 12;
        bits = 32;
        root = this.v4;
      } else {
        bits = 128;
        root = this.v6;
      }
    } else return { cell: NO_PREFIX, scope: 0 };
    let node = root;
    let cell = node.cell ?? NO_PREFIX;
    let depth = 0;
    for (; depth < bits; depth++) {
      const next = (address[from + (depth >> 3)] >> (7 - (depth & 7))) & 1 ? node.one : node.zero;
      if (next === null) break;
      node = next;
      if (node.cell !== null) cell = node.cell;
    }
    // Addresses sharing `depth` bits walk the same nodes; past a node with children, the next bit
    // also decides whether a narrower network is entered.
    const scope = depth < bits && (node.zero !== null || node.one !== null) ? depth + 1 : depth;
    return { cell, scope: from === 12 ? scope + 96 : scope };
  }

  hitIn(cell: PrefixCell, country: string | null, region: string): LatencyHit | null {
    const hit = cell.hits.get(region);
    if (hit !== undefined) return hit;
    return country === null ? null : (this.countries.get(region)?.get(country) ?? null);
  }

  lookup(address: Uint8Array, country: string | null, region: string): LatencyHit | null {
    return this.hitIn(this.match(address).cell, country, region);
  }
}
