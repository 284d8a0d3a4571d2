// The tenant map a snapshot answers from: the tenants file's entries, under the overrides made
// through the ops API (the fleet store's 'tenant' namespace). API entries win over the file; an API
// entry with region null hides the file's entry. Immutable, like the rest of a snapshot: a change in
// the store makes a new directory over the same file entries and the store's new (bucketed) map.

import type { RegionId, TenantFile } from '../steering/policy.js';
import type { TenantOverride } from './fleet-store.js';

export const NO_TENANT_FILE: TenantFile = Object.freeze({ entries: new Map<string, RegionId>(), file: null });
const NO_OVERRIDES: ReadonlyMap<string, unknown> = new Map();

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

export class TenantDirectory {
  static readonly EMPTY = new TenantDirectory(NO_TENANT_FILE, NO_OVERRIDES);

  constructor(
    readonly file: TenantFile,
    /** The store's 'tenant' namespace: slug → TenantOverride (in a worker: `{ region }` only). */
    readonly overrides: ReadonlyMap<string, unknown>,
  ) {}

  /**
   * The query path's lookup: the home region of `slug`, or null. One Map get on the file's entries
   * while the API has overridden nothing; one more (on the store's bucketed map) once it has.
   */
  home(slug: string): RegionId | null {
    if (this.overrides.size !== 0) {
      const o = this.overrides.get(slug) as Pick<TenantOverride, 'region'> | undefined;
      if (o !== undefined) return o.region;
    }
    return this.file.entries.get(slug) ?? null;
  }

  lookup(slug: string): TenantLookup {
    const override = (this.overrides.get(slug) as TenantOverride | undefined) ?? null;
    const fileRegion = this.file.entries.get(slug) ?? null;
    if (override) return { slug, region: override.region, source: 'api', override, fileRegion };
    return { slug, region: fileRegion, source: fileRegion === null ? null : 'file', override: null, fileRegion };
  }
}
