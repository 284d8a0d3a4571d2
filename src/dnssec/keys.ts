// DNSSEC keys: BIND's key files (`K<zone>.+<alg>+<tag>.key` / `.private`) ↔ Node KeyObjects, so keys made
// by dnssec-keygen or ldns-keygen work here and ours work there. Algorithms 13 (ECDSA P-256/SHA-256,
// RFC 6605) and 15 (Ed25519, RFC 8080), through node:crypto.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { canonicalName, nameToWire } from '../dns/name.js';

export const Algorithm = { ECDSAP256SHA256: 13, ED25519: 15 } as const;
export type AlgorithmNumber = (typeof Algorithm)[keyof typeof Algorithm];

const ALG_NAME: Record<AlgorithmNumber, string> = { 13: 'ECDSAP256SHA256', 15: 'ED25519' };
/** DNSKEY flags (RFC 4034 §2.1.1): Zone Key, plus SEP for a key-signing key. */
export const ZONE_KEY = 256;
export const SEP = 1;

export interface DnssecKey {
  zone: string;
  algorithm: AlgorithmNumber;
  /** 257 (KSK or CSK) or 256 (ZSK). */
  flags: number;
  tag: number;
  /** DNSKEY rdata (RFC 4034 §2.1). */
  dnskey: Uint8Array;
  privateKey: crypto.KeyObject;
  /** The `.key` file it came from, for messages. */
  file: string;
  /** BIND's timing metadata from the `.private` file (ms since the epoch), when present. */
  times: KeyTimes;
}

export interface KeyTimes {
  publish?: number;
  activate?: number;
  inactive?: number;
  delete?: number;
}

/** In the DNSKEY set at `now`: published and not yet deleted. */
export function isPublished(k: DnssecKey, now: number): boolean {
  return (k.times.publish === undefined || k.times.publish <= now) && (k.times.delete === undefined || k.times.delete > now);
}

/** Signing at `now`: published, active, not yet inactive (a key pre-published for a rollover is not). */
export function isActive(k: DnssecKey, now: number): boolean {
  return isPublished(k, now) && (k.times.activate === undefined || k.times.activate <= now) && (k.times.inactive === undefined || k.times.inactive > now);
}

export class KeyFileError extends Error {
  constructor(readonly file: string, readonly line: number, message: string) {
    super(message);
  }
}

/** RFC 4034 Appendix B key tag (algorithm 1 excepted, which we do not support). */
export function keyTag(rdata: Uint8Array): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i] : rdata[i] << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

export function dnskeyRdata(flags: number, algorithm: number, publicKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + publicKey.length);
  out[0] = flags >> 8;
  out[1] = flags & 0xff;
  out[2] = 3; // protocol (RFC 4034 §2.1.2)
  out[3] = algorithm;
  out.set(publicKey, 4);
  return out;
}

/** DS rdata with a SHA-256 digest (RFC 4034 §5.1.4, RFC 4509): digest over owner wire | DNSKEY rdata. */
export function dsRdata(zone: string, key: Pick<DnssecKey, 'tag' | 'algorithm' | 'dnskey'>): Uint8Array {
  const digest = crypto.createHash('sha256').update(nameToWire(zone)).update(key.dnskey).digest();
  const out = new Uint8Array(4 + digest.length);
  out[0] = key.tag >> 8;
  out[1] = key.tag & 0xff;
  out[2] = key.algorithm;
  out[3] = 2; // digest type SHA-256
  out.set(digest, 4);
  return out;
}

export function dsText(zone: string, key: DnssecKey): string {
  const ds = dsRdata(zone, key);
  return `${zone} IN DS ${key.tag} ${key.algorithm} 2 ${Buffer.from(ds.subarray(4)).toString('hex').toUpperCase()}`;
}

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const unb64u = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'base64url');

/** The DNSKEY public key field from a private key (P-256: x‖y, RFC 6605 §4; Ed25519: 32 octets, RFC 8080 §3). */
function publicKeyField(algorithm: AlgorithmNumber, privateKey: crypto.KeyObject): Uint8Array {
  const jwk = privateKey.export({ format: 'jwk' });
  return algorithm === Algorithm.ED25519 ? unb64u(jwk.x) : Buffer.concat([unb64u(jwk.x), unb64u(jwk.y)]);
}

/** Signs a probe with the private key and checks it with the DNSKEY's public key (a JWK keeps whatever x, y it is given). */
function pairMatches(algorithm: AlgorithmNumber, privateKey: crypto.KeyObject, publicKey: Uint8Array): boolean {
  const jwk = algorithm === Algorithm.ED25519
    ? { kty: 'OKP', crv: 'Ed25519', x: b64u(publicKey) }
    : { kty: 'EC', crv: 'P-256', x: b64u(publicKey.subarray(0, 32)), y: b64u(publicKey.subarray(32)) };
  const pub = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const probe = Buffer.from('regiondns key check');
  const hash = algorithm === Algorithm.ED25519 ? null : 'sha256';
  return crypto.verify(hash, probe, pub, crypto.sign(hash, probe, privateKey));
}

function privateKeyObject(algorithm: AlgorithmNumber, publicKey: Uint8Array, secret: Uint8Array): crypto.KeyObject {
  if (algorithm === Algorithm.ED25519) {
    if (publicKey.length !== 32 || secret.length !== 32) throw new Error('an Ed25519 key has 32-octet public and private parts');
    return crypto.createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(publicKey), d: b64u(secret) }, format: 'jwk' });
  }
  if (publicKey.length !== 64 || secret.length === 0 || secret.length > 32) throw new Error('a P-256 key has a 64-octet public key and a private key of at most 32 octets');
  // The private key is an integer: BIND writes it without its leading zero octets (OpenSSL's
  // BN_bn2bin), so about one key in 256 has 31 octets or fewer. JWK wants exactly 32 (RFC 7518 §6.2.2.1).
  const d = new Uint8Array(32);
  d.set(secret, 32 - secret.length);
  return crypto.createPrivateKey({
    key: { kty: 'EC', crv: 'P-256', x: b64u(publicKey.subarray(0, 32)), y: b64u(publicKey.subarray(32)), d: b64u(d) },
    format: 'jwk',
  });
}

/** BIND's base name for a key: `K<zone>+<alg>+<tag>` with the zone's trailing dot (`Kexample.com.+013+01234`). */
export function keyBaseName(zone: string, algorithm: number, tag: number): string {
  return `K${zone}+${String(algorithm).padStart(3, '0')}+${String(tag).padStart(5, '0')}`;
}

/** A new key pair; nothing is written. */
export function generateKey(zone: string, algorithm: AlgorithmNumber, flags: number): DnssecKey {
  const privateKey = algorithm === Algorithm.ED25519
    ? crypto.generateKeyPairSync('ed25519').privateKey
    : crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const dnskey = dnskeyRdata(flags, algorithm, publicKeyField(algorithm, privateKey));
  return { zone, algorithm, flags, tag: keyTag(dnskey), dnskey, privateKey, file: '', times: {} };
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** Writes `.key` and `.private` as dnssec-keygen does (the private file mode 0600); returns the base path. */
export function writeKeyFiles(dir: string, key: DnssecKey, now = new Date()): string {
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, keyBaseName(key.zone, key.algorithm, key.tag));
  const role = key.flags & SEP ? 'key-signing' : 'zone-signing';
  const pub = Buffer.from(key.dnskey.subarray(4)).toString('base64');
  const jwk = key.privateKey.export({ format: 'jwk' });
  const when = stamp(now);
  fs.writeFileSync(`${base}.key`,
    `; This is a ${role} key, keyid ${key.tag}, for ${key.zone}\n; Created: ${when}\n`
    + `${key.zone} IN DNSKEY ${key.flags} 3 ${key.algorithm} ${pub}\n`);
  fs.writeFileSync(`${base}.private`,
    `Private-key-format: v1.3\nAlgorithm: ${key.algorithm} (${ALG_NAME[key.algorithm]})\n`
    + `PrivateKey: ${unb64u(jwk.d).toString('base64')}\nCreated: ${when}\nPublish: ${when}\nActivate: ${when}\n`,
    { mode: 0o600 });
  return base;
}

/** Reads one key pair from its `.key` path (the `.private` beside it). Throws KeyFileError naming file:line. */
export function readKeyFiles(keyFile: string): DnssecKey {
  const text = readText(keyFile);
  let found: { zone: string; flags: number; algorithm: number; publicKey: Buffer; line: number } | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/;.*$/, '').trim();
    if (line === '' || found) return;
    // owner [ttl] [class] DNSKEY flags protocol algorithm base64…
    const m = /^(\S+)\s+(?:\d+\s+)?(?:IN\s+)?(?:\d+\s+)?DNSKEY\s+(\d+)\s+(\d+)\s+(\d+)\s+(.+)$/i.exec(line);
    if (!m) throw new KeyFileError(keyFile, i + 1, 'expected "<zone> IN DNSKEY <flags> 3 <algorithm> <base64 key>"');
    if (m[3] !== '3') throw new KeyFileError(keyFile, i + 1, `DNSKEY protocol must be 3, not ${m[3]}`);
    found = { zone: canonicalName(m[1]), flags: Number(m[2]), algorithm: Number(m[4]), publicKey: Buffer.from(m[5].replace(/\s+/g, ''), 'base64'), line: i + 1 };
  });
  if (!found) throw new KeyFileError(keyFile, 0, 'no DNSKEY record in the key file');
  const k: { zone: string; flags: number; algorithm: number; publicKey: Buffer; line: number } = found;
  if (k.algorithm !== Algorithm.ECDSAP256SHA256 && k.algorithm !== Algorithm.ED25519) {
    throw new KeyFileError(keyFile, k.line, `DNSKEY algorithm ${k.algorithm} is not supported (13 ECDSAP256SHA256 or 15 ED25519)`);
  }
  if ((k.flags & ~SEP) !== ZONE_KEY) throw new KeyFileError(keyFile, k.line, `DNSKEY flags must be 256 (ZSK) or 257 (KSK/CSK), not ${k.flags}`);
  const algorithm = k.algorithm as AlgorithmNumber;
  const privFile = keyFile.replace(/\.key$/, '.private');
  const priv = readText(privFile);
  let secret: Buffer | null = null;
  const times: KeyTimes = {};
  priv.split('\n').forEach((raw, i) => {
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(raw.trim());
    if (!m) return;
    const field = TIME_FIELDS[m[1]];
    if (field !== undefined) {
      const t = parseStamp(m[2]);
      if (t === null) throw new KeyFileError(privFile, i + 1, `${m[1]}: expected a YYYYMMDDHHMMSS time, not "${m[2]}"`);
      times[field] = t;
    }
    if (m[1] === 'Algorithm' && Number(m[2].split(/\s/)[0]) !== algorithm) {
      throw new KeyFileError(privFile, i + 1, `algorithm ${m[2]} differs from the .key file's ${algorithm}`);
    }
    if (m[1] === 'PrivateKey') secret = Buffer.from(m[2], 'base64');
  });
  if (secret === null) throw new KeyFileError(privFile, 0, 'no "PrivateKey:" line (only ECDSA P-256 and Ed25519 private keys are read)');
  let privateKey: crypto.KeyObject;
  try {
    privateKey = privateKeyObject(algorithm, k.publicKey, secret);
  } catch (e) {
    throw new KeyFileError(privFile, 0, `unusable private key: ${(e as Error).message}`);
  }
  if (!pairMatches(algorithm, privateKey, k.publicKey)) {
    throw new KeyFileError(privFile, 0, `the private key does not match the public key in ${keyFile}`);
  }
  const dnskey = dnskeyRdata(k.flags, algorithm, k.publicKey);
  return { zone: k.zone, algorithm, flags: k.flags, tag: keyTag(dnskey), dnskey, privateKey, file: keyFile, times };
}

const TIME_FIELDS: Record<string, keyof KeyTimes> = { Publish: 'publish', Activate: 'activate', Inactive: 'inactive', Delete: 'delete' };

/** BIND's YYYYMMDDHHMMSS (UTC) → ms since the epoch. */
function parseStamp(s: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s.trim());
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : null;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new KeyFileError(file, 0, `cannot read key file: ${(e as Error).message}`);
  }
}

/** Every key of `zone` in `dir` (files named K<zone>.+…, with or without the trailing dot). */
export function readZoneKeys(dir: string, zone: string): DnssecKey[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return []; // no keys folder: no zone is signed
  }
  const bare = zone === '.' ? '.' : zone.slice(0, -1);
  const prefixes = [`K${zone}+`, `K${bare}+`].map((p) => p.toLowerCase());
  const keys: DnssecKey[] = [];
  for (const n of names.sort()) {
    if (!n.endsWith('.key') || !prefixes.some((p) => n.toLowerCase().startsWith(p))) continue;
    const key = readKeyFiles(path.join(dir, n));
    if (key.zone !== zone) throw new KeyFileError(path.join(dir, n), 1, `key is for ${key.zone}, but its file name says ${zone}`);
    keys.push(key);
  }
  return keys;
}
