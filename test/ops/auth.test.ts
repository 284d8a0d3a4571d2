// Tokens: the file/env format, constant-time comparison, and who may read and write.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bearerToken, loadTokens, parseTokens, safeEqual, TokenFileError, TokenSet } from '../../src/ops/auth.js';
import { cleanup, READ, READ_TOKEN, startFleet, tempDir, WRITE, WRITE_TOKEN, type Fleet } from './fixture.js';

const T1 = 'a'.repeat(32);
const T2 = 'b'.repeat(32);

describe('parseTokens', () => {
  it('reads name:token and name:token:read, lines or commas, with comments', () => {
    const set = parseTokens(`# ops tokens\nalice:${T1}   # on-call\n\n  grafana:${T2}:read , ci:${'c'.repeat(20)}:write\n`, 'tokens.txt');
    expect(set.size).toBe(3);
    expect(set.authenticate(T1)).toEqual({ name: 'alice', access: 'write' });
    expect(set.authenticate(T2)).toEqual({ name: 'grafana', access: 'read' });
    expect(set.authenticate('c'.repeat(20))).toEqual({ name: 'ci', access: 'write' });
    expect(set.authenticate('c'.repeat(21))).toBeNull();
    expect(set.authenticate('')).toBeNull();
  });

  it.each([
    [`alice`, 'tokens.txt:1: expected name:token or name:token:read'],
    [`\nalice:${T1}:admin`, 'tokens.txt:2: "admin" is not an access level'],
    [`alice:${T1}:read:x`, 'tokens.txt:1: expected name:token'],
    [`alice:short`, 'tokens.txt:1: the token of "alice" must be at least 16 characters'],
    [`:${T1}`, 'tokens.txt:1: token name "" must be'],
    [`al ice:${T1}`, 'tokens.txt:1: token name "al ice" must be'],
    [`alice:${T1}\n\nalice:${T2}`, 'tokens.txt:3: token name "alice" already defined on line 1'],
    [`alice:${T1}, bob:${T1}`, 'tokens.txt:1: the token of "bob" is the same as the one on line 1'],
  ])('%j → %s', (text, message) => {
    expect(() => parseTokens(text, 'tokens.txt')).toThrow(TokenFileError);
    expect(() => parseTokens(text, 'tokens.txt')).toThrow(message);
  });

  it('loadTokens combines the file and REGIONDNS_OPS_TOKENS; a name in both is an error', () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'tokens');
      writeFileSync(file, `alice:${T1}\n`);
      const set = loadTokens(file, { REGIONDNS_OPS_TOKENS: `grafana:${T2}:read` });
      expect(set.names()).toEqual(['alice', 'grafana']);
      expect(loadTokens(null, {}).size).toBe(0);
      expect(loadTokens(null, { REGIONDNS_OPS_TOKENS: `x:${T2}` }).authenticate(T2)?.name).toBe('x');
      expect(() => loadTokens(file, { REGIONDNS_OPS_TOKENS: `alice:${T2}` })).toThrow('"alice" is defined twice');
      expect(() => loadTokens(null, { REGIONDNS_OPS_TOKENS: 'x:y' })).toThrow('REGIONDNS_OPS_TOKENS:1:');
      expect(() => loadTokens(path.join(dir, 'missing'), {})).toThrow(/missing:0: cannot read the ops tokens file/);
    } finally {
      cleanup(dir);
    }
  });
});

describe('comparison', () => {
  it('safeEqual compares whole strings of any length', () => {
    expect(safeEqual(T1, T1)).toBe(true);
    expect(safeEqual(T1, T1 + 'a')).toBe(false);
    expect(safeEqual(T1, T1.slice(1))).toBe(false);
    expect(safeEqual('', '')).toBe(true);
    expect(safeEqual('', 'x')).toBe(false);
    expect(safeEqual('ä', 'a')).toBe(false);
  });

  it('bearerToken reads the Authorization header (scheme case-insensitive)', () => {
    expect(bearerToken(`Bearer ${T1}`)).toBe(T1);
    expect(bearerToken(`bearer ${T1}`)).toBe(T1);
    expect(bearerToken(`Basic ${T1}`)).toBeNull();
    expect(bearerToken('Bearer')).toBeNull();
    expect(bearerToken(`Bearer ${T1} extra`)).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});

describe('route access', () => {
  let fleet: Fleet;
  afterEach(async () => {
    await fleet.close();
    cleanup(fleet.dir);
  });

  const drain = (headers: Record<string, string>) =>
    fleet.app.inject({ method: 'POST', url: '/v1/regions/us-east/drain', headers, payload: { reason: 'x' } });
  const state = (headers: Record<string, string>) => fleet.app.inject({ method: 'GET', url: '/v1/state', headers });

  it('writes need a write token: 401 with WWW-Authenticate without one, 403 for a read-only token', async () => {
    fleet = await startFleet();
    for (const headers of [{}, { authorization: 'Bearer wrong-token-wrong-token' }, { authorization: `Basic ${WRITE_TOKEN}` }] as Record<string, string>[]) {
      const r = await drain(headers);
      expect(r.statusCode).toBe(401);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(r.json().error.code).toBe('REGIONDNS_ERR_UNAUTHORIZED');
    }
    const ro = await drain(READ);
    expect(ro.statusCode).toBe(403);
    expect(ro.json().error).toEqual({ code: 'REGIONDNS_ERR_FORBIDDEN', message: 'token "grafana" is read-only; this change needs a write token' });
    expect(fleet.store.version()).toBe(0);
    expect((await drain(WRITE)).statusCode).toBe(200);
    expect((await fleet.store.audit(1))[0].actor).toBe('alice');
  });

  it('reads need a token (read or write) unless reads are open', async () => {
    fleet = await startFleet();
    expect((await state({})).statusCode).toBe(401);
    expect((await state(READ)).statusCode).toBe(200);
    expect((await state(WRITE)).statusCode).toBe(200);
    for (const url of ['/v1/audit', '/v1/explain?hostname=api.gslb.example.com&client=192.0.2.1', '/v1/hostnames/api.gslb.example.com/ramp', '/v1/health']) {
      expect((await fleet.app.inject({ method: 'GET', url })).statusCode).toBe(401);
    }
  });

  it('open reads: GETs without a token, writes still need one', async () => {
    fleet = await startFleet({ openReads: true });
    expect((await state({})).statusCode).toBe(200);
    expect((await fleet.app.inject({ method: 'GET', url: '/v1/audit' })).statusCode).toBe(200);
    expect((await drain({})).statusCode).toBe(401);
    expect((await drain(READ)).statusCode).toBe(403);
  });

  it('no tokens configured: writes refused with how to configure tokens, never open', async () => {
    fleet = await startFleet({ tokens: new TokenSet() });
    const r = await drain({ authorization: `Bearer ${WRITE_TOKEN}` });
    expect(r.statusCode).toBe(401);
    expect(r.json().error.code).toBe('REGIONDNS_ERR_NO_TOKENS');
    expect(r.json().error.message).toMatch(/REGIONDNS_OPS_TOKENS.*--ops-tokens FILE/);
    expect((await state({})).statusCode).toBe(401);
    expect(fleet.store.version()).toBe(0);
  });

  it('no tokens but open reads: reads work, writes are refused', async () => {
    fleet = await startFleet({ tokens: new TokenSet(), openReads: true });
    expect((await state({})).statusCode).toBe(200);
    expect((await drain({})).json().error.code).toBe('REGIONDNS_ERR_NO_TOKENS');
  });

  it('a read token is not a write token even with the same prefix', async () => {
    fleet = await startFleet();
    expect((await drain({ authorization: `Bearer ${READ_TOKEN.slice(0, -1)}` })).statusCode).toBe(401);
  });
});
