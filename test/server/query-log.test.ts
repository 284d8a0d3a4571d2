// The edge's query log: what becomes a log line, decided outside the pure query handler.
import { describe, expect, it } from 'vitest';
import type { Query } from '../../src/dns/types.js';
import type { Logger } from '../../src/obs/logger.js';
import { QueryLog } from '../../src/server/query-log.js';
import type { SteeringResult } from '../../src/steering/pipeline.js';

function recorder() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const log = {
    info: (obj: Record<string, unknown>, msg: string) => lines.push({ level: 'info', obj, msg }),
    warn: (obj: Record<string, unknown>, msg: string) => lines.push({ level: 'warn', obj, msg }),
  } as unknown as Logger;
  return { log, lines };
}

const query = { qname: 'www.example.test.', qtype: 1, edns: null } as unknown as Query;
const failOpen: SteeringResult = { regions: ['eu'], setName: 'default', outcome: 'fail-open', ttl: 15, ecsScope: 0 };
const ok: SteeringResult = { ...failOpen, outcome: 'ok' };
const client = Uint8Array.of(192, 0, 2, 7);

describe('QueryLog', () => {
  it('warns of fail-open at most once per hostname every 10 s', () => {
    const { log, lines } = recorder();
    const q = new QueryLog({ log, sample: 0, rng: () => 0 });
    q.answered('udp', client, query, 0, failOpen, 'www.example.test.', 100_000);
    q.answered('udp', client, query, 0, failOpen, 'www.example.test.', 105_000);
    q.answered('udp', client, query, 0, failOpen, 'other.example.test.', 105_000);
    q.answered('udp', client, query, 0, ok, 'www.example.test.', 111_000);
    q.answered('udp', client, query, 0, failOpen, 'www.example.test.', 110_001);
    expect(lines.map((l) => [l.level, l.obj.hostname])).toEqual([
      ['warn', 'www.example.test.'], ['warn', 'other.example.test.'], ['warn', 'www.example.test.'],
    ]);
  });

  it('logs the sampled fraction of queries, with the client as text', () => {
    const { log, lines } = recorder();
    let r = 0;
    const draws = [0.05, 0.5, 0.09, 0.95];
    const q = new QueryLog({ log, sample: 0.1, rng: () => draws[r++ % draws.length] });
    for (let i = 0; i < 4; i++) q.answered('tcp', client, query, 0, ok, 'www.example.test.', 0);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'query', obj: { transport: 'tcp', source: '192.0.2.7', qname: 'www.example.test.', region: 'eu' } });
  });

  it('draws nothing when sampling is off', () => {
    const { log, lines } = recorder();
    const q = new QueryLog({ log, sample: 0, rng: () => { throw new Error('drawn'); } });
    q.answered('udp', client, query, 0, null, null, 0);
    expect(lines).toEqual([]);
  });
});
