// Key files against BIND's own tools: keys from dnssec-keygen load here, keys written here give the
// same DS in dnssec-dsfromkey, and a signature made here verifies with the public key of the file.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Algorithm, dsText, generateKey, keyTag, readZoneKeys, writeKeyFiles } from '../../src/dnssec/keys.js';
import { attachKeys } from '../../src/dnssec/load.js';
import { nameToWire } from '../../src/dns/name.js';
import { parseMasterFile } from '../../src/zone/masterfile.js';
import type { ConfigError } from '../../src/config/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-keys-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function bindKeygen(keysDir: string, zone: string, alg: string, ksk: boolean): string {
  fs.mkdirSync(keysDir, { recursive: true });
  const args = ['-q', '-K', keysDir, '-a', alg, '-n', 'ZONE', ...(ksk ? ['-f', 'KSK'] : []), zone];
  return execFileSync('dnssec-keygen', args, { encoding: 'utf8' }).trim();
}

function dsFromKey(keyFile: string): string {
  return execFileSync('dnssec-dsfromkey', ['-2', keyFile], { encoding: 'utf8' }).trim();
}

/** DS text normalised (BIND prints the digest in one piece, upper case). */
const norm = (s: string) => s.replace(/\s+/g, ' ').toUpperCase();

describe('BIND key files', () => {
  it.each([['ECDSAP256SHA256', 13], ['ED25519', 15]] as const)('reads %s keys made by dnssec-keygen (KSK + ZSK)', (alg, num) => {
    const keysDir = path.join(dir, `bind-${num}`);
    const ksk = bindKeygen(keysDir, 'example.test', alg, true);
    const zsk = bindKeygen(keysDir, 'example.test', alg, false);
    const keys = readZoneKeys(keysDir, 'example.test.');
    expect(keys.map((k) => k.flags).sort()).toEqual([256, 257]);
    for (const k of keys) {
      expect(k.algorithm).toBe(num);
      // Our key tag agrees with the one in BIND's file name.
      expect(path.basename(k.file)).toBe(`${k.flags === 257 ? ksk : zsk}.key`);
      expect(k.tag).toBe(Number(/\+(\d+)$/.exec(k.flags === 257 ? ksk : zsk)![1]));
    }
    const kskKey = keys.find((k) => k.flags === 257)!;
    expect(norm(dsText('example.test.', kskKey))).toBe(norm(dsFromKey(kskKey.file).replace(/^(\S+)\s+IN/, '$1 IN')));
  });

  it.each([Algorithm.ECDSAP256SHA256, Algorithm.ED25519])('writes algorithm %i keys that BIND reads back with the same DS', (alg) => {
    const keysDir = path.join(dir, `ours-${alg}`);
    const key = generateKey('round.test.', alg, 257);
    const base = writeKeyFiles(keysDir, key);
    expect(path.basename(base)).toMatch(new RegExp(`^Kround\\.test\\.\\+0${alg}\\+\\d{5}$`));
    expect(fs.statSync(`${base}.private`).mode & 0o777).toBe(0o600);
    expect(norm(dsFromKey(`${base}.key`))).toBe(norm(dsText('round.test.', key)));
    // Read back: same key, and the private half signs what the public half verifies.
    const [back] = readZoneKeys(keysDir, 'round.test.');
    expect(back.tag).toBe(key.tag);
    expect(Buffer.from(back.dnskey).equals(Buffer.from(key.dnskey))).toBe(true);
    const data = Buffer.from('signed data');
    const sig = alg === Algorithm.ED25519 ? crypto.sign(null, data, back.privateKey) : crypto.sign('sha256', data, back.privateKey);
    const pub = crypto.createPublicKey(key.privateKey);
    expect(crypto.verify(alg === Algorithm.ED25519 ? null : 'sha256', data, pub, sig)).toBe(true);
  });

  it('computes the RFC 4034 Appendix B key tag', () => {
    // DNSKEY of the root KSK-2017 (tag 20326).
    const pub = Buffer.from(
      'AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=',
      'base64');
    const rdata = Buffer.concat([Buffer.from([1, 1, 3, 8]), pub]);
    expect(keyTag(rdata)).toBe(20326);
  });

  it('names the file of a broken key and keeps the zone unsigned', () => {
    const keysDir = path.join(dir, 'broken');
    fs.mkdirSync(keysDir, { recursive: true });
    fs.writeFileSync(path.join(keysDir, 'Kbroken.test.+013+00001.key'), '; comment\nbroken.test. IN DNSKEY 257 3 8 AwEAAQ==\n');
    const errors: ConfigError[] = [];
    const zone = { origin: 'broken.test.', records: [] };
    attachKeys([zone], keysDir, errors);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'REGIONDNS_ERR_DNSSEC_KEY', file: path.join(keysDir, 'Kbroken.test.+013+00001.key'), line: 2 });
    expect(errors[0].message).toContain('algorithm 8 is not supported');
    expect(zone).not.toHaveProperty('dnssec');
  });

  it("honours BIND's timing metadata: pre-published and retired keys are in the DNSKEY set but do not sign; deleted keys are gone", () => {
    const keysDir = path.join(dir, 'timing');
    const gen = (...extra: string[]) => {
      fs.mkdirSync(keysDir, { recursive: true });
      const base = execFileSync('dnssec-keygen', ['-q', '-K', keysDir, '-a', 'ECDSAP256SHA256', ...extra, 'time.test'], { encoding: 'utf8' }).trim();
      return Number(/\+(\d+)$/.exec(base)![1]);
    };
    const ksk = gen('-f', 'KSK');
    const zsk = gen();
    const next = gen('-P', 'now', '-A', '+10d');
    const retired = gen('-P', '-20d', '-A', '-20d', '-I', '-1d');
    const deleted = gen('-P', '-20d', '-A', '-20d', '-I', '-10d', '-D', '-1d');
    const zone: { origin: string; records: { type: number; rdata: Uint8Array }[]; dnssec?: { zsks: readonly { tag: number }[]; ksks: readonly { tag: number }[] } } = { origin: 'time.test.', records: [] };
    const errors: ConfigError[] = [];
    attachKeys([zone as Parameters<typeof attachKeys>[0][0]], keysDir, errors);
    expect(errors).toEqual([]);
    const published = zone.records.filter((r) => r.type === 48).map((r) => keyTag(r.rdata)).sort();
    expect(published).toEqual([ksk, zsk, next, retired].sort());
    expect(published).not.toContain(deleted);
    expect(zone.dnssec!.zsks.map((k) => k.tag)).toEqual([zsk]);
    expect(zone.dnssec!.ksks.map((k) => k.tag)).toEqual([ksk]);
  });

  it('reads a P-256 private key written without its leading zero octet, as BIND writes about one key in 256', () => {
    // Bounded search for a key whose private scalar starts with 0x00 (1 in 256 per try).
    let key = generateKey('short.test.', 13, 257);
    for (let i = 0; i < 20_000 && Buffer.from(key.privateKey.export({ format: 'jwk' }).d!, 'base64url')[0] !== 0; i++) key = generateKey('short.test.', 13, 257);
    const d = Buffer.from(key.privateKey.export({ format: 'jwk' }).d!, 'base64url');
    expect(d[0]).toBe(0);
    const base = writeKeyFiles(path.join(dir, 'short'), key);
    const priv = fs.readFileSync(`${base}.private`, 'utf8');
    fs.writeFileSync(`${base}.private`, priv.replace(/^PrivateKey: .*$/m, `PrivateKey: ${d.subarray(1).toString('base64')}`));
    const [read] = readZoneKeys(path.join(dir, 'short'), 'short.test.');
    expect(read.tag).toBe(key.tag);
    const data = Buffer.from('signed with the short key');
    const pub = crypto.createPublicKey(key.privateKey);
    expect(crypto.verify('sha256', data, pub, crypto.sign('sha256', data, read.privateKey))).toBe(true);
  });

  it('signs at most `presignLimit` RRsets at load, apex first; the rest on first use', () => {
    const keysDir = path.join(dir, 'lazy');
    writeKeyFiles(keysDir, generateKey('lazy.test.', 13, 257));
    const text = ['$ORIGIN lazy.test.', '$TTL 300', '@ SOA ns1 h 1 3600 600 86400 60', '@ NS ns1',
      ...Array.from({ length: 50 }, (_, i) => `h${i} A 192.0.2.${i}`)].join('\n');
    const zone = { origin: 'lazy.test.', records: parseMasterFile(text, { file: 'lazy', origin: 'lazy.test.' }).records } as Parameters<typeof attachKeys>[0][0];
    const errors: ConfigError[] = [];
    attachKeys([zone], keysDir, errors, {}, Date.now(), true, 5);
    expect(errors).toEqual([]);
    const signer = zone.dnssec!;
    expect(signer.size).toBe(5);
    // The apex's SOA, NS, DNSKEY, CDS and CDNSKEY are the five: what every validator asks first.
    const apex = zone.records.filter((r) => r.owner === 'lazy.test.');
    for (const type of new Set(apex.map((r) => r.type))) {
      const rrs = apex.filter((r) => r.type === type).map((r) => ({ owner: r.owner, ownerWire: nameToWire(r.owner), type: r.type, klass: r.klass, ttl: r.ttl, rdata: r.rdata }));
      signer.sign({ owner: 'lazy.test.', ownerWire: rrs[0].ownerWire, signedOwner: 'lazy.test.', signedOwnerWire: rrs[0].ownerWire, labels: 2, type, ttl: rrs[0].ttl, records: rrs }, Date.now());
    }
    // All cache hits: nothing new was signed.
    expect(signer.size).toBe(5);
    // A name beyond the limit is signed when first asked for.
    const h49 = zone.records.find((r) => r.owner === 'h49.lazy.test.')!;
    const rr = { owner: h49.owner, ownerWire: nameToWire(h49.owner), type: h49.type, klass: h49.klass, ttl: h49.ttl, rdata: h49.rdata };
    expect(signer.sign({ ...rr, signedOwner: rr.owner, signedOwnerWire: rr.ownerWire, labels: 3, records: [rr] }, Date.now())).toHaveLength(1);
    expect(signer.size).toBe(6);
  });

  it('a private key that does not match its public key is refused', () => {
    const keysDir = path.join(dir, 'mismatch');
    const a = writeKeyFiles(keysDir, generateKey('mix.test.', 13, 257));
    const other = writeKeyFiles(path.join(dir, 'mismatch-other'), generateKey('mix.test.', 13, 257));
    fs.copyFileSync(`${other}.private`, `${a}.private`);
    expect(() => readZoneKeys(keysDir, 'mix.test.')).toThrow(/does not match the public key/);
  });
});
