// The hot-path query counters as a scrape shows them: each counted type under its name, every other
// type (0, unassigned, the largest) under "other".
import { describe, expect, it } from 'vitest';
import { QueryStats, queryStats, registry } from '../../src/obs/metrics.js';

describe('query counters', () => {
  it('counts a query under its type, or "other", and its rcode', async () => {
    const line = async (qtype: string) => {
      const text = await registry.getSingleMetricAsString('regiondns_queries_total');
      return Number(new RegExp(`\\{transport="udp",qtype="${qtype}",rcode="NOERROR"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    const [a0, aaaa0, other0] = [await line('A'), await line('AAAA'), await line('other')];
    queryStats.count(0, 1, 0, 40);
    queryStats.count(0, 28, 0, 40);
    for (const t of [0, 99, 4242, 65535]) queryStats.count(0, t, 0, 40);
    expect([await line('A'), await line('AAAA'), await line('other')]).toEqual([a0 + 1, aaaa0 + 1, other0 + 4]);
  });

  it('counts steered answers per hostname, region and outcome, in runs and interleaved', () => {
    const st = new QueryStats();
    const calls: [string, string, 'ok' | 'fail-open'][] = [['a.', 'eu', 'ok'], ['a.', 'eu', 'ok'], ['a.', 'us', 'ok'], ['b.', 'eu', 'fail-open'], ['a.', 'eu', 'fail-open'], ['b.', 'eu', 'ok'], ['a.', 'eu', 'ok']];
    for (const [h, r, o] of calls) st.countSteered(h, r, o);
    const row = (h: string, r: string) => Array.from(st.steered.get(h)?.get(r) ?? []).slice(0, 2);
    expect([row('a.', 'eu'), row('a.', 'us'), row('b.', 'eu')]).toEqual([[3, 1], [1, 0], [1, 1]]);
  });
});
