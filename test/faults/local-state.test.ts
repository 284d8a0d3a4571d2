// Faults of an instance without Redis, with real processes: two instances given one state
// directory (the second refuses to start, the first keeps serving and writing), the holder killed
// with SIGKILL (the next start takes over with every acknowledged change), and garbage written
// straight into the state database (skipped and counted; every answer stays NOERROR).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { answerOf, opsCall, until } from '../helpers/instance.js';
import { BIN, REPO, startServer, type ServerProcess } from '../helpers/server-process.js';

const FIXTURE = path.join(REPO, 'test/e2e/fleet-zones');
const GEOIP = path.join(REPO, 'geo/fixtures/world-geoip2.mmdb');
const TOKEN = 'w-9a8b7c6d5e4f30211f2e3d4c5b6a7988';
const API = 'api.fleet.test';
const SOLO = 'solo.fleet.test';
const AMSTERDAM = '193.0.0.0/24';
const IP = { api: { 'us-east': '192.0.2.10', 'eu-central': '198.51.100.10' }, solo: { 'us-east': '192.0.2.20', 'eu-central': '198.51.100.20' } };

describe('two instances on one state directory', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'regiondns-faults-'));
  const stateDir = path.join(tmp, 'state');
  const tokens = path.join(tmp, 'tokens');
  writeFileSync(tokens, `ops:${TOKEN}\n`);
  const args = (id: string) => ['--zones', FIXTURE, '--geoip', GEOIP, '--no-probe', '--state-dir', stateDir, '--ops-tokens', tokens, '--instance-id', id];
  const running: ServerProcess[] = [];
  afterAll(async () => {
    for (const s of running) await s.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the second refuses to start, naming the directory, the holder and the flag; the first keeps every change', async () => {
    const a = await startServer(args('first'));
    running.push(a);
    expect((await opsCall(a, 'POST', '/v1/regions/eu-central/drain', TOKEN, { reason: 'before the second', hostnames: [`${API}.`] })).status).toBe(200);

    // The second, on its own ports: refused within seconds, with a message an operator can act on.
    const t0 = Date.now();
    const b = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--http', 'off', '--workers', '1', ...args('second')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    b.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    b.stdout!.resume();
    const code = await new Promise<number | null>((resolve) => b.once('exit', resolve));
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(code).toBe(1);
    expect(stderr).toContain(`state directory ${stateDir}: in use by another regiondns: pid ${a.proc.pid} on host ${os.hostname()} (instance first`);
    expect(stderr).toContain('give this one its own --state-dir');

    // The first never noticed: it answers from its state and still writes.
    expect((await answerOf(a.port, API, AMSTERDAM)).addresses).toEqual([IP.api['us-east']]);
    expect((await opsCall(a, 'POST', '/v1/regions/eu-central/drain', TOKEN, { reason: 'after the second', hostnames: [`${API}.`, `${SOLO}.`] })).status).toBe(200);

    // Killed with SIGKILL: no stale lock; the next start has both acknowledged changes.
    a.proc.kill('SIGKILL');
    await new Promise((resolve) => a.proc.once('exit', resolve));
    running.splice(0);
    const c = await startServer(args('third'));
    running.push(c);
    expect((await answerOf(c.port, API, AMSTERDAM)).addresses).toEqual([IP.api['us-east']]);
    expect((await answerOf(c.port, SOLO, AMSTERDAM)).addresses).toEqual([IP.solo['us-east']]);
    const audit = (await opsCall(c, 'GET', '/v1/audit', TOKEN)).body.entries as { reason: string }[];
    expect(audit.map((e) => e.reason)).toEqual(['after the second', 'before the second']);
  });

  it('garbage written into the state database is skipped and counted: every answer stays NOERROR', async () => {
    const c = running.pop()!;
    expect(await c.stop()).toBe(0);
    const raw = new DatabaseSync(path.join(stateDir, 'regiondns.db'));
    const put = raw.prepare('INSERT OR REPLACE INTO entries (ns, key, value) VALUES (?, ?, ?)');
    put.run('drain', 'us-east', '{"region":"us-east"}'); // no hostnames, no reason
    put.run('weights', `${API}.`, '{"fqdn":1}');
    put.run('tenant', 'acme', '[[[');
    put.run('ramp', `${SOLO}.`, 'null');
    raw.close();

    const d = await startServer(args('fourth'));
    running.push(d);
    for (const name of [API, SOLO]) {
      const a = await answerOf(d.port, name, AMSTERDAM);
      expect(a.rcode).toBe(0);
      expect(a.addresses).toEqual([name === API ? IP.api['us-east'] : IP.solo['us-east']]); // the good drain still holds
    }
    const metrics = await until('bad entries counted', async () => {
      const text = await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text();
      return /regiondns_fleet_store_bad_entries_total\{namespace="drain"\} 1/.test(text) ? text : undefined;
    }, 15_000);
    for (const ns of ['weights', 'tenant', 'ramp']) expect(metrics).toMatch(new RegExp(`regiondns_fleet_store_bad_entries_total\\{namespace="${ns}"\\} 1`));
    expect(d.logs.filter((l) => l.msg === 'fleet store entry skipped: its value does not match the namespace schema').map((l) => l.namespace).sort()).toEqual(['drain', 'ramp', 'tenant', 'weights']);
    // The state is still writable, and a write over a bad key repairs it.
    expect((await opsCall(d, 'DELETE', '/v1/regions/eu-central/drain', TOKEN)).status).toBe(200);
    expect((await answerOf(d.port, API, AMSTERDAM)).addresses).toEqual([IP.api['eu-central']]);
  });
});
