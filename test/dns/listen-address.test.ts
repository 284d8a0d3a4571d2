// --listen ADDR:PORT text, parsed with the one address codec.
import { describe, expect, it } from 'vitest';
import { formatListenAddress, parseListenAddress } from '../../src/dns/listen-address.js';

describe('parseListenAddress', () => {
  it.each([
    ['127.0.0.1:5353', { host: '127.0.0.1', port: 5353, family: 4 }],
    [':5353', { host: '0.0.0.0', port: 5353, family: 4 }],
    ['[::1]:5353', { host: '::1', port: 5353, family: 6 }],
    ['[fe80::1%lo]:5353', { host: 'fe80::1%lo', port: 5353, family: 6 }], // the zone index is needed to bind
    ['[::ffff:127.0.0.1]:5353', { host: '::ffff:127.0.0.1', port: 5353, family: 6 }], // an IPv6 socket
  ])('%s', (text, want) => {
    expect(parseListenAddress(text)).toEqual(want);
    expect(formatListenAddress(want)).toBe(text.startsWith(':') ? `0.0.0.0${text}` : text);
  });

  it.each(['127.0.0.1', '01.2.3.4:53', 'localhost:53', '[1::2::3]:53', '127.0.0.1:65536', '::1:53'])('rejects %j', (text) => {
    expect(() => parseListenAddress(text)).toThrow(/bad listen address/);
  });
});
