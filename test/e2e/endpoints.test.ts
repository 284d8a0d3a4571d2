// End to end per-endpoint health: real HTTP and TCP targets on loopback that the test kills and
// revives, a real server probing them and answering `dig +subnet=`, and an endpoint drain made
// through the ops API of one instance seen by another over a private Redis.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealthReport } from '../../src/health/report.js';
import { dig } from '../helpers/dig.js';
import { buildQuery, ecsOption, parse, udpExchange } from '../helpers/dns-client.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { REPO, startServer, type ServerProcess } from '../helpers/server-process.js';
import { untilOk } from '../helpers/ops-api.js';
import { listenLoopback } from '../helpers/ports.js';

const GEOIP = path.join(REPO, 'geo/fixtures/world-geoip2.mmdb');
/** Amsterdam in the fixture database: eu-central first, then us-east. */
const AMSTERDAM = '193.0.0.0/24';
const INTERVAL_MS = 400;
/** Long enough that a probe on a busy machine does not time out by itself (that would count towards fall). */
const TIMEOUT_MS = 350;
const FALL = 2;
const RISE = 2;
const EU = ['198.51.100.1', '198.51.100.2'];
const EU6 = '2001:db8::1';
const US = '192.0.2.1';
const US6 = '2001:db8:1::1';
const WRITE_TOKEN = 'w-2f9c1e7a5b3d4c6e8f0a1b2c3d4e5f60';

// ---- targets the test kills and revives -----------------------------------------------------------

/** A loopback server that can be closed (connection refused) and opened again on the same port. */
class Target {
  port = 0;
  private readonly server: net.Server;

  constructor(readonly kind: 'http' | 'tcp') {
    this.server = kind === 'http'
      ? http.createServer((_req, res) => res.end('ok\n'))
      : net.createServer((s) => s.end());
  }

  get check(): string {
    return this.kind === 'http'
      ? `{ type: http, url: "http://127.0.0.1:${this.port}/healthz", interval: ${INTERVAL_MS}ms, timeout: ${TIMEOUT_MS}ms, fall: ${FALL}, rise: ${RISE} }`
      : `{ type: tcp, address: "127.0.0.1:${this.port}", interval: ${INTERVAL_MS}ms, timeout: ${TIMEOUT_MS}ms, fall: ${FALL}, rise: ${RISE} }`;
  }

  async listen(port = this.port): Promise<void> {
    this.port = await listenLoopback(this.server, port);
  }

  async kill(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.server instanceof http.Server) this.server.closeAllConnections();
    await closed;
  }
}

// ---- zones, polling, questions ----------------------------------------------------------------------

const tempDirs: string[] = [];
afterAll(() => { for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true }); });

function zonesDir(t: { a: Target; b: Target; v6: Target }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-endpoints-'));
  tempDirs.push(dir);
  fs.writeFileSync(path.join(dir, 'ep.test.zone'), '$ORIGIN ep.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n');
  fs.writeFileSync(path.join(dir, 'regions.yaml'), 'regions:\n  eu-central: { location: { lat: 50.11, lon: 8.68 } }\n  us-east: { location: { lat: 39.04, lon: -77.49 } }\n');
  // "two" names the same checks as "www": they are probed once.
  fs.writeFileSync(path.join(dir, 'ep.test.steer.yaml'), `hostnames:
  www:
    ttl: 5
    pools:
      eu-central:
        - { address: ${EU[0]}, checks: [${t.a.check}] }
        - { address: ${EU[1]}, checks: [${t.b.check}] }
        - { address: "${EU6}", checks: [${t.v6.check}] }
      us-east: [${US}, "${US6}"]
  two:
    ttl: 5
    min-healthy: 2
    pools:
      eu-central:
        - { address: ${EU[0]}, checks: [${t.a.check}] }
        - { address: ${EU[1]}, checks: [${t.b.check}] }
      us-east: [${US}]
`);
  return dir;
}


/** The addresses answered to an Amsterdam client, sorted (async: the targets live in this process). */
async function answer(port: number, host = 'www', type: 'A' | 'AAAA' = 'A'): Promise<string[]> {
  const reply = await udpExchange(port, buildQuery(`${host}.ep.test`, type, { edns: { options: [ecsOption(AMSTERDAM)] } }), '127.0.0.1', 2_000);
  return (parse(reply).answers as { address?: string }[]).map((a) => a.address ?? '?').sort();
}

/** The same through the real dig, to confirm a state reached by polling. */
function digAnswer(port: number, host = 'www', type: 'A' | 'AAAA' = 'A'): string[] {
  const r = dig(port, [`${host}.ep.test`, type, `+subnet=${AMSTERDAM}`]);
  expect(r.status).toBe('NOERROR');
  return r.answer.map((l) => l[4]).sort();
}

const same = (want: string[]) => (got: string[]) => got.join() === [...want].sort().join();

/** Measured failover times, printed at the end for the record. */
const measured: string[] = [];
afterAll(() => { if (measured.length) console.info(`endpoint failover (interval ${INTERVAL_MS} ms, fall ${FALL}, rise ${RISE}):\n  ${measured.join('\n  ')}`); });

// ---- one instance probing its targets -------------------------------------------------------------

describe('per-endpoint health (one instance)', () => {
  const t = { a: new Target('http'), b: new Target('tcp'), v6: new Target('tcp') };
  let server: ServerProcess;

  beforeAll(async () => {
    await Promise.all(Object.values(t).map((x) => x.listen(0)));
    server = await startServer(['--zones', zonesDir(t), '--geoip', GEOIP, '--ops-open-reads']);
    await untilOk('every endpoint check probed', async () => (await (await fetch(`http://127.0.0.1:${server.httpPort}/v1/health`)).json()) as HealthReport,
      (h) => Object.values(h.endpointChecks).length === 3 && Object.values(h.endpointChecks).every((c) => (c.local?.recent.length ?? 0) > 0));
  });
  afterAll(async () => {
    await server?.stop();
    await Promise.all(Object.values(t).map((x) => x.kill()));
  });

  it('all up: both IPv4 endpoints of eu-central answer, and its IPv6 one', async () => {
    expect(digAnswer(server.port)).toEqual([...EU].sort());
    expect(digAnswer(server.port, 'www', 'AAAA')).toEqual([EU6]);
    expect(digAnswer(server.port, 'two')).toEqual([...EU].sort());
  });

  it('/v1/health lists each endpoint check once, with the endpoints that use it', async () => {
    const h = (await (await fetch(`http://127.0.0.1:${server.httpPort}/v1/health`)).json()) as HealthReport;
    const checks = Object.values(h.endpointChecks);
    expect(checks.map((c) => c.target).sort()).toEqual([`GET http://127.0.0.1:${t.a.port}/healthz`, `tcp 127.0.0.1:${t.b.port}`, `tcp 127.0.0.1:${t.v6.port}`].sort());
    const a = checks.find((c) => c.type === 'http')!;
    expect(a).toMatchObject({ up: true, stale: false, intervalMs: INTERVAL_MS, fall: FALL, rise: RISE, endpoints: [`eu-central ${EU[0]}`] });
  });

  it('kill one of two endpoints: it leaves the answers within interval × fall + 1 s while the other stays; revive: back within interval × rise + 1 s', async () => {
    const t0 = Date.now();
    await t.a.kill();
    await untilOk('the dead endpoint leaves', () => answer(server.port), same([EU[1]]));
    const left = Date.now() - t0;
    measured.push(`kill HTTP endpoint → out of the answers: ${left} ms (bound ${INTERVAL_MS * FALL + 1000} ms)`);
    expect(left).toBeLessThan(INTERVAL_MS * FALL + 1000);
    expect(digAnswer(server.port)).toEqual([EU[1]]);
    // min-healthy 2: the same endpoint down takes eu-central out for "two" only.
    expect(digAnswer(server.port, 'two')).toEqual([US]);

    const m = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    expect(m).toMatch(new RegExp(`^regiondns_endpoint_up\\{region="eu-central",endpoint="${EU[0].replaceAll('.', '\\.')}"\\} 0$`, 'm'));
    expect(m).toMatch(new RegExp(`^regiondns_endpoint_up\\{region="eu-central",endpoint="${EU[1].replaceAll('.', '\\.')}"\\} 1$`, 'm'));
    expect(m).toMatch(/^regiondns_endpoint_transitions_total\{region="eu-central",endpoint="198\.51\.100\.1",to="down"\} 1$/m);

    const ex = await (await fetch(`http://127.0.0.1:${server.httpPort}/v1/explain?hostname=www.ep.test&client=193.0.0.7`)).json() as { trace: { endpoints: { address: string; up: boolean; reason: string }[] } };
    const dead = ex.trace.endpoints.find((e) => e.address === EU[0])!;
    expect(dead.up).toBe(false);
    expect(dead.reason).toMatch(/^down: check GET http:\/\/127\.0\.0\.1:\d+\/healthz \[[0-9a-f]{8}\]: connection refused/);

    const t1 = Date.now();
    await t.a.listen();
    await untilOk('the endpoint comes back', () => answer(server.port), same(EU));
    const back = Date.now() - t1;
    measured.push(`revive HTTP endpoint → back in the answers: ${back} ms (bound ${INTERVAL_MS * RISE + 1000} ms)`);
    expect(back).toBeLessThan(INTERVAL_MS * RISE + 1000);
    expect(digAnswer(server.port, 'two')).toEqual([...EU].sort());
  });

  it('kill the TCP endpoint: the same, measured for a TCP check', async () => {
    const t0 = Date.now();
    await t.b.kill();
    await untilOk('the dead endpoint leaves', () => answer(server.port), same([EU[0]]));
    measured.push(`kill TCP endpoint → out of the answers: ${Date.now() - t0} ms`);
    expect(Date.now() - t0).toBeLessThan(INTERVAL_MS * FALL + 1000);
    const t1 = Date.now();
    await t.b.listen();
    await untilOk('the endpoint comes back', () => answer(server.port), same(EU));
    measured.push(`revive TCP endpoint → back in the answers: ${Date.now() - t1} ms`);
  });

  it('kill both IPv4 endpoints: the next region answers A; AAAA stays with the healthy IPv6 endpoint', async () => {
    const t0 = Date.now();
    await Promise.all([t.a.kill(), t.b.kill()]);
    await untilOk('A moves to us-east', () => answer(server.port), same([US]));
    measured.push(`kill both endpoints → next region answers: ${Date.now() - t0} ms`);
    expect(digAnswer(server.port)).toEqual([US]);
    expect(digAnswer(server.port, 'www', 'AAAA')).toEqual([EU6]);
    await Promise.all([t.a.listen(), t.b.listen()]);
    await untilOk('A back to eu-central', () => answer(server.port), same(EU));
  });

  it('AAAA with only IPv4 endpoints healthy: AAAA goes to the next region, A stays', async () => {
    await t.v6.kill();
    await untilOk('AAAA moves to us-east', () => answer(server.port, 'www', 'AAAA'), same([US6]));
    expect(digAnswer(server.port, 'www', 'AAAA')).toEqual([US6]);
    expect(digAnswer(server.port)).toEqual([...EU].sort());
    await t.v6.listen();
    await untilOk('AAAA back to eu-central', () => answer(server.port, 'www', 'AAAA'), same([EU6]));
  });
});

// ---- an endpoint drain through the API, seen by a second instance over Redis -----------------------

describe('endpoint drains (two instances, one Redis)', () => {
  const t = { a: new Target('http'), b: new Target('tcp'), v6: new Target('tcp') };
  let redis: TestRedis | undefined;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    await Promise.all(Object.values(t).map((x) => x.listen(0)));
    redis = await startRedis();
    const dir = zonesDir(t);
    const tokens = path.join(dir, 'tokens');
    fs.writeFileSync(tokens, `alice:${WRITE_TOKEN}\n`);
    for (const id of ['one', 'two']) {
      servers.push(await startServer(['--zones', dir, '--geoip', GEOIP, '--redis', redis.url, '--instance-id', id, '--ops-tokens', tokens, '--ops-open-reads']));
    }
  });
  afterAll(async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await redis?.stop();
    await Promise.all(Object.values(t).map((x) => x.kill()));
  });

  const api = async (s: ServerProcess, method: string, url: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${s.httpPort}${url}`, {
      method, headers: { authorization: `Bearer ${WRITE_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  it('a drain on one instance takes the endpoint out of the other\'s answers, and the undrain brings it back', async () => {
    const [one, two] = servers;
    await untilOk('both answer with both endpoints', async () => [await answer(one.port), await answer(two.port)], (v) => v.every(same(EU)));
    const r = await api(one, 'POST', `/v1/endpoints/${EU[0]}/drain`, { reason: 'swapping the load balancer', hostnames: ['www.ep.test'] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.drain).toMatchObject({ address: EU[0], hostnames: ['www.ep.test.'], by: 'alice' });
    await untilOk('the second instance drops the endpoint', () => answer(two.port), same([EU[1]]));
    expect(digAnswer(two.port)).toEqual([EU[1]]);
    // Only www: "two" keeps both.
    expect(digAnswer(two.port, 'two')).toEqual([...EU].sort());
    const st = await (await fetch(`http://127.0.0.1:${two.httpPort}/v1/state`)).json() as { endpointDrains: { address: string; by: string; reason: string }[] };
    expect(st.endpointDrains).toEqual([expect.objectContaining({ address: EU[0], by: 'alice', reason: 'swapping the load balancer' })]);
    const ex = await (await fetch(`http://127.0.0.1:${two.httpPort}/v1/explain?hostname=www.ep.test&client=193.0.0.7`)).json() as { trace: { endpoints: { address: string; drained: boolean; reason: string }[] } };
    expect(ex.trace.endpoints.find((e) => e.address === EU[0])).toMatchObject({ drained: true, reason: 'drained by alice: swapping the load balancer' });

    const audit = await api(two, 'GET', '/v1/audit?limit=1');
    expect(audit.body.entries[0]).toMatchObject({ action: 'endpoint.drain', target: EU[0], actor: 'alice' });

    const u = await api(two, 'DELETE', `/v1/endpoints/${EU[0]}/drain`, { reason: 'done' });
    expect(u.status, JSON.stringify(u.body)).toBe(200);
    await untilOk('the first instance answers with it again', () => answer(one.port), same(EU));
    expect((await api(two, 'DELETE', `/v1/endpoints/${EU[0]}/drain`)).status).toBe(404);
    expect((await api(two, 'POST', '/v1/endpoints/203.0.113.99/drain', { reason: 'x' })).body.error.code).toBe('REGIONDNS_ERR_UNKNOWN_ENDPOINT');
  });
});
