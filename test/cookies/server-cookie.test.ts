// Interoperable server cookies (RFC 9018) against the RFC's own test vectors (Appendix A), and the
// RFC 7873 §5.2 verdicts: client-only, valid, invalid (wrong secret, wrong address, expired, future).
import { describe, expect, it } from 'vitest';
import { parseCookieSecrets } from '../../src/cookies/secret.js';
import { CookieJar, CookieVerdict } from '../../src/cookies/server-cookie.js';
import { cookieLengthOk } from '../../src/dns/cookie-option.js';

const SECRET = 'e5e973e5a6b2a43f48e7dc849e37bfcf';
const jarWith = (text: string) => new CookieJar(parseCookieSecrets(text, 'test-secret'));
const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('RFC 9018 Appendix A test vectors', () => {
  it('A.1: a client learns a new server cookie', () => {
    const jar = jarWith(SECRET);
    expect(jar.check(bytes('2464c4abcf10c957'), '198.51.100.100', 1559731985)).toBe(CookieVerdict.CLIENT_ONLY);
    expect(hex(jar.reply)).toBe('2464c4abcf10c957010000005cf79f111f8130c3eee29480');
  });

  it('A.2: the same client, more than half an hour later, gets a renewed cookie', () => {
    const jar = jarWith(SECRET);
    expect(jar.check(bytes('2464c4abcf10c957010000005cf79f111f8130c3eee29480'), '198.51.100.100', 1559734385)).toBe(CookieVerdict.VALID);
    expect(hex(jar.reply)).toBe('2464c4abcf10c957010000005cf7a871d4a564a1442aca77');
  });

  it('A.3: another client learns a renewed cookie', () => {
    const jar = jarWith(SECRET);
    expect(jar.check(bytes('fc93fc62807ddb86'), '203.0.113.203', 1559734700)).toBe(CookieVerdict.CLIENT_ONLY);
    expect(hex(jar.reply)).toBe('fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e');
  });
});

describe('server cookie verdicts', () => {
  const client = bytes('0102030405060708');
  const now = 1_800_000_000;
  const issue = (jar: CookieJar, ip: string, t: number) => {
    jar.check(client, ip, t);
    return Uint8Array.from(jar.reply);
  };

  it('a fresh cookie is valid and echoed unchanged', () => {
    const jar = jarWith(SECRET);
    const cookie = issue(jar, '192.0.2.1', now);
    expect(jar.check(cookie, '192.0.2.1', now + 60)).toBe(CookieVerdict.VALID);
    expect(hex(jar.reply)).toBe(hex(cookie));
  });

  it('another instance with the same secret accepts it; one with another secret does not', () => {
    const cookie = issue(jarWith(SECRET), '2001:db8::53', now);
    expect(jarWith(SECRET).check(cookie, '2001:db8::53', now + 1)).toBe(CookieVerdict.VALID);
    const other = jarWith('00112233445566778899aabbccddeeff');
    expect(other.check(cookie, '2001:db8::53', now + 1)).toBe(CookieVerdict.INVALID);
    // The reply then carries a new cookie that the other instance itself accepts.
    expect(other.check(Uint8Array.from(other.reply), '2001:db8::53', now + 2)).toBe(CookieVerdict.VALID);
  });

  it('after a rotation the previous secret still validates, and the reply moves to the new secret', () => {
    const cookie = issue(jarWith(SECRET), '192.0.2.1', now);
    const rotated = jarWith(`00112233445566778899aabbccddeeff\n${SECRET}\n`);
    expect(rotated.check(cookie, '192.0.2.1', now + 5)).toBe(CookieVerdict.VALID);
    expect(hex(rotated.reply)).not.toBe(hex(cookie));
    expect(jarWith('00112233445566778899aabbccddeeff').check(Uint8Array.from(rotated.reply), '192.0.2.1', now + 6)).toBe(CookieVerdict.VALID);
  });

  it('is bound to the client address', () => {
    const jar = jarWith(SECRET);
    const cookie = issue(jar, '192.0.2.1', now);
    expect(jar.check(cookie, '192.0.2.2', now)).toBe(CookieVerdict.INVALID);
    // A dual-stack socket's mapped form is the same client.
    expect(jar.check(cookie, '::ffff:192.0.2.1', now)).toBe(CookieVerdict.VALID);
  });

  it('expires after an hour and is not accepted from more than five minutes in the future', () => {
    const jar = jarWith(SECRET);
    const cookie = issue(jar, '192.0.2.1', now);
    expect(jar.check(cookie, '192.0.2.1', now + 3600)).toBe(CookieVerdict.VALID);
    expect(jar.check(cookie, '192.0.2.1', now + 3601)).toBe(CookieVerdict.INVALID);
    expect(jar.check(cookie, '192.0.2.1', now - 300)).toBe(CookieVerdict.VALID);
    expect(jar.check(cookie, '192.0.2.1', now - 301)).toBe(CookieVerdict.INVALID);
  });

  it('a tampered hash, a server cookie of another length or version is invalid', () => {
    const jar = jarWith(SECRET);
    const cookie = issue(jar, '192.0.2.1', now);
    const tampered = Uint8Array.from(cookie);
    tampered[23] ^= 1;
    expect(jar.check(tampered, '192.0.2.1', now)).toBe(CookieVerdict.INVALID);
    expect(jar.check(cookie.subarray(0, 16), '192.0.2.1', now)).toBe(CookieVerdict.INVALID);
    const v2 = Uint8Array.from(cookie);
    v2[8] = 2;
    expect(jar.check(v2, '192.0.2.1', now)).toBe(CookieVerdict.INVALID);
  });

  it('option lengths: 8, or 16 to 40 octets (RFC 7873 §4)', () => {
    expect([0, 7, 8, 9, 15, 16, 40, 41].map(cookieLengthOk)).toEqual([false, false, true, false, false, true, true, false]);
  });
});

describe('secret file', () => {
  it('names file and line for a bad secret, and refuses a third one', () => {
    expect(() => parseCookieSecrets('# fleet secret\nnot-hex\n', 'secret.txt')).toThrow('secret.txt:2: a cookie secret is 16 octets');
    expect(() => parseCookieSecrets(`${SECRET}\n${SECRET}\n${SECRET}\n`, 'secret.txt')).toThrow('secret.txt:3: at most two secrets');
    expect(() => parseCookieSecrets('\n# nothing\n', 'secret.txt')).toThrow('secret.txt:0: no secret');
  });
});
