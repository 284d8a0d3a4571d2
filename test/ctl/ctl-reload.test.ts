// `regiondns ctl reload` against a real HTTP server with the ops routes (a fleet of one): its line
// per instance, the audit entry, and its usage errors. The fleet of several is in test/e2e/fleet-view.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCtl } from '../../src/ctl/ctl.js';
import { cleanup, READ_TOKEN, startFleet, WRITE_TOKEN, type Fleet } from '../ops/fixture.js';

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

async function ctl(args: string[], token = WRITE_TOKEN) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCtl(args, { out: (t) => out.push(t), err: (t) => err.push(t), env: { REGIONDNS_SERVER: server, REGIONDNS_TOKEN: token } });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('ctl reload', () => {
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
    expect(await ctl(['reload'], READ_TOKEN)).toMatchObject({ code: 1, err: expect.stringContaining('read-only') });
    expect(await ctl(['reload', 'zones/'])).toMatchObject({ code: 2, err: expect.stringContaining('ctl reload takes no arguments') });
    expect(await ctl(['reload', '--force'])).toMatchObject({ code: 2, err: expect.stringContaining('--force is not an option of ctl reload') });
  });
});
