// A page of the tenant map in slug order, for GET /v1/tenants and `ctl tenants list`: the file's
// entries under the API's (an API entry with region null hides the file's). A page is chosen in one
// pass with a bounded heap, so listing a million tenants never sorts or copies the whole map.

import type { RegionId } from '../steering/policy.js';
import type { TenantDirectory } from './tenant-directory.js';

export interface TenantRow {
  slug: string;
  region: RegionId;
  source: 'file' | 'api';
}

export interface TenantPage {
  tenants: TenantRow[];
  /** Pass as `cursor` for the next page; null on the last one. */
  next: string | null;
}

/** The `limit` smallest slugs above `cursor` that start with `prefix`. */
export function listTenants(dir: TenantDirectory, opts: { prefix?: string; cursor?: string; limit: number }): TenantPage {
  const prefix = opts.prefix ?? '';
  const cursor = opts.cursor ?? '';
  const want = opts.limit + 1; // one more tells whether a next page exists
  const heap: string[] = []; // a max-heap of the smallest slugs seen so far
  const consider = (slug: string) => {
    if (!slug.startsWith(prefix) || slug <= cursor) return;
    if (heap.length === want && slug >= heap[0]) return;
    if (heap.length === want) popMax(heap);
    pushMax(heap, slug);
  };
  for (const [slug] of dir.file.entries) if (!dir.overrides.has(slug)) consider(slug);
  for (const slug of dir.overrides.keys()) consider(slug);
  const slugs = heap.sort();
  const page = slugs.slice(0, opts.limit);
  const tenants: TenantRow[] = [];
  for (const slug of page) {
    const t = dir.lookup(slug);
    if (t.region !== null) tenants.push({ slug, region: t.region, source: t.source! });
  }
  return { tenants, next: slugs.length > opts.limit ? page[page.length - 1] : null };
}

function pushMax(h: string[], v: string): void {
  h.push(v);
  for (let i = h.length - 1; i > 0; ) {
    const p = (i - 1) >> 1;
    if (h[p] >= h[i]) break;
    [h[p], h[i]] = [h[i], h[p]];
    i = p;
  }
}

function popMax(h: string[]): void {
  const last = h.pop()!;
  if (h.length === 0) return;
  h[0] = last;
  for (let i = 0; ; ) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < h.length && h[l] > h[m]) m = l;
    if (r < h.length && h[r] > h[m]) m = r;
    if (m === i) break;
    [h[m], h[i]] = [h[i], h[m]];
    i = m;
  }
}
