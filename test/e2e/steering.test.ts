// End to end steering: `dig +subnet=` against a server on fixture GeoIP databases in both layouts.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { buildQuery, ecsOption, parse, udpExchange } from '../helpers/dns-client.js';
import { startServer, type ServerProcess, REPO } from '../helpers/server-process.js';

const ZONES = path.resolve(import.meta.dirname, 'steer-zones');

/** The ECS scope dig prints: "; CLIENT-SUBNET: 193.0.0.0/24/21". */
function scopeOf(raw: string): { subnet: string; scope: number } | null {
  const m = /CLIENT-SUBNET: ([0-9a-f.:]+\/\d+)\/(\d+)/.exec(raw);
  return m ? { subnet: m[1], scope: Number(m[2]) } : null;
}

describe.each(['geoip2', 'flat'])('steering with a %s-layout database', (layout) => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer(['--zones', ZONES, '--geoip', path.join(REPO, `geo/fixtures/world-${layout}.mmdb`)]);
  });
  afterAll(async () => { await server?.stop(); });

  it.each([
    ['193.0.0.0/24', '198.51.100.10', 'a European subnet gets eu-central'],
    ['81.2.69.0/24', '198.51.100.10', 'London gets eu-central'],
    ['49.44.0.0/24', '203.0.113.10', 'an Indian subnet gets ap-south'],
    ['8.8.8.0/24', '192.0.2.10', 'an American subnet gets us-east'],
    ['200.160.0.0/24', '192.0.2.10', 'São Paulo gets us-east'],
    ['1.1.1.0/24', '203.0.113.10', 'Sydney gets ap-south'],
    ['2001:67c:2e8::/48', '198.51.100.10', 'an IPv6 European subnet gets eu-central'],
  ])('%s → %s (%s)', (subnet, expected) => {
    const r = dig(server.port, ['api.steer.test', 'A', `+subnet=${subnet}`]);
    expect(r.status).toBe('NOERROR');
    expect(r.flags).toContain('aa');
    expect(r.answer).toEqual([['api.steer.test.', '30', 'IN', 'A', expected]]);
    const ecs = scopeOf(r.raw);
    expect(ecs?.subnet).toBe(subnet);
    expect(ecs!.scope).toBeGreaterThan(0); // the answer depends on the client's network
  });

  it('AAAA from the same steering; NODATA when the chosen region has no IPv6', () => {
    expect(dig(server.port, ['api.steer.test', 'AAAA', '+subnet=193.0.0.0/24']).answer).toEqual([['api.steer.test.', '30', 'IN', 'AAAA', '2001:db8:e::10']]);
    const india = dig(server.port, ['api.steer.test', 'AAAA', '+subnet=49.44.0.0/24']);
    expect(india.status).toBe('NOERROR');
    expect(india.answer).toEqual([]);
    expect(india.authority[0][3]).toBe('SOA');
  });

  it('answers: 2 gives the two nearest regions, nearest first', () => {
    const r = dig(server.port, ['two.steer.test', 'A', '+subnet=49.44.0.0/24']);
    expect(r.answer.map((l) => l[4])).toEqual(['203.0.113.11', '198.51.100.11']);
  });

  it('no ECS: the resolver address (127.0.0.1, not located) keeps the configured order, and no ECS in the reply', () => {
    const r = dig(server.port, ['api.steer.test', 'A']);
    expect(r.answer).toEqual([['api.steer.test.', '30', 'IN', 'A', '192.0.2.10']]);
    expect(scopeOf(r.raw)).toBeNull();
  });

  it('a static name echoes ECS with scope /0', () => {
    const r = dig(server.port, ['www.steer.test', 'A', '+subnet=193.0.0.0/24']);
    expect(r.answer[0][4]).toBe('192.0.2.80');
    expect(scopeOf(r.raw)).toEqual({ subnet: '193.0.0.0/24', scope: 0 });
  });

  it('an ECS /56 IPv6 subnet is decoded and echoed with its source prefix', async () => {
    const reply = await udpExchange(server.port, buildQuery('api.steer.test', 'A', { edns: { options: [ecsOption('2001:67c:2e8:100::/56')] } }));
    expect(reply[3] & 0x0f).toBe(0);
    const parsed = parse(reply);
    expect(parsed.answers.map((a: { address: string }) => a.address)).toEqual(['198.51.100.10']);
    // dns2 mis-decodes /56 ECS (see design notes), so read the echoed option bytes ourselves.
    // The OPT is last and its rdata is the one ECS option: code 8, length 4 + 7, family 2, source 56,
    // scope = the fixture's network (2001:67c::/32), then the 7 address bytes as sent.
    const tail = [...reply.subarray(reply.length - 15)];
    expect(tail).toEqual([0, 8, 0, 11, 0, 2, 56, 32, 0x20, 0x01, 0x06, 0x7c, 0x02, 0xe8, 0x01]);
  });

  it('ECS with host bits set beyond the prefix → FORMERR', async () => {
    const bad = ecsOption('193.0.0.0/24');
    bad[bad.length - 1] = 0x01; // 193.0.1 with /24: fine; make the prefix /20 so the low nibble is host bits
    bad[6] = 20;
    const reply = await udpExchange(server.port, buildQuery('api.steer.test', 'A', { edns: { options: [bad] } }));
    expect(reply[3] & 0x0f).toBe(1);
  });
});
