// Per-client connection quotas: DNS over TCP counts a client's /24 or /56, HTTP its address.
import { describe, expect, it } from 'vitest';
import { clientAddress, clientNetwork, ClientQuota } from '../../src/dns/client-quota.js';

describe('clientNetwork', () => {
  it('groups IPv4 by /24 and IPv6 by /56, IPv4-mapped addresses as IPv4', () => {
    expect(clientNetwork('192.0.2.77')).toBe('192.0.2/24');
    expect(clientNetwork('::ffff:192.0.2.1')).toBe('192.0.2/24');
    expect(clientNetwork('2001:db8:1:2ff::1')).toBe('2001:db8:1:200/56');
    expect(clientNetwork('2001:db8:1:2aa:ffff::9')).toBe(clientNetwork('2001:db8:1:2ff::1'));
    expect(clientNetwork('2001:db8:1:300::1')).not.toBe(clientNetwork('2001:db8:1:2ff::1'));
    expect(clientNetwork('not an address')).toBe('not an address');
  });

  it('clientAddress unwraps IPv4-mapped IPv6', () => {
    expect(clientAddress('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(clientAddress('::1')).toBe('::1');
  });
});

describe('ClientQuota', () => {
  it('gives each key at most its share and takes slots back', () => {
    const q = new ClientQuota(2);
    expect([q.acquire('a'), q.acquire('a'), q.acquire('a'), q.acquire('b')]).toEqual([true, true, false, true]);
    expect(q.clients).toBe(2);
    q.release('a');
    expect(q.acquire('a')).toBe(true);
    q.release('a');
    q.release('a');
    q.release('b');
    expect(q.clients).toBe(0);
  });
});
