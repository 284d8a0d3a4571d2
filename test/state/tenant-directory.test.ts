// The tenant map's structures: the compact table, and the directory (file under API overrides, with
// many overrides compacted) held against a plain reference model through random changes.
import { describe, expect, it } from 'vitest';
import { OverrideMap } from '../../src/state/store-kit.js';
import { COMPACT_AT, TenantDirectory } from '../../src/state/tenant-directory.js';
import { TenantTable } from '../../src/steering/tenant-table.js';

const REGIONS = ['us-east', 'eu-central', 'eu-west'];

describe('TenantTable', () => {
  it('adds, finds by string or by a range of a name, refuses duplicates', () => {
    const t = new TenantTable(REGIONS);
    expect(t.add('acme', 0, 4, 'eu-central')).toBe(true);
    expect(t.add('xx globex yy', 3, 9, 'us-east')).toBe(true);
    expect(t.add('acme', 0, 4, 'us-east')).toBe(false);
    expect(t.size).toBe(2);
    expect(t.get('acme')).toBe('eu-central');
    expect(t.getIn('www.globex.app.example.', 4, 10)).toBe('us-east');
    expect(t.get('acm')).toBeNull();
    expect(t.get('acmee')).toBeNull();
    expect(t.get('')).toBeNull();
    expect([...t]).toEqual([['acme', 'eu-central'], ['globex', 'us-east']]);
    expect(() => t.add('x', 0, 1, 'mars-1')).toThrow(RangeError);
  });

  it('grows from a small guess to 200,000 entries and finds every one', () => {
    const t = new TenantTable(REGIONS, 4);
    for (let i = 0; i < 200_000; i++) expect(t.add(`t${i}`, 0, `t${i}`.length, REGIONS[i % 3])).toBe(true);
    for (let i = 0; i < 200_000; i += 997) expect(t.get(`t${i}`)).toBe(REGIONS[i % 3]);
    expect(t.get('t200000')).toBeNull();
    expect(t.size).toBe(200_000);
  });
});

describe('TenantDirectory', () => {
  const file = (() => {
    const entries = new TenantTable(REGIONS);
    for (let i = 0; i < 1000; i++) entries.add(`f${i}`, 0, `f${i}`.length, REGIONS[i % 3]);
    return { entries, file: 'tenants.csv' };
  })();
  const home = (d: TenantDirectory, slug: string) => d.home(`www.${slug}.app.x.`, 4, 4 + slug.length);

  it('API entries beat the file; region null hides it; a removed entry shows the file again', () => {
    let o = OverrideMap.EMPTY.with([{ key: 'f1', value: { region: 'us-east', by: 'a', at: 0 } }, { key: 'f2', value: { region: null, by: 'a', at: 0 } }]);
    let d = new TenantDirectory(file, o);
    expect([home(d, 'f0'), home(d, 'f1'), home(d, 'f2'), home(d, 'nobody')]).toEqual(['us-east', 'us-east', null, null]);
    expect(d.lookup('f1')).toMatchObject({ region: 'us-east', source: 'api', fileRegion: 'eu-central' });
    expect(d.lookup('f2')).toMatchObject({ region: null, source: 'api', fileRegion: 'eu-west' });
    expect(d.lookup('f3')).toMatchObject({ region: 'us-east', source: 'file', override: null });
    o = o.with([{ key: 'f1', value: null }]);
    d = new TenantDirectory(file, o, d);
    expect(home(d, 'f1')).toBe('eu-central');
  });

  it('many overrides: compacted, then changed, then rebuilt, always answering like a plain map', () => {
    // The reference: what the directory must answer, from plain data.
    const api = new Map<string, string | null>();
    const expected = (slug: string) => (api.has(slug) ? api.get(slug)! : file.entries.get(slug));
    let seed = 7;
    const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
    const slugs = Array.from({ length: COMPACT_AT * 3 }, (_, i) => (i % 2 ? `f${i % 1000}` : `a${i}`));

    let o = OverrideMap.EMPTY;
    const bulk = slugs.map((key, i) => ({ key, value: { region: i % 7 === 0 ? null : REGIONS[i % 3], by: 'import', at: 0 } }));
    for (const c of bulk) api.set(c.key, c.value.region);
    o = o.with(bulk);
    let d = new TenantDirectory(file, o);
    const check = () => { for (const s of [...slugs.slice(0, 2000), 'f999', 'nobody']) expect(home(d, s), s).toBe(expected(s)); };
    check();

    for (let round = 0; round < 6; round++) {
      // A few changes (kept in front of the table), then, in round 3, more than COMPACT_AT (a rebuild).
      const n = round === 3 ? COMPACT_AT + 10 : 50;
      const changes = Array.from({ length: n }, () => {
        const key = slugs[rnd(2000)];
        const k = rnd(4);
        const value = k === 0 ? null : { region: k === 1 ? null : REGIONS[rnd(3)], by: 'ops', at: 1 };
        if (value === null) api.delete(key);
        else api.set(key, value.region);
        return { key, value };
      });
      o = o.with(changes);
      d = new TenantDirectory(file, o, d);
      check();
    }
  });
});
