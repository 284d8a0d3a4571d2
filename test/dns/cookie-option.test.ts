// The COOKIE option on the wire: decoded from a query (RFC 7873 §4, §5.2.2), written into replies.
import { describe, expect, it } from 'vitest';
import { Rcode } from '../../src/dns/constants.js';
import { decodeQuery } from '../../src/dns/decode-query.js';
import { encodeErrorResponse, encodeResponse, encodeTruncatedResponse } from '../../src/dns/encode-response.js';
import type { Answer, Query } from '../../src/dns/types.js';
import { cookieOption, replyOpt } from '../helpers/cookies.js';
import { buildQuery } from '../helpers/dns-client.js';

const CLIENT = '0102030405060708';
const withCookie = (...hexes: string[]) => buildQuery('www.example.test', 'A', { id: 9, edns: { options: hexes.map(cookieOption) } });
const query = (msg: Buffer): Query => {
  const d = decodeQuery(msg);
  if (d.kind !== 'query') throw new Error(`not a query: ${JSON.stringify(d)}`);
  return d.query;
};
const EMPTY: Answer = { rcode: 0, aa: true, answer: [], authority: [], additional: [], ecsScope: 0 };

describe('COOKIE option', () => {
  it('decodes a client cookie, and a client and server cookie, as views of the request', () => {
    expect(Buffer.from(query(withCookie(CLIENT)).edns!.cookie!).toString('hex')).toBe(CLIENT);
    const full = `${CLIENT}${'ab'.repeat(16)}`;
    expect(Buffer.from(query(withCookie(full)).edns!.cookie!).toString('hex')).toBe(full);
    expect(query(buildQuery('www.example.test', 'A', { edns: true })).edns!.cookie).toBeNull();
  });

  it.each([0, 7, 9, 15, 41])('an option of %i octets is FORMERR (RFC 7873 §5.2.2)', (n) => {
    const d = decodeQuery(withCookie('01'.repeat(n)));
    expect(d).toMatchObject({ kind: 'error', reason: 'bad_cookie', rcode: Rcode.FORMERR });
  });

  it('two COOKIE options are FORMERR', () => {
    expect(decodeQuery(withCookie(CLIENT, CLIENT))).toMatchObject({ kind: 'error', reason: 'bad_cookie' });
  });

  it('a reply carries the given cookie only when the query sent one', () => {
    const cookie = Buffer.from(`${CLIENT}${'cd'.repeat(16)}`, 'hex');
    const msg = withCookie(CLIENT);
    expect(replyOpt(Buffer.from(encodeResponse(msg, query(msg), EMPTY, 1232, cookie)))?.cookie).toBe(cookie.toString('hex'));
    const plain = buildQuery('www.example.test', 'A', { edns: true });
    expect(replyOpt(Buffer.from(encodeResponse(plain, query(plain), EMPTY, 1232, cookie)))?.cookie).toBeNull();
  });

  it('BADCOOKIE (23) is split between the header and the OPT; a slip is TC=1 with the question and the cookie', () => {
    const cookie = Buffer.from(`${CLIENT}${'cd'.repeat(16)}`, 'hex');
    const msg = withCookie(CLIENT);
    const qy = query(msg);
    const bad = Buffer.from(encodeErrorResponse(msg, qy.id, qy.flags, qy.opcode, qy.questionEnd, Rcode.BADCOOKIE, qy.edns, 1232, cookie));
    expect(replyOpt(bad)).toEqual({ rcode: 23, cookie: cookie.toString('hex') });
    const slip = Buffer.from(encodeTruncatedResponse(msg, qy, Rcode.NOERROR, cookie));
    expect(slip[2] & 0x02).toBe(0x02);
    expect(slip.readUInt16BE(4)).toBe(1); // the question
    expect(slip.readUInt16BE(6)).toBe(0); // no answers
    expect(replyOpt(slip)?.cookie).toBe(cookie.toString('hex'));
  });
});
