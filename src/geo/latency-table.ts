// Measured latencies that beat the distance model: a CSV of `key,region,ms`, where key is a client
// network ("193.0.0.0/16", "2001:db8::/32") or a country code ("DE"). For a client and a region
// the longest matching prefix wins, then the client's country; no row means "use the model".

import type { ConfigError } from '../config/errors.js';
import { formatNetwork, isV4Mapped, parseDataNetwork } from '../dns/address.js';

export interface LatencyHit {
  ms: number;
  /** Where the figure came from, for explain: "geo/latency.csv:7 193.0.0.0/16". */
  source: string;
}

export interface LatencyTable {
  /** `address` is 4 or 16 bytes (IPv4-mapped IPv6 matches IPv4 rows); `country` is upper case. */
  lookup(address: Uint8Array, country: string | null, region: string): LatencyHit | null;
  /** Number of rows. */
  readonly size: number;
}

interface PrefixRow {
  bytes: Uint8Array;
  prefix: number;
  hit: LatencyHit;
}

interface RegionRows {
  /** Longest prefix first. */
  v4: PrefixRow[];
  v6: PrefixRow[];
  countries: Map<string, LatencyHit>;
}

const REGION_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const COUNTRY_RE = /^[A-Za-z]{2}$/;
const MS_RE = /^[0-9]+(\.[0-9]+)?$/;

export function parseLatencyTable(text: string, file: string): { table: LatencyTable; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const regions = new Map<string, RegionRows>();
  const firstLine = new Map<string, number>(); // "key region" → line, to report duplicates
  let size = 0;
  let sawData = false;
  const fail = (code: string, line: number, message: string): void => {
    errors.push({ code: `REGIONDNS_ERR_LATENCY_${code}`, file, line, message });
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
      network = { ...r.network, hit: { ms, source: `${file}:${line} ${canonical}` } };
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

    let rows = regions.get(region);
    if (rows === undefined) {
      rows = { v4: [], v6: [], countries: new Map() };
      regions.set(region, rows);
    }
    if (network !== null) (network.bytes.length === 4 ? rows.v4 : rows.v6).push(network);
    else rows.countries.set(canonical, { ms, source: `${file}:${line} ${canonical}` });
    size++;
  });

  for (const rows of regions.values()) {
    rows.v4.sort((a, b) => b.prefix - a.prefix);
    rows.v6.sort((a, b) => b.prefix - a.prefix);
  }

  return {
    errors,
    table: {
      size,
      lookup(address: Uint8Array, country: string | null, region: string): LatencyHit | null {
        const rows = regions.get(region);
        if (rows === undefined) return null;
        if (address.length === 4) {
          for (const r of rows.v4) if (matches(address, 0, r)) return r.hit;
        } else if (address.length === 16) {
          const mapped = isV4Mapped(address);
          for (const r of mapped ? rows.v4 : rows.v6) if (matches(address, mapped ? 12 : 0, r)) return r.hit;
        }
        return country === null ? null : (rows.countries.get(country) ?? null);
      },
    },
  };
}

function matches(addr: Uint8Array, from: number, row: PrefixRow): boolean {
  const whole = row.prefix >> 3;
  for (let i = 0; i < whole; i++) if (addr[from + i] !== row.bytes[i]) return false;
  const rest = row.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (addr[from + whole] & mask) === row.bytes[whole];
}

