// DNS cookies end to end (RFC 7873, RFC 9018): real dig and kdig, a fleet of instances sharing a
// secret file, rotation on SIGHUP, the BADCOOKIE cases, and a valid cookie exempting from RRL.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieOnlyQuery, cookieOption, replyOpt } from '../helpers/cookies.js';
import { dig } from '../helpers/dig.js';
import { buildQuery, flagsOf, parse, udpExchange } from '../helpers/dns-client.js';
import { metricValue, scrape, waitForMetric } from '../helpers/fuzz.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const ZONES = path.resolve(import.meta.dirname, 'zones');
const SECRET = 'e5e973e5a6b2a43f48e7dc849e37bfcf';
const OTHER = '00112233445566778899aabbccddeeff';
const CLIENT = '0102030405060708';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-cookies-'));
const secretFile = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};
const VERDICT = 'regiondns_cookie_requests_total';

let a: ServerProcess; // secret SECRET
let b: ServerProcess; // the same secret: another instance of the fleet
let c: ServerProcess; // another secret
const servers: ServerProcess[] = [];

beforeAll(async () => {
  const shared = secretFile('fleet.secret', `# fleet cookie secret\n${SECRET}\n`);
  [a, b, c] = await Promise.all([
    startServer(['--zones', ZONES, '--no-geoip', '--cookie-secret', shared]),
    startServer(['--zones', ZONES, '--no-geoip', '--cookie-secret', shared]),
    startServer(['--zones', ZONES, '--no-geoip', '--cookie-secret', secretFile('other.secret', `${OTHER}\n`)]),
  ]);
  servers.push(a, b, c);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  fs.rmSync(dir, { recursive: true, force: true });
});

const ask = (s: ServerProcess, cookieHex: string, name = 'www.e2e.test') =>
  udpExchange(s.port, buildQuery(name, 'A', { edns: { options: [cookieOption(cookieHex)] } }), '127.0.0.1', 5000);

/** A client cookie alone → the reply's full cookie (client + server) from `s`. */
async function learn(s: ServerProcess): Promise<string> {
  const opt = replyOpt(await ask(s, CLIENT));
  expect(opt?.cookie).toMatch(new RegExp(`^${CLIENT}01000000[0-9a-f]{24}$`));
  return opt!.cookie!;
}

describe('cookie echo', () => {
  it('dig +cookie: the reply carries the client cookie and a server cookie, and dig calls it good', () => {
    const r = dig(a.port, ['www.e2e.test', 'A', '+cookie']);
    expect(r.status).toBe('NOERROR');
    expect(r.answer.map((l) => l[4])).toEqual(['192.0.2.1']);
    expect(r.raw).toMatch(/; COOKIE: [0-9a-f]{16}01000000[0-9a-f]{24} \(good\)/);
  });

  it('kdig +cookie: the same', () => {
    const raw = execFileSync('kdig', [`@127.0.0.1`, '-p', String(a.port), '+time=2', '+retry=0', '+cookie', 'www.e2e.test', 'A'], { encoding: 'utf8' });
    expect(raw).toMatch(/status: NOERROR/);
    expect(raw).toMatch(/COOKIE: [0-9A-Fa-f]{16}01000000[0-9A-Fa-f]{24}/);
  });

  it('an instance with the same secret accepts another\'s cookie and echoes it; one with another secret answers with a new one', async () => {
    const cookie = await learn(a);
    const fromB = await ask(b, cookie);
    expect(replyOpt(fromB)?.cookie).toBe(cookie);
    expect(parse(fromB).answers.map((x: { address: string }) => x.address)).toEqual(['192.0.2.1']);
    expect(await waitForMetric(b.httpPort, VERDICT, '{verdict="valid"}', (v) => v >= 1)).toBeGreaterThanOrEqual(1);

    // RFC 7873 §5.2.4: over UDP an invalid server cookie is answered normally, with a fresh cookie.
    const fromC = await ask(c, cookie);
    expect(flagsOf(fromC).rcode).toBe(0);
    expect(parse(fromC).answers).toHaveLength(1);
    const fresh = replyOpt(fromC)!.cookie!;
    expect(fresh.slice(0, 16)).toBe(CLIENT);
    expect(fresh).not.toBe(cookie);
    expect(await waitForMetric(c.httpPort, VERDICT, '{verdict="invalid"}', (v) => v >= 1)).toBeGreaterThanOrEqual(1);
    // …which C itself then accepts.
    expect(replyOpt(await ask(c, fresh))?.cookie).toBe(fresh);
    expect(await waitForMetric(c.httpPort, VERDICT, '{verdict="valid"}', (v) => v >= 1)).toBeGreaterThanOrEqual(1);
  });
});

describe('workers', () => {
  it('without a secret file, the workers of one instance share its random secret: every cookie validates at every worker', async () => {
    const s = await startServer(['--zones', ZONES, '--no-geoip', '--workers', '2']);
    servers.push(s);
    const cookie = await learn(s);
    // Each query from a new socket (a new source port): SO_REUSEPORT spreads them over both workers.
    const N = 40;
    for (let i = 0; i < N; i++) expect(replyOpt(await ask(s, cookie))?.cookie).toBe(cookie);
    const text = await scrape(s.httpPort);
    expect(metricValue(text, VERDICT, '{verdict="valid"}')).toBe(N);
    expect(metricValue(text, VERDICT, '{verdict="invalid"}')).toBe(0);
  });
});

describe('BADCOOKIE and FORMERR (RFC 7873 §5.2, §5.4)', () => {
  it('a COOKIE option of a wrong length is FORMERR, with no cookie in the reply', async () => {
    for (const hex of ['01020304', `${CLIENT}0102`, `${CLIENT}${'00'.repeat(33)}`]) {
      const r = await ask(a, hex);
      expect(flagsOf(r).rcode).toBe(1);
      expect(replyOpt(r)?.cookie ?? null).toBeNull();
    }
  });

  it('a query without a question learns a server cookie: NOERROR; with an invalid server cookie: BADCOOKIE and a new one', async () => {
    const learnt = await udpExchange(a.port, cookieOnlyQuery(CLIENT), '127.0.0.1', 5000);
    expect(replyOpt(learnt)).toMatchObject({ rcode: 0, cookie: expect.stringMatching(new RegExp(`^${CLIENT}01000000`)) });

    const bad = `${CLIENT}01000000${'00'.repeat(12)}`;
    const r = await udpExchange(a.port, cookieOnlyQuery(bad), '127.0.0.1', 5000);
    const opt = replyOpt(r)!;
    expect(opt.rcode).toBe(23); // BADCOOKIE
    expect(opt.cookie).toMatch(new RegExp(`^${CLIENT}01000000`));
    expect(opt.cookie).not.toBe(bad);
    // The new cookie is good: asked again, NOERROR.
    expect(replyOpt(await udpExchange(a.port, cookieOnlyQuery(opt.cookie!), '127.0.0.1', 5000))?.rcode).toBe(0);
  });

  it('rotation: after SIGHUP with a new secret first and the old second, old cookies stay valid and replies move to the new secret', async () => {
    const file = secretFile('rotating.secret', `${SECRET}\n`);
    const s = await startServer(['--zones', ZONES, '--no-geoip', '--cookie-secret', file]);
    servers.push(s);
    const old = await learn(s);
    fs.writeFileSync(file, `${OTHER}\n${SECRET}\n`);
    s.proc.kill('SIGHUP');
    await s.waitForLog((l) => l.msg === 'cookie secret reloaded');
    const r = await ask(s, old);
    expect(parse(r).answers).toHaveLength(1);
    const renewed = replyOpt(r)!.cookie!;
    expect(renewed).not.toBe(old);
    expect(await waitForMetric(s.httpPort, VERDICT, '{verdict="valid"}', (v) => v >= 1)).toBe(1);
    // The renewed cookie is the one C (which has only the new secret) accepts.
    expect(replyOpt(await ask(c, renewed))?.cookie).toBe(renewed);
  });

  it('a secret file with an error stops the start, naming file and line', async () => {
    const bad = secretFile('bad.secret', `${SECRET}\nxyz\n`);
    await expect(startServer(['--zones', ZONES, '--no-geoip', '--cookie-secret', bad])).rejects.toThrow(`${bad}:2: a cookie secret is 16 octets`);
  });
});

describe('cookies and rate limiting', () => {
  it('a limited client with a cookie gets BADCOOKIE and a server cookie; with it, it is no longer limited; without a cookie: TC=1', async () => {
    const s = await startServer(['--zones', ZONES, '--no-geoip', '--cookie-secret', secretFile('rrl.secret', `${SECRET}\n`), '--rrl-rate', '2', '--rrl-slip', '1', '--rrl-window', '30']);
    servers.push(s);
    // Sent at once (one socket each), so they arrive within a few milliseconds.
    const N = 8;
    const opts = (await Promise.all(Array.from({ length: N }, () => ask(s, CLIENT)))).map((r) => replyOpt(r)!);
    const passed = opts.filter((o) => o.rcode === 0).length;
    // 2 a second pass (4 if the burst straddles a second); every limited reply slips (slip 1), as
    // BADCOOKIE since the client sent a cookie, with a server cookie to come back with.
    expect(passed).toBeGreaterThanOrEqual(2);
    expect(passed).toBeLessThanOrEqual(4);
    const bad = opts.filter((o) => o.rcode === 23);
    expect(bad).toHaveLength(N - passed);
    const learnt = bad[0].cookie!;
    expect(learnt).toMatch(new RegExp(`^${CLIENT}01000000`));

    // With the server cookie it learnt, every one of 50 queries is answered in full.
    for (let i = 0; i < 50; i++) {
      const r = await ask(s, learnt);
      expect(flagsOf(r)).toMatchObject({ tc: false, rcode: 0 });
      expect(parse(r).answers).toHaveLength(1);
    }
    // Without a cookie the same account is still limited: a truncated reply (slip 1).
    const plain = await udpExchange(s.port, buildQuery('www.e2e.test', 'A', { edns: true }), '127.0.0.1', 5000);
    expect(flagsOf(plain).tc).toBe(true);
    expect(parse(plain).answers).toHaveLength(0);
    const text = await scrape(s.httpPort);
    expect(metricValue(text, 'regiondns_rrl_slipped_total', '{kind="answer"}')).toBeGreaterThanOrEqual(3);
  });
});
