// The rate-limit table alone: credit, debt, slip, prefixes, accounts and bounded memory.
import { describe, expect, it } from 'vitest';
import { ResponseKind, type Account } from '../../src/rrl/classify.js';
import { DEFAULT_RRL, ResponseRateLimiter, RrlAction, rrlEnabled, type RrlOptions } from '../../src/rrl/limiter.js';

const T0 = 1_800_000_000_000;
const www: Account = { kind: ResponseKind.ANSWER, name: 'www.example.', qtype: 1 };
const make = (o: Partial<RrlOptions> = {}) => new ResponseRateLimiter({ ...DEFAULT_RRL, rate: 5, ...o });

function burst(rrl: ResponseRateLimiter, n: number, client = '192.0.2.1', account = www, now = T0): Record<RrlAction, number> {
  const out = { [RrlAction.PASS]: 0, [RrlAction.DROP]: 0, [RrlAction.SLIP]: 0 } as Record<RrlAction, number>;
  for (let i = 0; i < n; i++) out[rrl.decide(client, account, now)]++;
  return out;
}

describe('ResponseRateLimiter', () => {
  it('passes `rate` responses in a second, then slips every slip-th limited one', () => {
    const r = burst(make({ slip: 3 }), 100);
    expect(r[RrlAction.PASS]).toBe(5);
    expect(r[RrlAction.SLIP]).toBe(Math.floor(95 / 3));
    expect(r[RrlAction.DROP]).toBe(95 - Math.floor(95 / 3));
  });

  it('slip 0 drops every limited response; slip 1 truncates every one', () => {
    expect(burst(make({ slip: 0 }), 20)[RrlAction.SLIP]).toBe(0);
    expect(burst(make({ slip: 1 }), 20)[RrlAction.SLIP]).toBe(15);
  });

  it('a flood that stays above the rate stays limited; after `window` quiet seconds the account is whole', () => {
    const rrl = make({ window: 3, slip: 0 });
    expect(burst(rrl, 50)[RrlAction.PASS]).toBe(5);
    // One second later: one second of credit does not repay the debt.
    expect(burst(rrl, 50, undefined, undefined, T0 + 1000)[RrlAction.PASS]).toBe(0);
    // Debt is at most window × rate = 15, repaid at 5 a second: 3 quiet seconds clear it, a fourth refills.
    expect(burst(rrl, 50, undefined, undefined, T0 + 1000 + 4000)[RrlAction.PASS]).toBe(5);
  });

  it('credit is at most one second: a quiet account cannot save up for a burst', () => {
    const rrl = make();
    burst(rrl, 1);
    expect(burst(rrl, 50, undefined, undefined, T0 + 60_000)[RrlAction.PASS]).toBe(5);
  });

  it('clients of one /24 (IPv4) or /56 (IPv6) share an account; other prefixes do not', () => {
    const rrl = make();
    expect(burst(rrl, 3, '192.0.2.1')[RrlAction.PASS]).toBe(3);
    expect(burst(rrl, 3, '192.0.2.200')[RrlAction.PASS]).toBe(2);
    expect(burst(rrl, 3, '192.0.3.1')[RrlAction.PASS]).toBe(3);
    expect(burst(rrl, 3, '2001:db8:0:ff::1')[RrlAction.PASS]).toBe(3);
    expect(burst(rrl, 3, '2001:db8:0:00ee::2')[RrlAction.PASS]).toBe(2);
    expect(burst(rrl, 3, '2001:db8:0:100::1')[RrlAction.PASS]).toBe(3);
  });

  it('the prefix length is configurable', () => {
    const rrl = make({ ipv4Prefix: 32 });
    expect(burst(rrl, 5, '192.0.2.1')[RrlAction.PASS]).toBe(5);
    expect(burst(rrl, 5, '192.0.2.2')[RrlAction.PASS]).toBe(5);
  });

  it('kind, name and type are separate accounts', () => {
    const rrl = make();
    expect(burst(rrl, 10)[RrlAction.PASS]).toBe(5);
    expect(burst(rrl, 10, undefined, { ...www, qtype: 28 })[RrlAction.PASS]).toBe(5);
    expect(burst(rrl, 10, undefined, { ...www, name: 'api.example.' })[RrlAction.PASS]).toBe(5);
    expect(burst(rrl, 10, undefined, { kind: ResponseKind.NXDOMAIN, name: 'example.', qtype: 0 })[RrlAction.PASS]).toBe(5);
  });

  it('each kind earns its own rate (BIND\'s nxdomains-/nodata-/referrals-/errors-per-second), the main rate by default', () => {
    const rrl = make({ rate: 5, nxdomainRate: 2, referralRate: 7, errorRate: 0 });
    const of = (kind: ResponseKind, name = 'example.') => ({ kind, name, qtype: 0 });
    expect(burst(rrl, 20)[RrlAction.PASS]).toBe(5);
    expect(burst(rrl, 20, undefined, of(ResponseKind.NXDOMAIN))[RrlAction.PASS]).toBe(2);
    expect(burst(rrl, 20, undefined, of(ResponseKind.NODATA))[RrlAction.PASS]).toBe(5);
    expect(burst(rrl, 20, undefined, of(ResponseKind.REFERRAL, 'sub.example.'))[RrlAction.PASS]).toBe(7);
    // 0: that kind is not limited at all.
    expect(burst(rrl, 200, undefined, of(ResponseKind.ERROR, ''))[RrlAction.PASS]).toBe(200);
    // Credit and debt are the kind's: window × its rate (here 2), repaid at its rate (1 a second).
    const slow = make({ rate: 5, nxdomainRate: 1, window: 2, slip: 0 });
    burst(slow, 50, undefined, of(ResponseKind.NXDOMAIN));
    expect(burst(slow, 5, undefined, of(ResponseKind.NXDOMAIN), T0 + 1000)[RrlAction.PASS]).toBe(0);
    expect(burst(slow, 5, undefined, of(ResponseKind.NXDOMAIN), T0 + 4000)[RrlAction.PASS]).toBe(1);
  });

  it('with the main rate 0, only the kinds given a rate are limited', () => {
    const rrl = make({ rate: 0, nxdomainRate: 3 });
    expect(rrlEnabled(rrl.opts)).toBe(true);
    expect(burst(rrl, 50)[RrlAction.PASS]).toBe(50);
    expect(burst(rrl, 50, undefined, { kind: ResponseKind.NXDOMAIN, name: 'example.', qtype: 0 })[RrlAction.PASS]).toBe(3);
    expect(rrlEnabled({ ...DEFAULT_RRL, rate: 0 })).toBe(false);
  });

  it('memory is bounded: a flood of distinct accounts takes over the stalest slots', () => {
    const rrl = make({ tableSize: 64 });
    for (let i = 0; i < 10_000; i++) rrl.decide(`10.${(i >> 8) & 255}.${i & 255}.1`, www, T0 + i);
    expect(rrl.evictions).toBeGreaterThan(0);
    // Still a working limiter afterwards.
    expect(burst(rrl, 10, '192.0.2.1', www, T0 + 20_000)[RrlAction.PASS]).toBe(5);
  });
});
