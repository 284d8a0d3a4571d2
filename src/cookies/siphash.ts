// SipHash-2-4 (Aumasson & Bernstein), the PRF RFC 9018 §4.4 names for interoperable server cookies.
// The arithmetic comes from the siphash24 package; this module only pins the key size and checks it.

import siphash24 from 'siphash24';

export const SIPHASH_KEY_BYTES = 16;
export const SIPHASH_OUT_BYTES = 8;

/** Writes SipHash-2-4(key, data) into out[0..8) (the reference byte order) and returns out. */
export function siphash(key: Uint8Array, data: Uint8Array, out: Uint8Array): Uint8Array {
  if (key.length !== SIPHASH_KEY_BYTES) throw new RangeError(`a SipHash key is ${SIPHASH_KEY_BYTES} octets, not ${key.length}`);
  if (out.length < SIPHASH_OUT_BYTES) throw new RangeError(`SipHash writes ${SIPHASH_OUT_BYTES} octets`);
  return siphash24(data, key, out, true);
}
