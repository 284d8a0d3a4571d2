// Per-endpoint health folded into snapshots: which records a query gets, when a region stops being
// operational for a family (min-healthy), fail-open, drains beating health, explain, and the guard
// of endpoint drains. Pure: snapshots built in code, answers through explainQuery (the query path
// with a trace).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/load-config.js';
import { RRType } from '../../src/dns/constants.js';
import { parseSubnet } from '../../src/dns/ecs.js';
import type { ClientLocation, GeoLocator } from '../../src/geo/types.js';
import { endpointStrandedBy } from '../../src/ops/endpoint-routes.js';
import { explainQuery } from '../../src/query/explain.js';
import type { EndpointDrain } from '../../src/state/fleet-store.js';
import { buildSnapshot, withState, type RegionHealth, type Snapshot } from '../../src/state/snapshot.js';
import { formatTrace } from '../../src/steering/trace.js';

const dir = mkdtempSync(join(tmpdir(), 'regiondns-ephealth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

writeFileSync(join(dir, 'ep.test.zone'), '$ORIGIN ep.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n');
writeFileSync(join(dir, 'regions.yaml'), `regions:
  eu-central: { location: { lat: 50.11, lon: 8.68 } }
  us-east:    { location: { lat: 39.04, lon: -77.49 } }
`);
const TCP_A = '{ type: tcp, address: "127.0.0.1:9001" }';
const TCP_B = '{ type: tcp, address: "127.0.0.1:9002" }';
const TCP_6 = '{ type: tcp, address: "127.0.0.1:9006" }';
writeFileSync(join(dir, 'ep.test.steer.yaml'), `hostnames:
  www:
    ttl: 30
    pools:
      eu-central:
        - { address: 198.51.100.1, checks: [${TCP_A}] }
        - { address: 198.51.100.2, checks: [${TCP_B}] }
        - { address: "2001:db8::1", checks: [${TCP_6}] }
      us-east: [192.0.2.1, "2001:db8:1::1"]
  two:
    min-healthy: 2
    pools:
      eu-central:
        - { address: 198.51.100.1, checks: [${TCP_A}] }
        - { address: 198.51.100.2, checks: [${TCP_B}] }
      us-east: [192.0.2.1]
  fallback:
    when-all-down: region:eu-central
    pools:
      eu-central:
        - { address: 198.51.100.1, checks: [${TCP_A}] }
      us-east: [{ address: 192.0.2.1, checks: [${TCP_B}] }]
  plain:
    pools:
      eu-central: [198.51.100.1]
      us-east: [192.0.2.1]
  "*.app":
    tenants: { source: tenants.csv, residency: { eu-central: [us-east] } }
    pools:
      eu-central:
        - { address: 198.51.100.1, checks: [${TCP_A}] }
        - { address: 198.51.100.2, checks: [${TCP_B}] }
        - { address: "2001:db8::1", checks: [${TCP_6}] }
      us-east: [192.0.2.1, "2001:db8:1::1"]
`);
writeFileSync(join(dir, 'tenants.csv'), 'acme,eu-central\n');
const cfg = loadConfig(dir);
const AMSTERDAM: ClientLocation = Object.freeze({ point: { lat: 52.37, lon: 4.9 }, country: 'NL', city: 'Amsterdam', networkPrefix: 24 });
const geo: GeoLocator = { description: 'test', locate: () => AMSTERDAM };

const checks = cfg.health.endpointChecks;
const idOf = (port: number) => [...checks.keys()].find((id) => id.includes(`:${port} `))!;
const down = (...ports: number[]) => new Map<string, RegionHealth>(ports.map((p) => [idOf(p), { up: false, reason: 'connection refused (1 of 1 probers)' }]));
const drain = (address: string, hostnames: string[] | null = null): [string, EndpointDrain] => [address, { address, reason: 'lb swap', hostnames, by: 'alice', at: 0 }];

function snap(state: { down?: number[]; drains?: [string, EndpointDrain][] } = {}): Snapshot {
  expect(cfg.errors).toEqual([]);
  return buildSnapshot({
    version: 1, zones: cfg.zones, steering: cfg.steering, endpointCheckIds: cfg.health.pools, geo, latencyTable: null,
    endpointHealth: down(...(state.down ?? [])), endpointDrains: new Map(state.drains ?? []),
  });
}

function ask(s: Snapshot, host: string, type: 'A' | 'AAAA' = 'A') {
  const e = explainQuery(s, `${host}.ep.test.`, type === 'A' ? RRType.A : RRType.AAAA, parseSubnet('193.0.0.0/24'), () => 0.5);
  return { ...e, addresses: e.answer.map((r) => r.split(' ').pop()!), ttls: e.answer.map((r) => Number(r.split(' ')[1])) };
}

describe('endpoint health in answers', () => {
  it('all up: the nearest region answers with all its endpoints of the family', () => {
    const s = snap();
    expect(ask(s, 'www').addresses).toEqual(['198.51.100.1', '198.51.100.2']);
    expect(ask(s, 'www', 'AAAA').addresses).toEqual(['2001:db8::1']);
  });

  it('one of two endpoints down leaves the answers; the other stays and the region keeps serving', () => {
    const e = ask(snap({ down: [9001] }), 'www');
    expect(e.addresses).toEqual(['198.51.100.2']);
    expect(e.ttls).toEqual([30]);
    expect(e.trace!.outcome).toBe('ok');
    expect(e.trace!.endpoints).toEqual([
      { region: 'eu-central', address: '198.51.100.1', up: false, drained: false, reason: `down: check ${idOf(9001)}: connection refused (1 of 1 probers)` },
      { region: 'eu-central', address: '198.51.100.2', up: true, drained: false, reason: 'up' },
      { region: 'us-east', address: '192.0.2.1', up: true, drained: false, reason: 'up (no checks)' },
    ]);
    const text = formatTrace(e.trace!);
    expect(text).toMatch(/endpoints:\n {2}eu-central 198\.51\.100\.1 +DOWN +down: check tcp 127\.0\.0\.1:9001 \[[0-9a-f]+\]: connection refused \(1 of 1 probers\) \(dropped\)/);
    expect(text).toMatch(/eu-central 198\.51\.100\.2 +up +up/);
  });

  it('every IPv4 endpoint of the nearest region down: A goes to the next region, AAAA stays with its healthy IPv6 endpoint', () => {
    const s = snap({ down: [9001, 9002] });
    const a = ask(s, 'www');
    expect(a.addresses).toEqual(['192.0.2.1']);
    expect(a.trace!.health).toEqual([
      { region: 'eu-central', up: false, reason: 'endpoints: 0 of 2 IPv4 endpoints healthy, min-healthy 1' },
      { region: 'us-east', up: true, reason: 'up' },
    ]);
    expect(ask(s, 'www', 'AAAA').addresses).toEqual(['2001:db8::1']);
  });

  it('only the IPv6 endpoint down: AAAA goes to the next region while A stays', () => {
    const s = snap({ down: [9006] });
    expect(ask(s, 'www', 'AAAA').addresses).toEqual(['2001:db8:1::1']);
    expect(ask(s, 'www').addresses).toEqual(['198.51.100.1', '198.51.100.2']);
  });

  it('min-healthy 2: one endpoint down takes the region out for that hostname only', () => {
    const s = snap({ down: [9001] });
    const e = ask(s, 'two');
    expect(e.addresses).toEqual(['192.0.2.1']);
    expect(e.trace!.health![0]).toEqual({ region: 'eu-central', up: false, reason: 'endpoints: 1 of 2 IPv4 endpoints healthy, min-healthy 2' });
    expect(ask(s, 'www').addresses).toEqual(['198.51.100.2']);
  });

  it('every endpoint of every region down: when-all-down decides (fail-open: every endpoint, TTL halved)', () => {
    const s = snap({ down: [9001, 9002] });
    const e = ask(s, 'two');
    expect(e.trace!.outcome).toBe('ok'); // us-east has no checks: still up
    expect(e.addresses).toEqual(['192.0.2.1']);
    const f = ask(s, 'fallback');
    expect(f.trace!.outcome).toBe('fallback-region');
    // The fallback region is served whatever its health: with no healthy endpoint, all of them.
    expect(f.addresses).toEqual(['198.51.100.1']);
  });

  it('fail-open serves every endpoint of the nearest region, as if up, with the TTL halved', () => {
    const s = snap({ down: [9001, 9002, 9006], drains: [drain('192.0.2.1'), drain('2001:db8:1::1')] });
    const e = ask(s, 'www');
    expect(e.trace!.outcome).toBe('fail-open');
    expect(e.addresses).toEqual(['198.51.100.1', '198.51.100.2']);
    expect(e.ttls).toEqual([15, 15]);
    expect(ask(s, 'www', 'AAAA').addresses).toEqual(['2001:db8::1']);
  });

  it('a drain beats health: a drained endpoint with passing checks is out, and a drain for some hostnames spares the others', () => {
    const s = snap({ drains: [drain('198.51.100.1', ['two.ep.test.'])] });
    const two = ask(s, 'two');
    expect(two.addresses).toEqual(['192.0.2.1']);
    expect(two.trace!.endpoints![0]).toEqual({ region: 'eu-central', address: '198.51.100.1', up: false, drained: true, reason: 'drained by alice: lb swap' });
    expect(ask(s, 'www').addresses).toEqual(['198.51.100.1', '198.51.100.2']);
    // A hostname without checks is folded only while a drain names its endpoint.
    const all = snap({ drains: [drain('198.51.100.1')] });
    expect(ask(all, 'plain').addresses).toEqual(['192.0.2.1']);
    expect(ask(all, 'www').addresses).toEqual(['198.51.100.2']);
  });

  it('withState re-folds only when endpoint state changes, and unfolds a hostname no drain names any more', () => {
    const s0 = snap();
    expect(s0.steered.get('plain.ep.test.')!.endpoints).toBeUndefined();
    const s1 = withState(s0, { version: 2, endpointDrains: new Map([drain('198.51.100.1')]) });
    expect(ask(s1, 'plain').addresses).toEqual(['192.0.2.1']);
    const s2 = withState(s1, { version: 3, weightOverrides: new Map() });
    expect(s2.steered).toBe(s1.steered); // nothing about endpoints changed: no re-fold
    const s3 = withState(s2, { version: 4, endpointDrains: new Map() });
    expect(ask(s3, 'plain').addresses).toEqual(['198.51.100.1']);
    expect(s3.steered.get('plain.ep.test.')!.endpoints).toBeUndefined();
    expect(ask(withState(s3, { version: 5, endpointHealth: down(9001) }), 'www').addresses).toEqual(['198.51.100.2']);
  });

  it('a hostname without checks or drains has no endpoint fold and answers as before', () => {
    const s = snap({ down: [9001, 9002] });
    expect(s.steered.get('plain.ep.test.')!.records).toBe(s.steered.get('plain.ep.test.')!.all);
    expect(ask(s, 'plain').addresses).toEqual(['198.51.100.1']);
  });
});

describe('endpoint health for tenant subdomains', () => {
  it('a tenant keeps its home region while one endpoint is up, and moves per family when none is', () => {
    expect(ask(snap({ down: [9001] }), 'acme.app').addresses).toEqual(['198.51.100.2']);
    const s = snap({ down: [9001, 9002] });
    const a = ask(s, 'acme.app');
    expect(a.addresses).toEqual(['192.0.2.1']);
    expect(a.trace!.outcome).toBe('residency-fallback');
    const aaaa = ask(s, 'acme.app', 'AAAA');
    expect(aaaa.addresses).toEqual(['2001:db8::1']);
    expect(aaaa.trace!.outcome).toBe('pinned');
  });
});

describe('endpointStrandedBy (the guard of endpoint drains)', () => {
  const d = (address: string, hostnames: string[] | null = null): EndpointDrain => drain(address, hostnames)[1];

  it('nothing stranded while another region or endpoint still serves', () => {
    expect(endpointStrandedBy(snap(), d('198.51.100.1'))).toEqual([]);
  });

  it('names the hostname and family a drain would leave with no operational region', () => {
    // fallback: eu-central has one endpoint, us-east's one check is down.
    const out = endpointStrandedBy(snap({ down: [9002] }), d('198.51.100.1'));
    expect(out.map((s) => s.fqdn)).toEqual(['fallback.ep.test. (A)']);
    expect(out[0].regions.map((r) => r.region)).toEqual(['eu-central', 'us-east']);
    expect(out[0].regions).toEqual([
      { region: 'eu-central', reason: '0 of 1 IPv4 endpoints healthy, min-healthy 1' },
      { region: 'us-east', reason: '0 of 1 IPv4 endpoints healthy, min-healthy 1' },
    ]);
    // Limited to another hostname: nothing stranded.
    expect(endpointStrandedBy(snap({ down: [9002] }), d('198.51.100.1', ['www.ep.test.']))).toEqual([]);
  });
});
