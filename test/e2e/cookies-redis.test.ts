// The fleet's cookie secret in Redis: the first instance makes it, a second one accepts the first
// one's cookies, and a rotation written to the key reaches an instance without a restart.
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOKIE_SECRET_KEY } from '../../src/cookies/redis-secret.js';
import { cookieOption, replyOpt } from '../helpers/cookies.js';
import { buildQuery, parse, udpExchange } from '../helpers/dns-client.js';
import { waitForMetric } from '../helpers/fuzz.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const ZONES = path.resolve(import.meta.dirname, 'zones');
const CLIENT = '0a0b0c0d0e0f1011';
let redis: TestRedis;
let client: Redis;
let a: ServerProcess;
let b: ServerProcess;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  // One after the other: the first makes the secret (SET NX), the second finds it.
  a = await startServer(['--zones', ZONES, '--no-geoip', '--no-probe', '--redis', redis.url]);
  b = await startServer(['--zones', ZONES, '--no-geoip', '--no-probe', '--redis', redis.url]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  client?.disconnect();
  await redis?.stop();
});

const ask = (s: ServerProcess, cookieHex: string) =>
  udpExchange(s.port, buildQuery('www.e2e.test', 'A', { edns: { options: [cookieOption(cookieHex)] } }), '127.0.0.1', 5000);

describe('cookie secret in Redis', () => {
  it('is made once and shared: B accepts and echoes A\'s cookie', async () => {
    expect(await client.get(COOKIE_SECRET_KEY)).toMatch(/^[0-9a-f]{32}$/);
    const cookie = replyOpt(await ask(a, CLIENT))!.cookie!;
    expect(cookie).toMatch(new RegExp(`^${CLIENT}01000000`));
    const r = await ask(b, cookie);
    expect(replyOpt(r)?.cookie).toBe(cookie);
    expect(parse(r).answers).toHaveLength(1);
    expect(await waitForMetric(b.httpPort, 'regiondns_cookie_requests_total', '{verdict="valid"}', (v) => v >= 1)).toBeGreaterThanOrEqual(1);
  });

  it('a rotation written to the key is read on SIGHUP: old cookies stay valid, replies carry the new secret\'s', async () => {
    const old = replyOpt(await ask(a, CLIENT))!.cookie!;
    const previous = (await client.get(COOKIE_SECRET_KEY))!;
    await client.set(COOKIE_SECRET_KEY, `00112233445566778899aabbccddeeff ${previous}`);
    b.proc.kill('SIGHUP');
    await b.waitForLog((l) => l.msg === 'cookie secret rotated (read from redis)');
    const before = await waitForMetric(b.httpPort, 'regiondns_cookie_requests_total', '{verdict="valid"}', () => true);
    const renewed = replyOpt(await ask(b, old))!.cookie!;
    expect(renewed).not.toBe(old);
    expect(await waitForMetric(b.httpPort, 'regiondns_cookie_requests_total', '{verdict="valid"}', (v) => v > before)).toBe(before + 1);
    // Once A has read the rotation too, it accepts B's renewed cookie as it is.
    a.proc.kill('SIGHUP');
    await a.waitForLog((l) => l.msg === 'cookie secret rotated (read from redis)');
    expect(replyOpt(await ask(a, renewed))?.cookie).toBe(renewed);
  });
});
