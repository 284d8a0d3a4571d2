// The tenant routes through inject(), on the real MemoryStore and Coordinator: validation, API over
// file, tombstones, audit entries, and the all-or-nothing import.
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IMPORT_BODY_LIMIT } from '../../src/ops/tenant-routes.js';
import { cleanup, READ, startFleet, WRITE, type Fleet } from './fixture.js';

const APP = '*.app.gslb.example.com.';
let fleet: Fleet;
beforeEach(async () => { fleet = await startFleet({ tenants: true }); });
afterEach(async () => {
  await fleet.close();
  cleanup(fleet.dir);
});

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = WRITE) {
  const payload = body === undefined ? {} : { payload: typeof body === 'string' ? body : (body as object) };
  const res = await fleet.app.inject({ method, url, headers, ...payload });
  return { status: res.statusCode, body: res.json() as Record<string, any> };
}

function expectError(r: { status: number; body: Record<string, any> }, status: number, code: string, message?: RegExp) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error.code).toBe(code);
  if (message) expect(r.body.error.message).toMatch(message);
}

/** The home region the snapshot answers from. */
const home = (slug: string) => fleet.coordinator.snapshot().tenants.home(slug, 0, slug.length);

describe('GET /v1/tenants/{slug}', () => {
  it('a tenant from the file', async () => {
    const r = await call('GET', '/v1/tenants/acme', undefined, READ);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ slug: 'acme', region: 'eu-central', source: 'file', override: null, hostnames: [APP] });
    expect(r.body.file.region).toBe('eu-central');
    expect(r.body.file.path).toMatch(/tenants\.csv$/);
  });

  it('unknown and bad slugs', async () => {
    expectError(await call('GET', '/v1/tenants/nobody', undefined, READ), 404, 'REGIONDNS_ERR_UNKNOWN_TENANT', /nobody is not in the tenant map; its subdomains get the rule for unknown tenants \(\*\.app\.gslb\.example\.com\. unknown: nearest\)/);
    expectError(await call('GET', '/v1/tenants/Bad_Slug', undefined, READ), 400, 'REGIONDNS_ERR_BAD_REQUEST', /slug: slug "Bad_Slug" has upper-case letters/);
  });
});

describe('PUT /v1/tenants/{slug}', () => {
  it('sets a tenant (API over file), audited, and the snapshot answers from it', async () => {
    const r = await call('PUT', '/v1/tenants/acme', { region: 'us-east', reason: 'moved to Virginia' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ tenant: { slug: 'acme', region: 'us-east', source: 'api' }, before: { region: 'eu-central', source: 'file' }, version: 1, message: 'tenant acme → us-east (was eu-central)' });
    expect(home('acme')).toBe('us-east');
    const g = await call('GET', '/v1/tenants/acme', undefined, READ);
    expect(g.body).toMatchObject({ region: 'us-east', source: 'api', override: { region: 'us-east', by: 'alice' }, file: { region: 'eu-central' } });
    const [entry] = await fleet.store.audit(1);
    expect(entry).toMatchObject({ actor: 'alice', action: 'tenant.set', target: 'acme', reason: 'moved to Virginia', before: { region: 'eu-central', source: 'file' }, after: { region: 'us-east', source: 'api' } });
  });

  it('a new tenant', async () => {
    const r = await call('PUT', '/v1/tenants/newco', { region: 'eu-central' });
    expect(r.body.message).toBe('tenant newco → eu-central (new tenant)');
    expect(home('newco')).toBe('eu-central');
  });

  it('validates the region: known, and in the pools of the tenant hostnames', async () => {
    expectError(await call('PUT', '/v1/tenants/acme', { region: 'mars-1' }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /region: unknown region "mars-1" \(regions\.yaml defines: us-east, eu-central, ap-south\)/);
    expectError(await call('PUT', '/v1/tenants/acme', { region: 'ap-south' }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /region: region "ap-south" has no pool for \*\.app\.gslb\.example\.com\./);
    expectError(await call('PUT', '/v1/tenants/acme', { region: 'us-east', extra: 1 }), 400, 'REGIONDNS_ERR_BAD_REQUEST');
    expectError(await call('PUT', '/v1/tenants/-acme', { region: 'us-east' }), 400, 'REGIONDNS_ERR_BAD_REQUEST', /must not start or end with "-"/);
    expect(fleet.store.version()).toBe(0);
  });

  it('needs a write token', async () => {
    expectError(await call('PUT', '/v1/tenants/acme', { region: 'us-east' }, READ), 403, 'REGIONDNS_ERR_FORBIDDEN');
  });
});

describe('DELETE /v1/tenants/{slug}', () => {
  it('a tenant of the file is hidden by a tombstone; setting it again brings it back', async () => {
    const r = await call('DELETE', '/v1/tenants/acme', { reason: 'contract ended' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ deleted: { region: 'eu-central', source: 'file' }, hidesFileEntry: true });
    expect(home('acme')).toBeNull();
    expect(fleet.store.get('tenant').get('acme')).toMatchObject({ region: null, by: 'alice' });
    expectError(await call('GET', '/v1/tenants/acme', undefined, READ), 404, 'REGIONDNS_ERR_UNKNOWN_TENANT', /deleted through the API by alice, hiding the file's eu-central/);
    expectError(await call('DELETE', '/v1/tenants/acme'), 404, 'REGIONDNS_ERR_UNKNOWN_TENANT');
    expect((await fleet.store.audit(1))[0]).toMatchObject({ action: 'tenant.delete', target: 'acme', reason: 'contract ended', after: null });
    await call('PUT', '/v1/tenants/acme', { region: 'eu-central' });
    expect(home('acme')).toBe('eu-central');
  });

  it('a tenant only the API had is removed from the store', async () => {
    await call('PUT', '/v1/tenants/newco', { region: 'us-east' });
    const r = await call('DELETE', '/v1/tenants/newco');
    expect(r.body.hidesFileEntry).toBe(false);
    expect(fleet.store.get('tenant').has('newco')).toBe(false);
    expect(home('newco')).toBeNull();
  });
});

describe('POST /v1/tenants:import', () => {
  it('CSV: every line applied in one write, one audit entry with counts', async () => {
    await call('PUT', '/v1/tenants/initech', { region: 'us-east' });
    const csv = 'slug,region\nacme,eu-central\nglobex,us-east\ninitech,us-east\nhooli,eu-central\n';
    const r = await fleet.app.inject({ method: 'POST', url: '/v1/tenants:import?reason=onboarding', headers: { ...WRITE, 'content-type': 'text/csv' }, payload: csv });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ format: 'csv', lines: 4, imported: 4, created: 2, moved: 0, unchanged: 2, written: 3, version: 2 });
    expect(home('globex')).toBe('us-east');
    expect(home('hooli')).toBe('eu-central');
    const [entry] = await fleet.store.audit(1);
    expect(entry).toMatchObject({ action: 'tenant.import', target: 'tenants', reason: 'onboarding', detail: { format: 'csv', imported: 4, created: 2, written: 3 } });
  });

  it('JSON lines, by content type or by sniffing', async () => {
    const jsonl = '{"slug":"a1","region":"us-east"}\n{"slug":"a2","region":"eu-central"}\n';
    const r = await fleet.app.inject({ method: 'POST', url: '/v1/tenants:import', headers: { ...WRITE, 'content-type': 'application/x-ndjson' }, payload: jsonl });
    expect(r.json()).toMatchObject({ format: 'jsonl', imported: 2 });
    const sniffed = await fleet.app.inject({ method: 'POST', url: '/v1/tenants:import', headers: WRITE, payload: '{"slug":"a3","region":"us-east"}' });
    expect(sniffed.json()).toMatchObject({ format: 'jsonl', imported: 1 });
    expect([home('a1'), home('a2'), home('a3')]).toEqual(['us-east', 'eu-central', 'us-east']);
  });

  it('all or nothing: any bad line refuses the import with the first errors and their lines', async () => {
    const csv = ['good-1,us-east', 'bad_slug,us-east', 'good-2,mars-1', 'good-1,eu-central', 'good-3,ap-south', 'good-4,eu-central'].join('\n');
    const r = await fleet.app.inject({ method: 'POST', url: '/v1/tenants:import', headers: { ...WRITE, 'content-type': 'text/csv' }, payload: csv });
    expect(r.statusCode).toBe(400);
    const e = r.json().error;
    expect(e.code).toBe('REGIONDNS_ERR_BAD_REQUEST');
    expect(e.message).toMatch(/^import refused, nothing was changed: 4 bad lines of 6; first: line 2: slug "bad_slug"/);
    expect(e.detail.errorCount).toBe(4);
    expect(e.detail.errors.map((x: { line: number }) => x.line)).toEqual([2, 3, 4, 5]);
    expect(e.detail.errors[2].message).toBe('duplicate slug "good-1": already on line 1');
    expect(fleet.store.version()).toBe(0);
    expect(home('good-1')).toBeNull();
  });

  it('a body in pieces split anywhere (inside a line, inside a UTF-8 character) reads as the whole would', async () => {
    const text = '\ufeffslug,region\r\nsplit-a,eu-central\r\n# ünïcode comment\nsplit-b,us-east\nsplit-c,mars-ä';
    const bytes = Buffer.from(text);
    const inU = bytes.indexOf(Buffer.from('ü')) + 1; // inside the two bytes of "ü"
    const cuts = [0, 2, 20, inU, bytes.length - 1, bytes.length]; // 2: inside the byte-order mark; last: inside "ä"
    const pieces = cuts.slice(1).map((end, i) => bytes.subarray(cuts[i], end));
    const r = await fleet.app.inject({ method: 'POST', url: '/v1/tenants:import', headers: { ...WRITE, 'content-type': 'text/csv' }, payload: Readable.from(pieces) });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.detail).toEqual({ errorCount: 1, lines: 3, errors: [{ line: 5, message: expect.stringMatching(/^tenant split-c: unknown region "mars-ä"/) }] });
    const ok = await fleet.app.inject({ method: 'POST', url: '/v1/tenants:import', headers: { ...WRITE, 'content-type': 'text/csv' }, payload: Readable.from([bytes.subarray(0, inU), bytes.subarray(inU, bytes.indexOf('split-c'))]) });
    expect(ok.json()).toMatchObject({ format: 'csv', lines: 2, imported: 2 });
  });

  it('a body over the limit is refused as it streams, without a content-length; nothing changes', async () => {
    const line = Buffer.from('over-limit,us-east\n'.repeat(1 << 15));
    const n = Math.ceil(IMPORT_BODY_LIMIT / line.length) + 1;
    const r = await fleet.app.inject({ method: 'POST', url: '/v1/tenants:import', headers: { ...WRITE, 'content-type': 'text/csv' }, payload: Readable.from((function* () { for (let i = 0; i < n; i++) yield line; })()) });
    expect(r.statusCode).toBe(413);
    expect(r.json().error.code).toBe('REGIONDNS_ERR_BODY_TOO_LARGE');
    expect(fleet.store.version()).toBe(0);
  });

  it('an empty body, and a content type that is neither CSV nor JSON lines', async () => {
    expectError(await call('POST', '/v1/tenants:import', '# nothing\n'), 400, 'REGIONDNS_ERR_BAD_REQUEST', /no tenant lines/);
    const xml = await fleet.app.inject({ method: 'POST', url: '/v1/tenants:import', headers: { ...WRITE, 'content-type': 'application/xml' }, payload: '<a/>' });
    expect(xml.statusCode).toBe(415);
  });

  it('GET /v1/state counts the tenants', async () => {
    await call('PUT', '/v1/tenants/newco', { region: 'us-east' });
    const r = await call('GET', '/v1/state', undefined, READ);
    expect(r.body.tenants).toMatchObject({ hostnames: [APP], fileEntries: 1, apiEntries: 1 });
  });
});

describe('without a tenant hostname', () => {
  it('the tenant routes say tenant routing is not configured', async () => {
    const plain = await startFleet();
    try {
      const r = await plain.app.inject({ method: 'PUT', url: '/v1/tenants/acme', headers: WRITE, payload: { region: 'us-east' } });
      expect(r.statusCode).toBe(404);
      expect(r.json().error.message).toMatch(/no hostname routes tenants/);
    } finally {
      await plain.close();
      cleanup(plain.dir);
    }
  });
});
