// `regiondns ctl tenants|health|drift|reload` and its token hints, against a real HTTP server with the ops routes.
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCtlCaptured } from '../helpers/run-ctl.js';
import { cleanup, READ_TOKEN, startFleet, WRITE_TOKEN, type Fleet } from '../ops/fixture.js';

let fleet: Fleet;
let server: string;

beforeAll(async () => {
  fleet = await startFleet({ tenants: true, healthReport: () => ({ prober: 'p1', regions: { 'us-east': { operational: true, reason: 'up', stale: false, checks: { healthz: { target: 'GET http://10.0.0.1/healthz', up: true, stale: false, cause: 'HTTP 200', voters: [{ prober: 'p1', up: true }] } } } } }) });
  await fleet.app.listen({ host: '127.0.0.1', port: 0 });
  server = `http://127.0.0.1:${(fleet.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await fleet.close();
  cleanup(fleet.dir);
});

const ctl = (args: string[], env: Record<string, string | undefined> = {}) => runCtlCaptured(args, { REGIONDNS_SERVER: server, REGIONDNS_TOKEN: WRITE_TOKEN, ...env });

describe('ctl tenants', () => {
  it('set, get, list with a prefix and pages, delete', async () => {
    expect((await ctl(['tenants', 'set', 'acorn', 'us-east', '--reason', 'new customer'])).code).toBe(0);
    expect((await ctl(['tenants', 'set', 'acme2', 'eu-central'])).code).toBe(0);
    const g = await ctl(['tenants', 'get', 'acorn']);
    expect(g).toMatchObject({ code: 0, out: 'acorn → us-east (from the ops API)' });
    expect((await ctl(['tenants', 'get', 'acme'])).out).toBe('acme → eu-central (from the tenants file)');

    const page1 = await ctl(['tenants', 'list', '--prefix', 'ac', '--limit', '2']);
    expect(page1.code).toBe(0);
    expect(page1.out.split('\n').slice(0, 3)).toEqual([
      expect.stringMatching(/^TENANT\s+REGION\s+FROM$/), expect.stringMatching(/^acme\s+eu-central\s+file$/), expect.stringMatching(/^acme2\s+eu-central\s+api$/),
    ]);
    expect(page1.out).toContain('(more: --cursor acme2)');
    const page2 = await ctl(['tenants', 'list', '--prefix', 'ac', '--limit', '2', '--cursor', 'acme2']);
    expect(page2.out).toMatch(/^TENANT\s+REGION\s+FROM\nacorn\s+us-east\s+api$/);

    expect((await ctl(['tenants', 'delete', 'acme2'])).code).toBe(0);
    const after = await ctl(['tenants', 'get', 'acme2']);
    expect(after.code).toBe(1);
    expect(after.err).toContain('not in the tenant map');
  });

  it('imports a CSV file', async () => {
    const file = path.join(fleet.dir, 'more.csv');
    fs.writeFileSync(file, 'slug,region\nzeta,us-east\nzulu,eu-central\n');
    const r = await ctl(['tenants', 'import', file, '--reason', 'migration']);
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).toMatch(/imported 2 tenants: 2 new/);
    expect((await ctl(['tenants', 'list', '--prefix', 'z'])).out).toMatch(/zeta\s+us-east\s+api\nzulu\s+eu-central\s+api/);
  });

  it('usage errors say what is wrong', async () => {
    expect(await ctl(['tenants', 'set', 'x'])).toMatchObject({ code: 2, err: expect.stringContaining('ctl tenants set takes SLUG REGION') });
    expect(await ctl(['tenants', 'lst'])).toMatchObject({ code: 2, err: expect.stringContaining('ctl tenants takes list, get, set, delete or import (not "lst")') });
    expect(await ctl(['tenants', 'import', '/nonexistent.csv'])).toMatchObject({ code: 2, err: expect.stringContaining('cannot read /nonexistent.csv: ENOENT') });
  });
});

describe('ctl health and drift', () => {
  it('health: one row per check with its votes', async () => {
    const r = await ctl(['health']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/REGION\s+CHECK\s+VERDICT\s+TARGET\s+CAUSE\s+VOTES\nus-east\s+healthz\s+up\s+GET http:\/\/10\.0\.0\.1\/healthz\s+HTTP 200\s+p1:up/);
  });

  it('drift lists a drain left behind and exits 1; once undrained it is in sync only if nothing else differs', async () => {
    expect((await ctl(['drain', 'us-east', '--reason', 'incident 42'])).code).toBe(0);
    const d = await ctl(['drift']);
    expect(d.code).toBe(1);
    expect(d.out).toMatch(/^drain: us-east drained by alice \d+s ago: incident 42$/m);
    expect(d.out).toMatch(/^tenants: \d+ set through the API/m); // the tenants set above
    const json = JSON.parse((await ctl(['drift', '--json'])).out);
    expect(json).toMatchObject({ inSync: false, drains: [{ region: 'us-east', reason: 'incident 42', by: 'alice' }] });
    expect((await ctl(['undrain', 'us-east'])).code).toBe(0);
    expect((await ctl(['drift'])).out).not.toContain('drain:');
  });
});

describe('ctl token hints', () => {
  it('without a token, names --token and REGIONDNS_TOKEN', async () => {
    const r = await ctl(['drain', 'us-east', '--reason', 'x'], { REGIONDNS_TOKEN: undefined });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/wants a token: pass --token TOKEN or set REGIONDNS_TOKEN/);
  });

  it('a pasted "name:token" line is recognised: the token part is used, and it says so', async () => {
    const r = await ctl(['state'], { REGIONDNS_TOKEN: `alice:${WRITE_TOKEN}` });
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/REGIONDNS_TOKEN looks like a line of the server's token file \(name:token\); using the token part, "wwww…", for alice/);
  });

  it('an unknown option or command gets the closest valid one', async () => {
    expect((await ctl(['state', '--tokn', 'x'])).err).toMatch(/^unknown option --tokn; did you mean --token\?/);
    expect((await ctl(['drian', 'us-east'])).err).toMatch(/^unknown ctl command "drian"; did you mean ctl drain\?/);
  });
});

describe('ctl reload (a fleet of one; the fleet of several is in test/e2e/fleet-view)', () => {
  it('prints one line per instance and exits 0; the reload is audited with its reason', async () => {
    const r = await ctl(['reload', '--reason', 'new serials']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^test-1  reloaded: content [0-9a-f]{16}, serials gslb\.example\.com\. 1$/);
    const [entry] = await fleet.store.audit(1);
    expect(entry).toMatchObject({ actor: 'alice', action: 'reload', target: 'fleet', reason: 'new serials', detail: { reload: expect.any(String) } });
  });

  it('--json gives the API\'s answer', async () => {
    const r = await ctl(['reload', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, notReported: [], error: null, instances: [{ id: 'test-1', ok: true, error: null }] });
  });

  it('needs a write token; takes no arguments', async () => {
    expect(await ctl(['reload'], { REGIONDNS_TOKEN: READ_TOKEN })).toMatchObject({ code: 1, err: expect.stringContaining('read-only') });
    expect(await ctl(['reload', 'zones/'])).toMatchObject({ code: 2, err: expect.stringContaining('ctl reload takes no arguments') });
    expect(await ctl(['reload', '--force'])).toMatchObject({ code: 2, err: expect.stringContaining('--force is not an option of ctl reload') });
  });
});
