// The socket edge hands the query handler the resolver's address as octets, whatever the socket gave.
import { describe, expect, it } from 'vitest';
import { ClientOctets } from '../../src/server/dns-listeners.js';

describe('ClientOctets', () => {
  it('parses text once per run of one resolver, and passes octets through', () => {
    const c = new ClientOctets();
    const a = c.of('192.0.2.7');
    expect([...a]).toEqual([192, 0, 2, 7]);
    expect(c.of('192.0.2.7')).toBe(a); // the same resolver again: not parsed again
    expect([...c.of('::ffff:198.51.100.1')]).toEqual([198, 51, 100, 1]); // IPv4-mapped, as RRL and cookies key it
    expect(c.of('2001:db8::1')).toHaveLength(16);
    const raw = Uint8Array.of(203, 0, 113, 9);
    expect(c.of(raw)).toBe(raw);
  });

  it('gives empty octets for text that is not an address', () => {
    expect(new ClientOctets().of('not an address')).toHaveLength(0);
  });
});
