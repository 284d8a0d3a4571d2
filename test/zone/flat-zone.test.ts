// The flat zone a reload puts in force must answer exactly as the zone buildZone makes: same nodes
// (names, empty non-terminals, wildcards, steered names), same RRsets in the same order.
import { describe, expect, it } from 'vitest';
import { RRType } from '../../src/dns/constants.js';
import { encodeFlatZone, flatZone } from '../../src/zone/flat-zone.js';
import { parseMasterFile } from '../../src/zone/masterfile.js';
import { lookup } from '../../src/zone/lookup.js';
import { buildZone, buildZoneSet, type Zone, type ZoneNode } from '../../src/zone/tree.js';

const ZONE = `$ORIGIN ex.test.
$TTL 300
@        SOA   ns1 hostmaster 7 3600 600 86400 60
@        NS    ns1
@        MX    10 mail
ns1      A     192.0.2.1
www      A     192.0.2.80
www      AAAA  2001:db8::80
www      A     192.0.2.81
mail     A     192.0.2.25
status   CNAME www
*.wild   A     192.0.2.99
*.wild   TXT   "wild"
a.b.c    A     192.0.2.3
sub      NS    ns.sub
ns.sub   A     192.0.2.53
ns1      AAAA  2001:db8::1
`;

function both(extra: string[] = []): { tree: Zone; flat: Zone } {
  const parsed = parseMasterFile(ZONE, { file: 'ex.test.zone', origin: 'ex.test.' });
  expect(parsed.errors).toEqual([]);
  return {
    tree: buildZone(parsed.origin, 'ex.test.zone', parsed.records, extra),
    flat: flatZone(encodeFlatZone(parsed.origin, 'ex.test.zone', parsed.records, extra)),
  };
}

function shape(n: ZoneNode | undefined): unknown {
  if (!n) return undefined;
  return {
    name: n.name,
    wildcard: n.wildcard?.name,
    rrsets: [...n.rrsets.values()].map((s) => ({
      type: s.type, ttl: s.ttl, targets: s.targets,
      records: s.records.map((r) => ({ owner: r.owner, type: r.type, klass: r.klass, ttl: r.ttl, rdata: [...r.rdata], ownerWire: [...r.ownerWire] })),
    })),
  };
}

describe('flat zone', () => {
  it('has the same nodes and RRsets as the built zone', () => {
    const { tree, flat } = both(['api.ex.test.', '*.app.ex.test.']);
    const names = [...(tree.nodes as Map<string, ZoneNode>).keys()];
    expect(names).toContain('b.c.ex.test.'); // an empty non-terminal
    for (const name of names) expect(shape(flat.nodes.get(name)), name).toEqual(shape(tree.nodes.get(name)));
    for (const name of ['nope.ex.test.', 'ex.test', 'WWW.ex.test.', 'x.wild.ex.test.', 'ex.test.x.']) expect(flat.nodes.get(name)).toBeUndefined();
    for (const k of ['origin', 'file', 'hasCuts', 'hasWildcards', 'recordCount'] as const) expect(flat[k]).toEqual(tree[k]);
    expect(shape({ name: '', rrsets: new Map([[6, { type: 6, ttl: 0, targets: [], records: [flat.soa, flat.negativeSoa] }]]) }))
      .toEqual(shape({ name: '', rrsets: new Map([[6, { type: 6, ttl: 0, targets: [], records: [tree.soa, tree.negativeSoa] }]]) }));
  });

  it('answers every kind of query as the built zone does', () => {
    const { tree, flat } = both();
    const queries: [string, number][] = [
      ['www.ex.test.', RRType.A], ['www.ex.test.', RRType.AAAA], ['www.ex.test.', RRType.MX], ['status.ex.test.', RRType.A],
      ['x.wild.ex.test.', RRType.A], ['x.wild.ex.test.', RRType.TXT], ['b.c.ex.test.', RRType.A], ['nope.ex.test.', RRType.A],
      ['deep.sub.ex.test.', RRType.A], ['ex.test.', RRType.MX], ['ex.test.', RRType.ANY],
    ];
    for (const [q, t] of queries) {
      const a = lookup(buildZoneSet([tree]), q, t, null);
      const b = lookup(buildZoneSet([flat]), q, t, null);
      const view = (x: typeof a) => JSON.stringify({ ...x, answer: x.answer.map(shapeRR), authority: x.authority.map(shapeRR), additional: x.additional.map(shapeRR) });
      expect(view(b), `${q} ${t}`).toEqual(view(a));
    }
  });

  it('makes a node once and keeps it', () => {
    const { flat } = both();
    expect(flat.nodes.get('www.ex.test.')).toBe(flat.nodes.get('www.ex.test.'));
  });
});

function shapeRR(r: { owner: string; type: number; ttl: number; rdata: Uint8Array }): unknown {
  return { owner: r.owner, type: r.type, ttl: r.ttl, rdata: [...r.rdata] };
}
