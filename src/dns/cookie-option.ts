// The COOKIE EDNS option's layout (RFC 7873 §4): a client cookie of 8 octets, then an optional server
// cookie of 8 to 32 octets. What the server does with it lives in ../cookies/.

export const CLIENT_COOKIE_BYTES = 8;
export const MIN_SERVER_COOKIE_BYTES = 8;
export const MAX_SERVER_COOKIE_BYTES = 32;

/** Is `length` a well-formed COOKIE option length? Any other is FORMERR (RFC 7873 §5.2.2). */
export function cookieLengthOk(length: number): boolean {
  return length === CLIENT_COOKIE_BYTES
    || (length >= CLIENT_COOKIE_BYTES + MIN_SERVER_COOKIE_BYTES && length <= CLIENT_COOKIE_BYTES + MAX_SERVER_COOKIE_BYTES);
}
