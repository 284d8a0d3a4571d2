// One RRSIG over one RRset (RFC 4034 §3, RFC 4035 §2.2): the canonical signed data (RFC 4034 §6) and
// the signature through node:crypto. Names reaching here are canonical (lower case), and so is the
// rdata our zone parser makes, so the records' bytes are already in canonical form.

import crypto from 'node:crypto';
import { nameToWire } from '../dns/name.js';
import { Algorithm, type DnssecKey } from './keys.js';

export interface SigningWindow {
  /** Seconds since the epoch; written modulo 2^32 (RFC 4034 §3.1.5, serial number arithmetic). */
  inception: number;
  expiration: number;
}

export interface RRsetToSign {
  /** Owner as signed: for a wildcard expansion, the wildcard (`*.example.com.`), RFC 4035 §5.3.2. */
  ownerWire: Uint8Array;
  type: number;
  ttl: number;
  /** The RRset's rdata, in canonical order (RFC 4034 §6.3) and without duplicates. */
  rdatas: readonly Uint8Array[];
  /** Labels of the owner as signed, `*` not counted (RFC 4034 §3.1.3). */
  labels: number;
}

const signerWires = new Map<string, Uint8Array>();

function signerWire(zone: string): Uint8Array {
  let w = signerWires.get(zone);
  if (!w) {
    w = nameToWire(zone);
    signerWires.set(zone, w);
  }
  return w;
}

/** RRSIG rdata for `set` made with `key`. */
export function makeRrsig(set: RRsetToSign, key: DnssecKey, window: SigningWindow): Uint8Array {
  const signer = signerWire(key.zone);
  const head = Buffer.alloc(18 + signer.length);
  head.writeUInt16BE(set.type, 0);
  head[2] = key.algorithm;
  head[3] = set.labels;
  head.writeUInt32BE(set.ttl >>> 0, 4);
  head.writeUInt32BE(window.expiration >>> 0, 8);
  head.writeUInt32BE(window.inception >>> 0, 12);
  head.writeUInt16BE(key.tag, 16);
  head.set(signer, 18);
  const parts: Uint8Array[] = [head];
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(set.type, 0);
  fixed.writeUInt16BE(1, 2); // class IN
  fixed.writeUInt32BE(set.ttl >>> 0, 4);
  for (const rd of set.rdatas) {
    const f = Buffer.from(fixed);
    f.writeUInt16BE(rd.length, 8);
    parts.push(set.ownerWire, f, rd);
  }
  const data = Buffer.concat(parts);
  const sig = key.algorithm === Algorithm.ED25519
    ? crypto.sign(null, data, key.privateKey)
    // RFC 6605 §4: r‖s, 32 octets each, not DER.
    : crypto.sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return Buffer.concat([head, sig]);
}
