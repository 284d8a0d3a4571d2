// Data residency for tenant subdomains, without sockets: the residency rules as a table, the slug and
// line formats, and answer() over a snapshot of test/e2e/tenant-zones (owner = the question, ECS
// scope /0, API entries over the file, CNAME into the wildcard, unknown tenants).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/load-config.js';
import { RRType, Rcode } from '../../src/dns/constants.js';
import { decodeQuery } from '../../src/dns/decode-query.js';
import { encodeResponse } from '../../src/dns/encode-response.js';
import { bytesToIp } from '../../src/dns/address.js';
import { QUESTION_NAME, type Answer, type Query } from '../../src/dns/types.js';
import type { ClientLocation, GeoLocator } from '../../src/geo/types.js';
import { answer } from '../../src/query/answer.js';
import { explainQuery } from '../../src/query/explain.js';
import type { Drain } from '../../src/state/fleet-store.js';
import { OverrideMap } from '../../src/state/store-kit.js';
import { buildSnapshot, withState, type RegionHealth } from '../../src/state/snapshot.js';
import type { HostnamePolicy, Region, RegionId, TenantPolicy, WhenHomeDown } from '../../src/steering/policy.js';
import { formatTrace } from '../../src/steering/trace.js';
import { parseTenants, routeTenant, slugProblem, TenantLineReader, tenantSlug, type TenantRoute } from '../../src/steering/tenant-residency.js';
import { buildQuery, ecsOption, Packet } from '../helpers/dns-client.js';
import { downRegions, endpoints } from './fixtures.js';

const region = (id: RegionId, lat: number, lon: number): Region => ({ id, location: { lat, lon }, file: 'regions.yaml', line: 1 });
const REGIONS: ReadonlyMap<RegionId, Region> = new Map([
  ['us-east', region('us-east', 39.04, -77.49)],
  ['eu-central', region('eu-central', 50.11, 8.68)],
  ['eu-west', region('eu-west', 53.35, -6.26)],
  ['ap-south', region('ap-south', 19.08, 72.88)],
]);

function tenantPolicy(tenants: Partial<TenantPolicy> = {}, over: Partial<HostnamePolicy> = {}): HostnamePolicy {
  const sets = [{ name: 'all', weight: 100, regions: ['us-east', 'eu-central', 'eu-west'] }];
  return {
    fqdn: '*.app.gslb.example.com.', zone: 'gslb.example.com.', ttl: 60, answers: 1,
    pools: new Map([['us-east', endpoints('192.0.2.20')], ['eu-central', endpoints('198.51.100.20')], ['eu-west', endpoints('198.51.100.40')]]),
    sets, weights: [100], sticky: 'none', whenAllDown: { kind: 'fail-open' }, file: 'x.steer.yaml', line: 2,
    tenants: { residency: new Map([['eu-central', ['eu-west']], ['us-east', []]]), whenHomeDown: 'fallback', unknown: 'nearest', ...tenants },
    ...over,
  };
}

describe('residency rules (routeTenant)', () => {
  const cases: {
    name: string; home: RegionId; down?: RegionId[]; whenHomeDown?: WhenHomeDown; residency?: [RegionId, RegionId[]][]; answers?: number;
    want: Pick<TenantRoute, 'outcome' | 'regions' | 'ttl'>; why: RegExp;
  }[] = [
    { name: 'home up: pinned to it', home: 'eu-central', want: { outcome: 'pinned', regions: ['eu-central'], ttl: 60 }, why: /home eu-central is up: no fallback needed/ },
    { name: 'home up, answers 2: home, then an allowed region', home: 'eu-central', answers: 2, want: { outcome: 'pinned', regions: ['eu-central', 'eu-west'], ttl: 60 }, why: /no fallback needed/ },
    { name: 'home up while the allowed region is down: still home', home: 'eu-central', down: ['eu-west'], want: { outcome: 'pinned', regions: ['eu-central'], ttl: 60 }, why: /is up/ },
    { name: 'home down, an allowed fallback up: the fallback', home: 'eu-central', down: ['eu-central'], want: { outcome: 'residency-fallback', regions: ['eu-west'], ttl: 60 }, why: /home eu-central is down: probes failing[\s\S]*residency lets eu-central tenants go to eu-west; operational, nearest to eu-central first: eu-west \(\d+ km\)/ },
    {
      name: 'home down, several allowed: nearest to home first (not the configured order)', home: 'eu-central', down: ['eu-central'],
      residency: [['eu-central', ['us-east', 'eu-west']]], answers: 2,
      want: { outcome: 'residency-fallback', regions: ['eu-west', 'us-east'], ttl: 60 }, why: /nearest to eu-central first: eu-west \(\d+ km\), us-east/,
    },
    { name: 'home down, the allowed fallback down too: home anyway, half TTL', home: 'eu-central', down: ['eu-central', 'eu-west'], want: { outcome: 'fail-open', regions: ['eu-central'], ttl: 30 }, why: /none of them is operational: answering eu-central anyway \(fail-open inside the tenant's regions\)/ },
    { name: 'home down without allowed fallbacks (us-east: []): home anyway, never elsewhere', home: 'us-east', down: ['us-east'], want: { outcome: 'fail-open', regions: ['us-east'], ttl: 30 }, why: /residency lets us-east tenants go nowhere else/ },
    { name: 'a home region residency does not list: no fallbacks', home: 'eu-west', down: ['eu-west'], want: { outcome: 'fail-open', regions: ['eu-west'], ttl: 30 }, why: /go nowhere else/ },
    { name: 'strict: when-home-down servfail', home: 'eu-central', down: ['eu-central'], whenHomeDown: 'servfail', want: { outcome: 'servfail', regions: [], ttl: 60 }, why: /when-home-down: servfail: no fallback/ },
    { name: 'when-home-down fail-open: home even though a fallback is up', home: 'eu-central', down: ['eu-central'], whenHomeDown: 'fail-open', want: { outcome: 'fail-open', regions: ['eu-central'], ttl: 30 }, why: /answering the home region anyway/ },
    { name: 'a home region without a pool counts as down', home: 'ap-south', want: { outcome: 'servfail', regions: [], ttl: 60 }, why: /home ap-south is down: no pool for \*\.app/ },
  ];
  it.each(cases)('$name', (c) => {
    const p = tenantPolicy({ whenHomeDown: c.whenHomeDown ?? 'fallback', ...(c.residency ? { residency: new Map(c.residency) } : {}) }, { answers: c.answers ?? 1 });
    const r = routeTenant(p, p.tenants!, c.home, downRegions(...(c.down ?? [])), REGIONS);
    expect({ outcome: r.outcome, regions: r.regions, ttl: r.ttl }).toEqual(c.want);
    expect(r.why.join('\n')).toMatch(c.why);
    expect(r.health[0].region).toBe(c.home);
  });

  it('never answers a region outside the tenant\'s list, whatever is down', () => {
    const all: RegionId[] = ['us-east', 'eu-central', 'eu-west'];
    for (const whenHomeDown of ['fallback', 'servfail', 'fail-open'] as const) {
      for (let mask = 0; mask < 8; mask++) {
        const down = all.filter((_, i) => mask & (1 << i));
        for (const home of all) {
          const p = tenantPolicy({ whenHomeDown }, { answers: 3 });
          const allowed = [home, ...(p.tenants!.residency.get(home) ?? [])];
          const r = routeTenant(p, p.tenants!, home, downRegions(...down), REGIONS);
          for (const got of r.regions) expect(allowed, `${home} ${whenHomeDown} down=${down}`).toContain(got);
        }
      }
    }
  });
});

describe('slugs', () => {
  it.each([
    ['acme', null], ['a', null], ['a-1', null], ['xn--bcher-kva', null], ['x'.repeat(63), null],
    ['', /empty/], ['x'.repeat(64), /64 characters long; a DNS label holds at most 63/], ['Acme', /upper-case.*lower case/],
    ['-acme', /must not start or end with "-"/], ['acme-', /must not start or end/], ['ac_me', /a-z, 0-9 and "-"/], ['ac.me', /one DNS label/],
  ])('%j', (slug, problem) => {
    const p = slugProblem(slug);
    if (problem === null) expect(p).toBeNull();
    else expect(p).toMatch(problem);
  });

  it.each([
    ['acme.app.x.', '*.app.x.', 'acme'],
    ['www.acme.app.x.', '*.app.x.', 'acme'],
    ['a.b.c.app.x.', '*.app.x.', 'c'],
    ['a\\.b.app.x.', '*.app.x.', ''],
    ['*.app.x.', '*.app.x.', '*'],
  ])('%s under %s → %j', (name, wildcard, slug) => {
    expect(tenantSlug(name, wildcard)).toBe(slug);
  });
});

describe('tenant lines (file and import)', () => {
  const steering = { regions: REGIONS, hostnames: new Map([['*.app.gslb.example.com.', tenantPolicy()]]) };

  it('CSV: header, comments, blank lines, spaces and CRLF', () => {
    const r = parseTenants('\ufeffslug,region\r\n# comment\n\n acme , eu-central\r\nglobex,us-east\n', 'csv', steering);
    expect(r.problems).toEqual([]);
    expect(r.lines).toBe(2);
    expect([...r.entries]).toEqual([['acme', 'eu-central'], ['globex', 'us-east']]);
  });

  it('JSON lines', () => {
    const r = parseTenants('{"slug":"acme","region":"eu-west"}\n\n{"slug":"globex","region":"us-east"}', 'jsonl', steering);
    expect(r.problems).toEqual([]);
    expect([...r.entries]).toEqual([['acme', 'eu-west'], ['globex', 'us-east']]);
  });

  it('every problem with its line: format, bad slug, unknown region, no pool, duplicate (naming the first line)', () => {
    const text = ['acme,eu-central', 'nocomma', 'a,b,c', 'Bad,us-east', 'initech,mars-1', 'hooli,ap-south', 'acme,eu-west', 'globex,us-east'].join('\n');
    const r = parseTenants(text, 'csv', steering);
    expect(r.problems.map((p) => [p.line, p.kind])).toEqual([[2, 'format'], [3, 'format'], [4, 'bad-slug'], [5, 'unknown-region'], [6, 'no-pool'], [7, 'duplicate']]);
    expect(r.problems[3].message).toMatch(/tenant initech: unknown region "mars-1" \(regions\.yaml defines: us-east, eu-central, eu-west, ap-south\)/);
    expect(r.problems[4].message).toMatch(/region "ap-south" has no pool for \*\.app\.gslb\.example\.com\./);
    expect(r.problems[5].message).toBe('duplicate slug "acme": already on line 1');
    expect(r.problemCount).toBe(6);
    expect(r.lines).toBe(8);
  });

  it('JSON lines problems: not JSON, unknown keys, wrong types', () => {
    const r = parseTenants('{"slug":"a"\n{"slug":"a","region":"us-east","x":1}\n{"slug":1,"region":"us-east"}\n[]', 'jsonl', steering);
    expect(r.problems.map((p) => p.line)).toEqual([1, 2, 3, 4]);
    expect(r.problems[1].message).toMatch(/unknown key "x"/);
  });

  it('text in pieces split at any place reads as the whole text does', () => {
    const texts: [string, 'csv' | 'jsonl'][] = [
      ['\ufeffslug,region\r\n# comment\n\n acme , eu-central\r\nnocomma\nglobex,us-east\nacme,eu-west\nhooli,mars', 'csv'],
      ['{"slug":"acme","region":"eu-west"}\n\n{"slug":"a"\n{"slug":"acme","region":"us-east"}\n', 'jsonl'],
    ];
    for (const [text, format] of texts) {
      const whole = parseTenants(text, format, steering);
      expect(whole.problems.some((p) => p.kind === 'duplicate')).toBe(true);
      for (let i = 0; i <= text.length; i++) {
        for (const j of [i, Math.min(text.length, i + 1), Math.min(text.length, i + 7)]) {
          const reader = new TenantLineReader(format, steering);
          for (const piece of [text.slice(0, i), text.slice(i, j), text.slice(j)]) reader.push(piece);
          const r = reader.end();
          expect({ ...r, entries: [...r.entries] }, `split at ${i}, ${j}`).toEqual({ ...whole, entries: [...whole.entries] });
        }
      }
    }
  });

  it('counts every problem but lists only the first ones', () => {
    const text = Array.from({ length: 100 }, (_, i) => `t${i},mars`).join('\n');
    const r = parseTenants(text, 'csv', steering, 5);
    expect(r.problems).toHaveLength(5);
    expect(r.problemCount).toBe(100);
  });
});

describe('OverrideMap.changesSince (worker deltas)', () => {
  it('lists set, changed and removed keys, and only those', () => {
    const a = OverrideMap.from(Array.from({ length: 5000 }, (_, i) => [`t${i}`, { region: 'us-east' }] as const));
    const b = a.with([{ key: 't1', value: { region: 'eu-west' } }, { key: 't2', value: null }, { key: 'new', value: { region: 'eu-central' } }]);
    const d = b.changesSince(a).sort((x, y) => x.key.localeCompare(y.key));
    expect(d).toEqual([{ key: 'new', value: { region: 'eu-central' } }, { key: 't1', value: { region: 'eu-west' } }, { key: 't2', value: undefined }]);
    expect(b.changesSince(b)).toEqual([]);
    // A reload from scratch (new objects) with equal regions: nothing changed for a worker.
    const same = (x: unknown, y: unknown) => (x as { region: string }).region === (y as { region: string }).region;
    expect(OverrideMap.from([...a]).changesSince(a, same)).toEqual([]);
  });
});

// ---- answer() over a snapshot of the e2e fixture ---------------------------------------------------

const ZONES = path.resolve(import.meta.dirname, '../e2e/tenant-zones');
const cfg = loadConfig(ZONES);
const MOUNTAIN_VIEW: ClientLocation = Object.freeze({ point: { lat: 37.39, lon: -122.08 }, country: 'US', city: 'Mountain View', networkPrefix: 24 });
const geo: GeoLocator = { description: 'test', locate: () => MOUNTAIN_VIEW };

function snapshot(state: { drains?: RegionId[]; down?: RegionId[]; overrides?: [string, unknown][] } = {}) {
  expect(cfg.errors).toEqual([]);
  const drains = new Map<RegionId, Drain>((state.drains ?? []).map((r) => [r, { region: r, reason: 'maintenance', hostnames: null, by: 'alice', at: 0 }]));
  const regionHealth = new Map<RegionId, RegionHealth>((state.down ?? []).map((r) => [r, { up: false, reason: '0/2 probes pass' }]));
  return buildSnapshot({
    version: 1, zones: cfg.zones, steering: cfg.steering, geo, latencyTable: null, drains, regionHealth,
    tenantOverrides: OverrideMap.from(state.overrides ?? []),
  });
}

function ask(snap: ReturnType<typeof snapshot>, name: string, type: 'A' | 'AAAA' = 'A', subnet: string | null = '8.8.8.0/24') {
  const req = buildQuery(name, type, subnet ? { edns: { options: [ecsOption(subnet)] } } : {});
  const d = decodeQuery(req);
  if (d.kind !== 'query') throw new Error('bad query');
  const ctx = answer(d.query, snap, () => 0.5, Uint8Array.of(127, 0, 0, 1));
  const ans = ctx.answer;
  return { ans, ctx, req, query: d.query, wire: () => Packet.parse(encodeResponse(req, d.query as Query, ans, 1232)) };
}

const addresses = (a: Answer) => a.answer.filter((r) => r.type === RRType.A || r.type === RRType.AAAA).map((r) => bytesToIp(r.rdata));

describe('answer() for tenant subdomains', () => {
  it('a pinned tenant gets its home region whatever the client, with ECS scope /0', () => {
    const snap = snapshot();
    for (const subnet of ['8.8.8.0/24', '193.0.0.0/24', null]) {
      const { ans, ctx } = ask(snap, 'acme.app.tenant.test', 'A', subnet);
      expect(addresses(ans)).toEqual(['198.51.100.20']);
      expect(ans.ecsScope).toBe(0);
      expect(ans.aa).toBe(true);
      expect(ctx.steering?.outcome).toBe('pinned');
      expect(ctx.steeredName).toBe('*.app.tenant.test.');
    }
  });

  it('the answer is owned by the question: written as a pointer to it, in the asker\'s case', () => {
    const { ans, req, query } = ask(snapshot(), 'AcMe.App.tenant.test');
    expect(ans.answer[0].owner).toBe(QUESTION_NAME);
    const out = encodeResponse(req, query, ans, 1232);
    const at = query.questionEnd + 0; // the answer's owner follows the question
    expect([out[at], out[at + 1]]).toEqual([0xc0, 0x0c]);
    const parsed = Packet.parse(out);
    expect(parsed.answers.map((a: { name: string; address: string }) => [a.name, a.address])).toEqual([['AcMe.App.tenant.test', '198.51.100.20']]);
  });

  it('answers are made with the snapshot per home region: no per-query allocation of records', () => {
    const snap = snapshot();
    expect(ask(snap, 'acme.app.tenant.test').ans.answer).toBe(ask(snap, 'www.acme.app.tenant.test').ans.answer);
    expect(ask(snap, 'acme.app.tenant.test').ans.answer).not.toBe(ask(snapshot(), 'acme.app.tenant.test').ans.answer);
    // One per (tenant hostname, region), made before any query: never one per tenant.
    const made = snap.tenantAnswers.get('*.app.tenant.test.')!;
    expect([...made.keys()]).toEqual([...cfg.steering.regions.keys()]);
    expect(ask(snap, 'acme.app.tenant.test').ans.answer).toBe(made.get('eu-central')!.a.records);
  });

  it('a new snapshot keeps the tenant answers when only overrides change, and remakes them when health does', () => {
    const snap = snapshot();
    const moved = withState(snap, { version: 2, tenantOverrides: OverrideMap.from([['acme', { region: 'eu-west', by: 'alice', at: 1 }]]) });
    expect(moved.tenantAnswers).toBe(snap.tenantAnswers);
    expect(addresses(ask(moved, 'acme.app.tenant.test').ans)).toEqual(['198.51.100.40']);
    const down = withState(snap, { version: 3, regionHealth: new Map([['eu-central', { up: false, reason: '0/2 probes pass' }]]) });
    expect(down.tenantAnswers).not.toBe(snap.tenantAnswers);
    expect(addresses(ask(down, 'acme.app.tenant.test').ans)).toEqual(['198.51.100.40']);
    expect(addresses(ask(snap, 'acme.app.tenant.test').ans)).toEqual(['198.51.100.20']);
  });

  it('a name below the tenant\'s label belongs to the tenant', () => {
    expect(addresses(ask(snapshot(), 'www.acme.app.tenant.test').ans)).toEqual(['198.51.100.20']);
  });

  it('drained home: the allowed EU region, never us-east', () => {
    expect(addresses(ask(snapshot({ drains: ['eu-central'] }), 'acme.app.tenant.test').ans)).toEqual(['198.51.100.40']);
    const both = ask(snapshot({ drains: ['eu-central', 'eu-west'] }), 'acme.app.tenant.test');
    expect(addresses(both.ans)).toEqual(['198.51.100.20']); // home anyway (fail-open inside the EU), never us-east
    expect(both.ans.answer[0].ttl).toBe(30);
    expect(both.ctx.steering?.outcome).toBe('fail-open');
  });

  it('AAAA: the home region\'s IPv6 endpoints, NODATA when it has none', () => {
    expect(addresses(ask(snapshot(), 'globex.app.tenant.test', 'AAAA').ans)).toEqual(['2001:db8:1::20']);
    const acme = ask(snapshot(), 'acme.app.tenant.test', 'AAAA').ans;
    expect(acme.rcode).toBe(Rcode.NOERROR);
    expect(acme.answer).toEqual([]);
    expect(acme.authority[0].type).toBe(RRType.SOA);
  });

  it('an unknown tenant is steered by latency (unknown: nearest), scoped to the client network', () => {
    const { ans, ctx } = ask(snapshot(), 'zzz.app.tenant.test');
    expect(addresses(ans)).toEqual(['192.0.2.20']);
    expect(ctx.steering?.outcome).toBe('ok');
    expect(ans.ecsScope).toBe(24);
  });

  it('API entries beat the file; a tombstone hides the file\'s entry', () => {
    expect(addresses(ask(snapshot({ overrides: [['acme', { region: 'eu-west', by: 'alice', at: 1 }]] }), 'acme.app.tenant.test').ans)).toEqual(['198.51.100.40']);
    const hidden = ask(snapshot({ overrides: [['acme', { region: null, by: 'alice', at: 1 }]] }), 'acme.app.tenant.test');
    expect(hidden.ctx.steering?.outcome).toBe('ok'); // unknown now: latency steering
    expect(addresses(ask(snapshot({ overrides: [['newco', { region: 'us-east', by: 'bob', at: 1 }]] }), 'newco.app.tenant.test').ans)).toEqual(['192.0.2.20']);
  });

  it('through a CNAME the synthesized records get their real owner', () => {
    const { ans, wire } = ask(snapshot(), 'shop.tenant.test');
    expect(ans.answer.map((r) => [r.owner, r.type])).toEqual([['shop.tenant.test.', RRType.CNAME], ['acme.app.tenant.test.', RRType.A]]);
    expect(wire().answers.map((a: { name: string }) => a.name)).toEqual(['shop.tenant.test', 'acme.app.tenant.test']);
  });

  it('the empty non-terminal above the wildcard is NODATA; the wildcard\'s own name is no tenant', () => {
    const ent = ask(snapshot(), 'app.tenant.test').ans;
    expect([ent.rcode, ent.answer.length]).toEqual([Rcode.NOERROR, 0]);
    expect(ask(snapshot(), '*.app.tenant.test').ctx.steering?.outcome).toBe('ok');
  });

  it('strict unknown: servfail', () => {
    const strict = structuredClone(cfg.steering.hostnames.get('*.app.tenant.test.')!.tenants!);
    const steering = { ...cfg.steering, hostnames: new Map(cfg.steering.hostnames) };
    steering.hostnames.set('*.app.tenant.test.', { ...steering.hostnames.get('*.app.tenant.test.')!, tenants: { ...strict, unknown: 'servfail' } });
    const snap = buildSnapshot({ version: 1, zones: cfg.zones, steering, geo, latencyTable: null });
    expect(ask(snap, 'zzz.app.tenant.test').ans.rcode).toBe(Rcode.SERVFAIL);
    expect(ask(snap, 'acme.app.tenant.test').ans.rcode).toBe(Rcode.NOERROR);
  });

  it('explain: "tenant acme → eu-central (pinned)" and why a fallback was or was not taken', () => {
    const client = { family: 1 as const, sourcePrefix: 24, scopePrefix: 0, address: new Uint8Array([8, 8, 8, 0]) };
    const pinned = explainQuery(snapshot(), 'acme.app.tenant.test.', RRType.A, client);
    expect(pinned.steered).toBe(true);
    expect(pinned.answer).toEqual(['acme.app.tenant.test. 60 A 198.51.100.20']);
    const text = formatTrace(pinned.trace!);
    expect(text).toContain('tenant acme → eu-central (pinned)');
    expect(text).toMatch(/home region from the tenants file \(.*tenants\.csv\)/);
    expect(text).toContain('home eu-central is up: no fallback needed');
    expect(text).toMatch(/ECS scope \/0/);

    const moved = formatTrace(explainQuery(snapshot({ drains: ['eu-central'] }), 'acme.app.tenant.test.', RRType.A, client).trace!);
    expect(moved).toContain('tenant acme → eu-west (fallback)');
    expect(moved).toContain('home eu-central is down: drained by alice: maintenance');
    expect(moved).toMatch(/residency lets eu-central tenants go to eu-west; operational, nearest to eu-central first: eu-west \(\d+ km\)/);

    const us = formatTrace(explainQuery(snapshot({ down: ['us-east'] }), 'globex.app.tenant.test.', RRType.A, client).trace!);
    expect(us).toContain('tenant globex → us-east (fail-open)');
    expect(us).toContain('residency lets us-east tenants go nowhere else');

    const api = formatTrace(explainQuery(snapshot({ overrides: [['acme', { region: 'eu-west', by: 'alice', at: 0 }]] }), 'acme.app.tenant.test.', RRType.A, client).trace!);
    expect(api).toContain('tenant acme → eu-west (pinned)');
    expect(api).toContain("home region from the ops API (set by alice at 1970-01-01T00:00:00.000Z, over the file's eu-central)");

    const unknown = formatTrace(explainQuery(snapshot(), 'zzz.app.tenant.test.', RRType.A, client).trace!);
    expect(unknown).toContain('tenant zzz → not in the tenant map (unknown)');
    expect(unknown).toContain('order: by estimated RTT from the client');
  });
});
