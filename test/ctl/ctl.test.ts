// `regiondns ctl` against a real HTTP server on 127.0.0.1 with the ops routes.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCtlCaptured } from '../helpers/run-ctl.js';
import type { Drain, Ramp, WeightOverride } from '../../src/state/fleet-store.js';
import { freePort } from '../helpers/ports.js';
import { API, cleanup, READ_TOKEN, startFleet, WEB, WRITE_TOKEN, type Fleet } from '../ops/fixture.js';

let fleet: Fleet;
let server: string;

beforeAll(async () => {
  fleet = await startFleet();
  await fleet.app.listen({ host: '127.0.0.1', port: 0 });
  server = `http://127.0.0.1:${(fleet.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await fleet.close();
  cleanup(fleet.dir);
});

const ctl = (args: string[], env: Record<string, string> = {}) => runCtlCaptured(args, { REGIONDNS_SERVER: server, REGIONDNS_TOKEN: WRITE_TOKEN, ...env });

/** Clears every override between tests through the store (the server is shared). */
beforeEach(async () => {
  const changes = (['drain', 'weights', 'ramp', 'endpoint'] as const).flatMap((ns) => [...fleet.store.get(ns).keys()].map((key) => ({ ns, key, value: null })));
  if (changes.length) await fleet.store.write(changes, { actor: 'test', action: 'reset', target: '*', reason: null, before: null, after: null });
});

describe('ctl', () => {
  it('drain-endpoint, state, undrain-endpoint', async () => {
    const d = await ctl(['drain-endpoint', '192.0.2.10', '--reason', 'lb swap', '--hostname', 'api.gslb.example.com']);
    expect(d).toMatchObject({ code: 0, out: `192.0.2.10 drained for ${API}` });
    const s = await ctl(['state']);
    expect(s.out).toMatch(/ENDPOINT\s+DRAIN\n192\.0\.2\.10\s+drained by alice \d+s ago: lb swap \(only api\.gslb\.example\.com\.\)/);
    expect(await ctl(['undrain-endpoint', '192.0.2.10'])).toMatchObject({ code: 0, out: '192.0.2.10 is no longer drained' });
    const stranding = await ctl(['drain-endpoint', '198.51.100.30', '--reason', 'x']);
    expect(stranding.code).toBe(1);
    expect(stranding.err).toMatch(/REGIONDNS_ERR_LAST_REGION/);
    expect((await ctl(['drain-endpoint', '198.51.100.30', '--reason', 'x', '--force'])).code).toBe(0);
    const usage = await ctl(['drain-endpoint', '192.0.2.10']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/ctl drain-endpoint needs --reason TEXT/);
  });

  it('drain, state, undrain', async () => {
    const d = await ctl(['drain', 'us-east', '--reason', 'db failover', '--hostname', 'web.gslb.example.com']);
    expect(d).toMatchObject({ code: 0, err: '' });
    expect(d.out).toBe(`us-east drained for ${WEB}`);
    expect(fleet.store.get('drain').get('us-east')).toMatchObject({ reason: 'db failover', by: 'alice', hostnames: [WEB] } satisfies Partial<Drain>);

    const s = await ctl(['state']);
    expect(s.code).toBe(0);
    expect(s.out).toMatch(/^fleet store version \d+ \(local state in \S+regiondns\.db\), snapshot \d+, instance test-1/);
    expect(s.out).toMatch(/REGION\s+HEALTH\s+DRAIN/);
    expect(s.out).toMatch(new RegExp(`us-east\\s+up\\s+drained by alice \\d+s ago: db failover \\(only ${WEB.replace(/\./g, '\\.')}\\)`));
    expect(s.out).toMatch(/eu-central\s+up\s+-/);
    expect(s.out).toMatch(/ {2}stable\s+us-east,eu-central\s+99\.9\s+99\.9\s+99\.9%/);

    const u = await ctl(['undrain', 'us-east', '--reason', 'done']);
    expect(u).toMatchObject({ code: 0, out: 'us-east is no longer drained' });
    const again = await ctl(['undrain', 'us-east']);
    expect(again.code).toBe(1);
    expect(again.err).toBe('error: us-east is not drained (REGIONDNS_ERR_NOT_DRAINED)');
  });

  it('a drain that would strand a hostname fails with the API message, --force does it', async () => {
    const r = await ctl(['drain', 'eu-central', '--reason', 'maintenance']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: draining eu-central would leave a hostname with no operational region: eu\.gslb\.example\.com\..*\(REGIONDNS_ERR_LAST_REGION\)$/);
    const f = await ctl(['drain', 'eu-central', '--reason', 'maintenance', '--force']);
    expect(f.code).toBe(0);
    expect(f.out).toMatch(/forced/);
  });

  it('split sets and clears weights', async () => {
    const r = await ctl(['split', 'api.gslb.example.com', 'stable=99', 'canary=1', '--reason', 'more canary']);
    expect(r).toMatchObject({ code: 0, out: `${API} split set: stable=99 canary=1` });
    expect((fleet.store.get('weights').get(API) as WeightOverride).weights).toEqual({ stable: 99, canary: 1 });
    expect(fleet.coordinator.snapshot().weightOverrides.get(API)).toEqual([99, 1]);
    expect((await ctl(['state'])).out).toMatch(/split set by alice/);
    const bad = await ctl(['split', 'api.gslb.example.com', 'stable=99']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/missing: canary/);
    const c = await ctl(['split', 'api.gslb.example.com', '--clear']);
    expect(c).toMatchObject({ code: 0, out: `${API} is back to the weights of its file: stable=99.9 canary=0.1` });
  });

  it('ramp start, show, stop', async () => {
    const r = await ctl(['ramp', 'api.gslb.example.com', '--set', 'canary', '--steps', '0.1,1,5,25,100', '--every', '10m']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ramp of api\.gslb\.example\.com\. started: canary at 0\.1%.*next step \(1%\) in 10m/);
    expect(fleet.store.get('ramp').get(API)).toMatchObject({ steps: [0.1, 1, 5, 25, 100], everyMs: 600_000, haltOnUnhealthyRegions: true } satisfies Partial<Ramp>);
    const show = await ctl(['ramp', '--show', 'api.gslb.example.com']);
    expect(show.out).toMatch(/^ramp of api\.gslb\.example\.com\. by alice: running, step 1\/5 \(canary 0\.1%; steps 0\.1, 1, 5, 25, 100; every 10m\), next step in (9m5\d|10m)/);
    expect((await ctl(['state'])).out).toMatch(/ramp of api\.gslb\.example\.com\. by alice: running/);
    const stop = await ctl(['ramp', '--stop', 'api.gslb.example.com', '--reason', 'errors']);
    expect(stop.code).toBe(0);
    expect(stop.out).toMatch(/current weights stay in force/);
    const none = await ctl(['ramp', '--show', 'api.gslb.example.com']);
    expect(none).toMatchObject({ code: 1, err: `error: ${API} has no ramp (REGIONDNS_ERR_NO_RAMP)` });
    const noHalt = await ctl(['ramp', 'api.gslb.example.com', '--set', 'canary', '--steps', '1,100', '--every', '1h', '--no-halt']);
    expect(noHalt.code).toBe(0);
    expect(fleet.store.get('ramp').get(API)).toMatchObject({ haltOnUnhealthyRegions: false });
  });

  it('explain prints the trace and the summary; a drain changes it', async () => {
    const r = await ctl(['explain', 'web.gslb.example.com', '--client', '192.0.2.0/24']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/hostname: web\.gslb\.example\.com\./);
    expect(r.out).toMatch(/answer: NOERROR web\.gslb\.example\.com\. 30 A 192\.0\.2\.20/);
    await ctl(['drain', 'us-east', '--reason', 'x']);
    expect((await ctl(['explain', 'web.gslb.example.com', '--client', '192.0.2.0/24'])).out).toMatch(/198\.51\.100\.20/);
    const aaaa = await ctl(['explain', 'web.gslb.example.com', '--client', '2001:db8::1', '--type', 'AAAA']);
    expect(aaaa.code).toBe(0);
    const bad = await ctl(['explain', 'web.gslb.example.com', '--client', 'banana']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/client: "banana" is not an IPv4 or IPv6/);
  });

  it('audit lists the changes, newest first', async () => {
    await ctl(['drain', 'us-east', '--reason', 'audit me']);
    const r = await ctl(['audit', '--limit', '2']);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^AT\s+VERSION\s+ACTOR\s+ACTION\s+TARGET\s+REASON$/);
    expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\dT\S+\s+\d+\s+alice\s+drain\s+us-east\s+audit me$/);
    expect(lines).toHaveLength(3);
  });

  it('--json prints the API answer', async () => {
    const r = await ctl(['state', '--json']);
    expect(r.code).toBe(0);
    const state = JSON.parse(r.out);
    expect(state.hostnames.map((h: { fqdn: string }) => h.fqdn)).toContain(API);
    const e = await ctl(['--json', 'undrain', 'ap-south']);
    expect(e.code).toBe(1);
    expect(JSON.parse(e.out).error.code).toBe('REGIONDNS_ERR_NOT_DRAINED');
  });

  it('tokens: none → 401 message, read-only → 403 message, --token overrides the env', async () => {
    const none = await ctl(['drain', 'us-east', '--reason', 'x'], { REGIONDNS_TOKEN: '' });
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/wants a token: pass --token TOKEN or set REGIONDNS_TOKEN .*\(REGIONDNS_ERR_UNAUTHORIZED\)/);
    const ro = await ctl(['drain', 'us-east', '--reason', 'x', '--token', READ_TOKEN]);
    expect(ro.code).toBe(1);
    expect(ro.err).toMatch(/read-only.*\(REGIONDNS_ERR_FORBIDDEN\)/);
    expect((await ctl(['state', '--token', READ_TOKEN], { REGIONDNS_TOKEN: 'nope' })).code).toBe(0);
  });

  it('--server overrides the env; an unreachable server is exit 1 with a hint', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    expect((await ctl(['state', '--server', `${server}/`], { REGIONDNS_SERVER: closed })).code).toBe(0);
    const r = await ctl(['state'], { REGIONDNS_SERVER: closed });
    expect(r.code).toBe(1);
    expect(r.err).toBe(`error: cannot reach ${closed}: ECONNREFUSED (is regiondns serve running with --http? set --server or REGIONDNS_SERVER)`);
  });

  it.each([
    [[], /Usage:/],
    [['frobnicate'], /unknown ctl command "frobnicate"/],
    [['state', '--force'], /--force is not an option of ctl state/],
    [['state', 'extra'], /takes no arguments/],
    [['drain', 'us-east'], /needs --reason/],
    [['drain'], /takes one REGION/],
    [['drain', 'us-east', '--reason'], /argument missing/],
    [['undrain', 'us-east', 'eu-central'], /takes one REGION, not us-east eu-central/],
    [['split', 'api.gslb.example.com'], /SET=WEIGHT/],
    [['split', 'api.gslb.example.com', 'canary'], /"canary" is not SET=WEIGHT/],
    [['split', 'api.gslb.example.com', 'canary=lots'], /"canary=lots" is not SET=WEIGHT/],
    [['split', 'api.gslb.example.com', 'canary=1', '--clear'], /takes no SET=WEIGHT/],
    [['ramp', 'api.gslb.example.com', '--set', 'canary'], /needs --set SET --steps LIST --every DURATION/],
    [['ramp', 'api.gslb.example.com', '--set', 'canary', '--steps', '1,x', '--every', '1m'], /--steps: "x" is not a number/],
    [['ramp', '--show', '--stop', 'api.gslb.example.com'], /--show or --stop, not both/],
    [['ramp', '--stop', 'api.gslb.example.com', '--every', '1m'], /--every starts a ramp/],
    [['explain', 'api.gslb.example.com'], /needs --client/],
    [['audit', '--limit', 'ten'], /--limit takes a number/],
    [['state', '--bogus'], /unknown option --bogus/],
  ])('usage error %j → exit 2', async (args, message) => {
    const r = await ctl(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.out).toBe('');
  });

  it('--help prints the usage and exits 0', async () => {
    const r = await ctl(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/regiondns ctl drain REGION --reason TEXT/);
  });
});
