// The tenant map a snapshot answers from: the tenants file's entries, under the overrides made
// through the ops API (the fleet store's 'tenant' namespace). API entries win over the file; an API
// entry with region null hides the file's entry. Immutable, like the rest of a snapshot: a change in
// the store makes a new directory over the same file entries and the store's new (bucketed) map.
//
// Many overrides (a fleet whose tenants were imported through the API) are also kept in a compact
// TenantTable, so that a lookup costs what a lookup in the file costs; the changes made since the
// table was built are a small Map in front of it, and the table is rebuilt once they are many.

import type { RegionId, TenantFile } from '../steering/policy.js';
import { NO_TENANT_FILE, TenantTable } from '../steering/tenant-table.js';
import { slugProblem } from '../steering/tenant-residency.js';
import type { TenantOverride } from './fleet-store.js';
import { OverrideMap } from './store-kit.js';

const NO_OVERRIDES: ReadonlyMap<string, unknown> = new Map();
/** Fewer overrides than this are looked up in the store's map; more get a table. */
export const COMPACT_AT = 4096;
/** The table's stand-in for region null (an API entry hiding the file's). No region id is empty. */
const HIDDEN = '';
/** In `delta`: the slug has no API entry any more (look in the file). */
const GONE = false;

export interface TenantLookup {
  slug: string;
  /** The home region in force, or null when the slug is not a tenant (never was, or hidden). */
  region: RegionId | null;
  /** Where `region` (or the hiding) comes from. */
  source: 'file' | 'api' | null;
  /** The API entry, when there is one (region null: hides the file's entry). */
  override: TenantOverride | null;
  /** The file's entry, overridden or not. */
  fileRegion: RegionId | null;
}

/** The region of a 'tenant' namespace value (a TenantOverride, or a worker's `{ region }`). */
export const regionOf = (v: unknown): RegionId | null => (v as Pick<TenantOverride, 'region'>).region;

export class TenantDirectory {
  static readonly EMPTY = new TenantDirectory(NO_TENANT_FILE, NO_OVERRIDES);

  /** The overrides as they were when it was built, in a table (region null as HIDDEN); null while they are few. */
  private readonly table: TenantTable | null = null;
  /** With a table: the overrides changed since it was built. */
  private readonly delta: Map<string, RegionId | null | typeof GONE> = new Map();

  constructor(
    readonly file: TenantFile,
    /** The store's 'tenant' namespace: slug → TenantOverride (in a worker: `{ region }` only). */
    readonly overrides: ReadonlyMap<string, unknown>,
    /** The directory this one follows: its table is kept while the changes since are few. */
    previous?: TenantDirectory,
  ) {
    if (!(overrides instanceof OverrideMap) || overrides.size < COMPACT_AT) return;
    // The step from the previous directory costs about one bucket per key changed.
    const step = previous?.table && previous.overrides instanceof OverrideMap ? overrides.changesSince(previous.overrides) : null;
    if (step !== null && previous!.delta.size + step.length < COMPACT_AT) {
      this.table = previous!.table;
      this.delta = new Map(previous!.delta);
      for (const { key, value } of step) this.delta.set(key, value === undefined ? GONE : regionOf(value));
    } else {
      this.table = compact(overrides);
    }
  }

  /**
   * The query path's lookup: the home region of the slug name[start, end), or null. While the API
   * has overridden nothing, one probe of the file's table, hashing the slug in place (no string is
   * made); with a few overrides, the slug is cut out and looked up in the store's map first; with
   * many, one more table probe (and a small Map of the latest changes).
   */
  home(name: string, start: number, end: number): RegionId | null {
    if (this.table === null) {
      if (this.overrides.size !== 0) {
        const o = this.overrides.get(name.slice(start, end));
        if (o !== undefined) return regionOf(o);
      }
    } else {
      const d = this.delta.size === 0 ? undefined : this.delta.get(name.slice(start, end));
      if (d !== undefined) return d === GONE ? this.file.entries.getIn(name, start, end) : d;
      const r = this.table.getIn(name, start, end);
      if (r !== null) return r === HIDDEN ? null : r;
    }
    return this.file.entries.getIn(name, start, end);
  }

  lookup(slug: string): TenantLookup {
    const override = (this.overrides.get(slug) as TenantOverride | undefined) ?? null;
    const fileRegion = this.file.entries.get(slug);
    if (override) return { slug, region: override.region, source: 'api', override, fileRegion };
    return { slug, region: fileRegion, source: fileRegion === null ? null : 'file', override: null, fileRegion };
  }
}

/** The overrides in a table; keys that are no slug cannot be asked for and are left out. */
function compact(overrides: OverrideMap): TenantTable {
  const regions = new Set<RegionId>([HIDDEN]);
  overrides.forEach((v) => regions.add(regionOf(v) ?? HIDDEN));
  const table = new TenantTable([...regions], overrides.size);
  overrides.forEach((v, slug) => {
    if (slugProblem(slug) === null) table.add(slug, 0, slug.length, regionOf(v) ?? HIDDEN);
  });
  return table;
}
