// EDNS Client Subnet option codec (RFC 7871 §6). Pure, bounds-checked, no exceptions on the decode path.
//
//  +0 OPTION-CODE (8)  +2 OPTION-LENGTH
//  +4 FAMILY (1 = IPv4, 2 = IPv6)  +6 SOURCE PREFIX-LENGTH  +7 SCOPE PREFIX-LENGTH
//  +8 ADDRESS: exactly ceil(SOURCE / 8) octets, bits past SOURCE zero.

import type { ClientSubnet } from './types.js';
import { EdnsOption } from './constants.js';
import { bytesToIp, parseNetwork } from './address.js';

export type EcsErrorCode =
  | 'short' // fewer than 4 octets of FAMILY/SOURCE/SCOPE
  | 'family' // not 1 or 2
  | 'source_prefix' // longer than the family's address
  | 'scope_prefix' // non-zero in a query, or longer than the address in a response
  | 'address_length' // not ceil(SOURCE / 8) octets
  | 'host_bits'; // non-zero bits past SOURCE

/** Why an ECS option was rejected; the query is then answered FORMERR (RFC 7871 §7.1.1). */
export interface EcsError {
  readonly error: EcsErrorCode;
  readonly detail: string;
}

export function isEcsError(v: ClientSubnet | EcsError): v is EcsError {
  return (v as EcsError).error !== undefined;
}

/** Address length in octets and maximum prefix of a family. */
function familyBits(family: number): number {
  return family === 1 ? 32 : family === 2 ? 128 : -1;
}

function fail(error: EcsErrorCode, detail: string): EcsError {
  return { error, detail };
}

/**
 * Decodes the option body (FAMILY onward; `offset`/`length` delimit OPTION-DATA).
 * In a query SCOPE must be 0 (RFC 7871 §6); pass `inResponse` to accept a scope up to the family's maximum.
 */
export function decodeEcs(buf: Uint8Array, offset: number, length: number, inResponse = false): ClientSubnet | EcsError {
  if (length < 4 || offset + length > buf.length) return fail('short', `ECS option is ${length} octets, needs at least 4`);
  const family = (buf[offset] << 8) | buf[offset + 1];
  const maxBits = familyBits(family);
  if (maxBits < 0) return fail('family', `ECS family ${family} is neither 1 (IPv4) nor 2 (IPv6)`);
  const source = buf[offset + 2];
  const scope = buf[offset + 3];
  if (source > maxBits) return fail('source_prefix', `ECS source prefix /${source} exceeds /${maxBits}`);
  if (inResponse ? scope > maxBits : scope !== 0) {
    return fail('scope_prefix', `ECS scope prefix /${scope} ${inResponse ? `exceeds /${maxBits}` : 'must be 0 in a query'}`);
  }
  const addrLen = (source + 7) >> 3;
  if (length - 4 !== addrLen) {
    return fail('address_length', `ECS address is ${length - 4} octets, /${source} needs ${addrLen}`);
  }
  const a = offset + 4;
  // Only the last address octet can hold bits past the prefix (RFC 7871 §6: they MUST be zero).
  const rem = source & 7;
  if (rem !== 0 && (buf[a + addrLen - 1] & (0xff >> rem)) !== 0) {
    return fail('host_bits', `ECS address has bits set past /${source}`);
  }
  const address = new Uint8Array(maxBits >> 3);
  for (let i = 0; i < addrLen; i++) address[i] = buf[a + i];
  return { family: family as 1 | 2, sourcePrefix: source, scopePrefix: scope, address };
}

/** Octets the whole option takes in OPT RDATA, the 4-octet option header included. */
export function ecsOptionLength(ecs: ClientSubnet): number {
  return 8 + ((ecs.sourcePrefix + 7) >> 3);
}

/**
 * Writes the whole option (code 8, length, body) at `offset`; returns the offset past it.
 * SCOPE is clamped to 0..family maximum; ADDRESS is cut to ceil(SOURCE / 8) octets with host bits masked.
 */
export function encodeEcs(out: Uint8Array, offset: number, ecs: ClientSubnet, scope: number): number {
  const maxBits = ecs.family === 1 ? 32 : 128;
  const source = ecs.sourcePrefix > maxBits ? maxBits : ecs.sourcePrefix;
  const addrLen = (source + 7) >> 3;
  const sc = scope > 0 ? (scope > maxBits ? maxBits : scope | 0) : 0;
  let o = offset;
  out[o++] = 0;
  out[o++] = EdnsOption.ECS;
  out[o++] = 0;
  out[o++] = 4 + addrLen;
  out[o++] = 0;
  out[o++] = ecs.family;
  out[o++] = source;
  out[o++] = sc;
  const addr = ecs.address;
  for (let i = 0; i < addrLen; i++) out[o++] = addr[i] ?? 0;
  const rem = source & 7;
  if (rem !== 0) out[o - 1] &= (0xff << (8 - rem)) & 0xff;
  return o;
}

/** "193.0.0.0/24", "2001:db8::/56" (RFC 5952 text for IPv6). */
export function ecsToString(ecs: ClientSubnet): string {
  return `${addressToString(ecs.family, ecs.address)}/${ecs.sourcePrefix}`;
}

/** Text of a full-length ECS address (4 or 16 octets). */
export function addressToString(family: 1 | 2, a: Uint8Array): string {
  return bytesToIp(family === 1 ? a.subarray(0, 4) : a);
}

/**
 * Parses "1.2.3.0/24", "2001:db8::/56" or a bare address (/32 or /128) into a ClientSubnet with scope 0.
 * The text names a querying client, so host bits are masked, not refused: a resolver truncates the
 * address to the source prefix the same way (RFC 7871 §6), and "203.0.113.7/24" reads naturally as
 * "this client, sending a /24". The prefix counts the bits of the address as written, so an IPv4-mapped
 * "::ffff:192.0.2.1/120" is 192.0.2.0/24. For the CLI, the ops API and tests; throws a user-facing Error.
 */
export function parseSubnet(text: string): ClientSubnet {
  const s = text.trim();
  const r = parseNetwork(s);
  if (!r.ok) {
    const slash = s.indexOf('/');
    if (slash < 0 || !parseNetwork(s.slice(0, slash)).ok) throw new Error(`"${text}" is not an IPv4 or IPv6 address or subnet`);
    throw new Error(`"${text}": ${r.error}`);
  }
  const { bytes, prefix } = r.network;
  return { family: bytes.length === 4 ? 1 : 2, sourcePrefix: prefix, scopePrefix: 0, address: bytes };
}
