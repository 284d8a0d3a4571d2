// `regiondns dnssec keygen|ds`: make a zone's keys, print the DS records its parent needs.

import { parseArgs } from 'node:util';
import { canonicalName } from '../dns/name.js';
import { Algorithm, dsText, generateKey, readZoneKeys, SEP, writeKeyFiles, ZONE_KEY, type AlgorithmNumber } from './keys.js';
import { defaultKeysDir } from './load.js';

const USAGE = `Usage:
  regiondns dnssec keygen ZONE [--keys DIR] [--algorithm 13|15] [--ksk-zsk]
      writes a CSK (or with --ksk-zsk a KSK and a ZSK) as BIND key files K<zone>.+<alg>+<tag>.key/.private
  regiondns dnssec ds ZONE [--keys DIR]
      prints the DS records (SHA-256) of the zone's KSKs or CSK, for the parent zone

  --keys DIR        the keys folder (default: keys/ inside the zones folder, ./zones/keys)
  --zones DIR       the zones folder, to find the default keys folder (default ./zones)
  --algorithm N     13 ECDSA P-256/SHA-256 (default) or 15 Ed25519
  --ksk-zsk         a key-signing key and a zone-signing key instead of one combined signing key`;

export function runDnssec(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (sub !== 'keygen' && sub !== 'ds') {
    console.error(USAGE);
    return sub === undefined || sub === '--help' || sub === '-h' ? (sub === undefined ? 2 : 0) : 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      keys: { type: 'string' },
      zones: { type: 'string', default: 'zones' },
      algorithm: { type: 'string', default: '13' },
      'ksk-zsk': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const zone = canonicalName(positionals[0]);
  const dir = values.keys ?? defaultKeysDir(values.zones!);
  if (sub === 'keygen') {
    const alg = Number(values.algorithm);
    if (alg !== Algorithm.ECDSAP256SHA256 && alg !== Algorithm.ED25519) {
      console.error(`--algorithm takes 13 (ECDSA P-256/SHA-256) or 15 (Ed25519), not ${values.algorithm}`);
      return 2;
    }
    const flags = values['ksk-zsk'] ? [ZONE_KEY | SEP, ZONE_KEY] : [ZONE_KEY | SEP];
    for (const f of flags) {
      const key = generateKey(zone, alg as AlgorithmNumber, f);
      const base = writeKeyFiles(dir, key);
      console.log(`${base}.key  (${f & SEP ? (flags.length === 1 ? 'CSK' : 'KSK') : 'ZSK'}, key tag ${key.tag})`);
    }
    console.log(`\nDS for the parent of ${zone}:`);
  }
  const keys = readZoneKeys(dir, zone).filter((k) => (k.flags & SEP) !== 0);
  if (keys.length === 0) {
    console.error(`no key-signing key for ${zone} in ${dir}`);
    return 1;
  }
  for (const k of keys) console.log(dsText(zone, k));
  return 0;
}
