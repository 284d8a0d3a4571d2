// End to end DNSSEC: a zone signed online with keys made by `regiondns dnssec keygen`, every kind of
// answer validated by an independent validator (BIND's delv, the zone's KSK as the trust anchor), and
// the wire details checked with kdig +dnssec.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RRType } from '../../src/dns/constants.js';
import { parseMasterFile } from '../../src/zone/masterfile.js';
import { BIN, REPO, startServer, type ServerProcess } from '../helpers/server-process.js';

const FIXTURE = path.resolve(import.meta.dirname, 'dnssec-zones');
const UNSIGNED = path.resolve(import.meta.dirname, 'zones/e2e.test.zone');
let server: ServerProcess;
let work: string;
let anchors: string;
let kskTag: number;
let zonesDir: string;

/** Runs delv against the test server with the zone's KSK as the only trust anchor. */
function delv(args: string[], source?: string): string {
  const r = spawnSync('delv', ['-a', anchors, '+root=signed.test', '@127.0.0.1', '-p', String(server.port), ...(source ? ['-b', source] : []), ...args], { encoding: 'utf8', timeout: 20_000 });
  return `${r.stdout}${r.stderr}`;
}

/** dig, for what kdig cannot ask: the CO flag (+coflag, RFC 9824 §5.1). */
function dig(args: string[]): string {
  return execFileSync('dig', ['@127.0.0.1', '-p', String(server.port), '+time=3', '+tries=2', '+norec', ...args], { encoding: 'utf8' });
}

function kdig(args: string[]): string {
  return execFileSync('kdig', ['@127.0.0.1', '-p', String(server.port), '+time=3', '+retry=1', ...args], { encoding: 'utf8' });
}

/** Records of one type in kdig/delv output, as whitespace-split fields. */
function records(out: string, type: string): string[][] {
  return out.split('\n').filter((l) => !l.startsWith(';')).map((l) => l.trim().split(/\s+/)).filter((f) => f[3] === type);
}

async function signaturesMade(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  return Number(/^regiondns_dnssec_signatures_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-dnssec-'));
  const zones = path.join(work, 'zones');
  zonesDir = zones;
  fs.cpSync(FIXTURE, zones, { recursive: true });
  fs.copyFileSync(UNSIGNED, path.join(zones, 'e2e.test.zone')); // no keys: must stay unsigned
  // A KSK and a ZSK, through the real command; keys land in zones/keys/ (the default folder).
  const out = execFileSync(process.execPath, [BIN, 'dnssec', 'keygen', 'signed.test', '--ksk-zsk', '--zones', zones], { encoding: 'utf8' });
  expect(out).toMatch(/KSK, key tag \d+/);
  expect(out).toMatch(/ZSK, key tag \d+/);
  const kskFile = /(\S+\.key) +\(KSK, key tag (\d+)\)/.exec(out)!;
  kskTag = Number(kskFile[2]);
  const dnskey = fs.readFileSync(kskFile[1], 'utf8').split('\n').find((l) => l.includes('DNSKEY'))!.split(/\s+/);
  anchors = path.join(work, 'anchors.conf');
  fs.writeFileSync(anchors, `trust-anchors { signed.test. static-key ${dnskey[3]} ${dnskey[4]} ${dnskey[5]} "${dnskey.slice(6).join('')}"; };\n`);
  // Two "client networks" on loopback, so delv (which sends no ECS) is steered by its source address.
  const csv = path.join(work, 'lo.csv');
  fs.writeFileSync(csv, 'network,country,city,lat,lon\n127.0.0.2/32,NL,Amsterdam,52.37,4.89\n127.0.0.3/32,IN,Mumbai,19.08,72.88\n');
  execFileSync(process.execPath, [path.join(REPO, 'geo/csv-to-mmdb.mjs'), '--layout', 'geoip2', csv, path.join(work, 'lo.mmdb')]);
  server = await startServer(['--zones', zones, '--geoip', path.join(work, 'lo.mmdb')]);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('answers validated by delv', () => {
  it('a static answer', () => {
    const out = delv(['www.signed.test', 'A']);
    expect(out).toContain('; fully validated');
    expect(records(out, 'A')).toEqual([['www.signed.test.', '300', 'IN', 'A', '192.0.2.1']]);
  });

  it('the DNSKEY set, signed by the KSK only', () => {
    const out = delv(['signed.test', 'DNSKEY', '+nocrypto']);
    expect(out).toContain('; fully validated');
    expect(records(out, 'DNSKEY').map((r) => r[4]).sort()).toEqual(['256', '257']);
    const sigs = records(out, 'RRSIG');
    expect(sigs).toHaveLength(1);
    expect(Number(sigs[0][10])).toBe(kskTag);
  });

  it('CDS and CDNSKEY at the apex (RFC 7344)', () => {
    const cds = delv(['signed.test', 'CDS']);
    expect(cds).toContain('; fully validated');
    expect(records(cds, 'CDS')[0][4]).toBe(String(kskTag));
    expect(delv(['signed.test', 'CDNSKEY'])).toContain('; fully validated');
  });

  it('a steered answer, for two client networks', () => {
    const eu = delv(['api.signed.test', 'A'], '127.0.0.2');
    const india = delv(['api.signed.test', 'A'], '127.0.0.3');
    expect(eu).toContain('; fully validated');
    expect(india).toContain('; fully validated');
    expect(records(eu, 'A').map((r) => r[4])).toEqual(['198.51.100.10']);
    expect(records(india, 'A').map((r) => r[4])).toEqual(['203.0.113.10']);
  });

  it('a tenant answer, directly and through a CNAME', () => {
    const out = delv(['acme.app.signed.test', 'A']);
    expect(out).toContain('; fully validated');
    expect(records(out, 'A').map((r) => r[4])).toEqual(['198.51.100.20']);
    const shop = delv(['shop.signed.test', 'A']);
    expect(shop).toContain('; fully validated');
    expect(records(shop, 'A').map((r) => r[4])).toEqual(['198.51.100.20']);
  });

  it('a wildcard answer, one and two labels below the wildcard, with the wildcard label count', () => {
    for (const name of ['x.wild.signed.test', 'a.b.wild.signed.test']) {
      const out = delv([name, 'A', '+nocrypto']);
      expect(out).toContain('; fully validated');
      expect(records(out, 'A').map((r) => r[4])).toEqual(['192.0.2.99']);
      // RRSIG Labels = 3: *.wild.signed.test without the `*` (RFC 4034 §3.1.3).
      expect(records(out, 'RRSIG')[0][6]).toBe('3');
    }
  });

  it('a wildcard CNAME, to a name that exists and to one that does not', () => {
    const ok = delv(['x.alias.signed.test', 'A']);
    expect(ok).toContain('; fully validated');
    expect(records(ok, 'A').map((r) => r[4])).toEqual(['192.0.2.1']);
    // A validated CNAME, then a validated denial for its target (delv prints the chain as validated).
    for (const [name, type] of [['x.gone.signed.test', 'A'], ['x.alias.signed.test', 'MX']]) {
      const out = delv([name, type]);
      expect(out).toContain('; fully validated');
      expect(out).toMatch(/ncache nxrrset/);
      expect(out).not.toMatch(/insecurity proof failed|broken trust chain|no valid signature|bogus/i);
    }
  });

  it('NXDOMAIN (compact denial: NOERROR with an NSEC at the name, RFC 9824)', () => {
    const out = delv(['nope.signed.test', 'A']);
    expect(out).toContain('; negative response, fully validated');
    const raw = kdig(['+dnssec', 'nope.signed.test', 'A']);
    expect(raw).toContain('status: NOERROR');
    const nsec = records(raw, 'NSEC')[0];
    expect(nsec.slice(0, 5)).toEqual(['nope.signed.test.', '60', 'IN', 'NSEC', '\\000.nope.signed.test.']);
    // kdig has no mnemonic for NXNAME yet: TYPE128 (RFC 3597 form).
    expect(nsec.slice(5)).toEqual(['RRSIG', 'NSEC', 'TYPE128']);
  });

  it('NODATA, with the types the name has', () => {
    expect(delv(['www.signed.test', 'MX'])).toContain('; negative response, fully validated');
    const nsec = records(kdig(['+dnssec', 'www.signed.test', 'MX']), 'NSEC')[0];
    expect(nsec.slice(5)).toEqual(['A', 'AAAA', 'RRSIG', 'NSEC']);
    // A steered name: TXT is NODATA, and so is AAAA for a client sent to the region without IPv6
    // (the NSEC must not claim AAAA there, though other regions have it).
    expect(delv(['api.signed.test', 'TXT'])).toContain('; negative response, fully validated');
    expect(delv(['api.signed.test', 'AAAA'], '127.0.0.3')).toContain('; negative response, fully validated');
    expect(records(delv(['api.signed.test', 'AAAA'], '127.0.0.2'), 'AAAA').map((r) => r[4])).toEqual(['2001:db8:e::10']);
  });

  it('a question for NSEC gets the NSEC as its answer, for a name that exists and one that does not', () => {
    for (const name of ['www.signed.test', 'nope.signed.test']) {
      const out = delv([name, 'NSEC']);
      expect(out).toContain('; fully validated');
      expect(records(out, 'NSEC')[0][0]).toBe(`${name}.`);
    }
  });

  it('a referral proves there is no DS with a signed NSEC at the cut', () => {
    expect(delv(['sub.signed.test', 'DS'])).toContain('; negative response, fully validated');
    const referral = kdig(['+dnssec', '+norec', 'foo.sub.signed.test', 'A']);
    expect(referral).not.toMatch(/Flags:[^;]* aa/);
    expect(records(referral, 'NS').map((r) => r[0])).toEqual(['sub.signed.test.']);
    const nsec = records(referral, 'NSEC');
    expect(nsec).toHaveLength(1);
    expect(nsec[0].slice(0, 1).concat(nsec[0].slice(4))).toEqual(['sub.signed.test.', '\\000.sub.signed.test.', 'NS', 'RRSIG', 'NSEC']);
    // The same NSEC and signature as in the DS answer delv validated.
    const ds = kdig(['+dnssec', 'sub.signed.test', 'DS']);
    expect(records(referral, 'RRSIG')).toEqual(records(ds, 'RRSIG').filter((r) => r[4] === 'NSEC'));
  });

  it('a reply too big with its signatures is truncated over UDP and whole over TCP', () => {
    const udp = kdig(['+dnssec', '+bufsize=512', '+ignore', 'big.signed.test', 'TXT']);
    expect(udp).toMatch(/Flags:[^;]* tc/);
    const plain = kdig(['+bufsize=512', 'big.signed.test', 'TXT']);
    expect(plain).not.toMatch(/Flags:[^;]* tc/); // without DO it fits
    expect(delv(['big.signed.test', 'TXT'])).toContain('; fully validated'); // delv retries over TCP
  });
});

describe('kdig +dnssec end to end', () => {
  it('DO is echoed and answers carry RRSIGs; DO=0 gets no DNSSEC records', () => {
    const signed = kdig(['+dnssec', 'www.signed.test', 'A']);
    expect(signed).toMatch(/Version: 0; flags: do;/);
    expect(records(signed, 'RRSIG')).toHaveLength(1);
    const plain = kdig(['+edns', 'www.signed.test', 'A']);
    expect(plain).not.toMatch(/flags: do/);
    expect(records(plain, 'RRSIG')).toHaveLength(0);
    expect(kdig(['+edns', 'nope.signed.test', 'A'])).toContain('status: NXDOMAIN');
  });

  it('an unsigned zone answers DO=1 as before, with DO echoed', () => {
    const out = kdig(['+dnssec', 'nope.e2e.test', 'A']);
    expect(out).toContain('status: NXDOMAIN');
    expect(out).toMatch(/flags: do;/);
    expect(records(out, 'RRSIG')).toHaveLength(0);
    expect(records(out, 'NSEC')).toHaveLength(0);
  });

  it('a steered answer is signed once, then served from the signature cache', async () => {
    const first = kdig(['+dnssec', '-b', '127.0.0.2', 'api.signed.test', 'AAAA']);
    expect(records(first, 'RRSIG')).toHaveLength(1);
    const before = await signaturesMade();
    for (let i = 0; i < 10; i++) {
      const again = kdig(['+dnssec', '-b', '127.0.0.2', 'api.signed.test', 'AAAA']);
      expect(records(again, 'RRSIG')).toEqual(records(first, 'RRSIG'));
    }
    expect(await signaturesMade()).toBe(before);
  });
});

describe('compact answers OK (CO, RFC 9824 §5.1), with dig +coflag', () => {
  const status = (out: string) => /status: (\w+)/.exec(out)?.[1];
  const ednsFlags = (out: string) => /; EDNS: version: 0, flags:([^;]*);/.exec(out)?.[1].trim();

  it('DO=1 CO=1: a name that does not exist is NXDOMAIN, with the same NXNAME NSEC, and CO is echoed', () => {
    const co = dig(['+dnssec', '+coflag', 'nope.signed.test', 'A']);
    expect(status(co)).toBe('NXDOMAIN');
    expect(ednsFlags(co)).toBe('do co');
    const plain = dig(['+dnssec', 'nope.signed.test', 'A']);
    expect(status(plain)).toBe('NOERROR');
    expect(ednsFlags(plain)).toBe('do');
    // The proof is the one delv validates above: same NSEC, same signature.
    expect(records(co, 'NSEC')).toEqual(records(plain, 'NSEC'));
    expect(records(co, 'NSEC')[0].slice(4)).toEqual(['\\000.nope.signed.test.', 'RRSIG', 'NSEC', 'TYPE128']);
    expect(records(co, 'RRSIG')).toEqual(records(plain, 'RRSIG'));
  });

  it('NODATA stays NOERROR with CO; a CNAME to a name that does not exist is NXDOMAIN (RFC 6604)', () => {
    const nodata = dig(['+dnssec', '+coflag', 'www.signed.test', 'MX']);
    expect(status(nodata)).toBe('NOERROR');
    expect(ednsFlags(nodata)).toBe('do co');
    const chain = dig(['+dnssec', '+coflag', 'x.gone.signed.test', 'A']);
    expect(status(chain)).toBe('NXDOMAIN');
    expect(records(chain, 'CNAME').map((r) => r[4])).toEqual(['nowhere.signed.test.']);
    expect(records(chain, 'NSEC').find((r) => r[0] === 'nowhere.signed.test.')?.slice(5)).toEqual(['RRSIG', 'NSEC', 'TYPE128']);
  });

  it('CO without DO: the plain NXDOMAIN, and no CO in the reply', () => {
    const out = dig(['+coflag', 'nope.signed.test', 'A']);
    expect(status(out)).toBe('NXDOMAIN');
    expect(ednsFlags(out)).toBe('');
  });

  it('an unsigned zone echoes CO with DO and answers NXDOMAIN as always', () => {
    const out = dig(['+dnssec', '+coflag', 'nope.e2e.test', 'A']);
    expect(status(out)).toBe('NXDOMAIN');
    expect(ednsFlags(out)).toBe('do co');
  });

  it('a question for NXNAME itself is FORMERR (RFC 9824 §3.5)', () => {
    expect(status(dig(['+dnssec', 'www.signed.test', 'TYPE128']))).toBe('FORMERR');
  });
});

describe('questions for type RRSIG (DO=1)', () => {
  // delv cannot ask for RRSIG (BIND's resolver gives up on the fetch), and RRSIGs are not signed:
  // each one served here is checked to be the very signature a validated answer carries.
  const sigsFor = (out: string, covered: string) => records(out, 'RRSIG').filter((r) => r[4] === covered);

  it('the signatures of every RRset at the name, as served with the validated answers', () => {
    const out = kdig(['+dnssec', 'www.signed.test', 'RRSIG']);
    expect(out).toContain('status: NOERROR');
    expect(records(out, 'RRSIG').map((r) => r[4]).sort()).toEqual(['A', 'AAAA']);
    expect(records(out, 'NSEC')).toHaveLength(0);
    expect(delv(['www.signed.test', 'A'])).toContain('; fully validated');
    expect(sigsFor(out, 'A')).toEqual(sigsFor(kdig(['+dnssec', 'www.signed.test', 'A']), 'A'));
    expect(sigsFor(out, 'AAAA')).toEqual(sigsFor(kdig(['+dnssec', 'www.signed.test', 'AAAA']), 'AAAA'));
  });

  it('the apex: SOA, NS, DNSKEY (by the KSK), CDS, CDNSKEY', () => {
    const out = kdig(['+dnssec', 'signed.test', 'RRSIG']);
    expect(records(out, 'RRSIG').map((r) => r[4]).sort()).toEqual(['CDNSKEY', 'CDS', 'DNSKEY', 'NS', 'SOA']);
    expect(Number(sigsFor(out, 'DNSKEY')[0][10])).toBe(kskTag);
  });

  it('a wildcard: its signatures under the name asked, Labels without the `*`', () => {
    const out = kdig(['+dnssec', 'x.wild.signed.test', 'RRSIG']);
    const sigs = records(out, 'RRSIG');
    expect(sigs.map((r) => r[4]).sort()).toEqual(['A', 'TXT']);
    for (const r of sigs) expect([r[0], r[6]]).toEqual(['x.wild.signed.test.', '3']);
    expect(sigsFor(out, 'A')).toEqual(sigsFor(kdig(['+dnssec', 'x.wild.signed.test', 'A']), 'A'));
  });

  it('a name that does not exist: the signature of its compact-denial NSEC, not a NODATA that lists RRSIG', () => {
    const out = kdig(['+dnssec', 'nope.signed.test', 'RRSIG']);
    expect(out).toContain('status: NOERROR');
    expect(records(out, 'NSEC')).toHaveLength(0);
    expect(records(out, 'SOA')).toHaveLength(0);
    expect(sigsFor(out, 'NSEC')).toEqual(sigsFor(kdig(['+dnssec', 'nope.signed.test', 'A']), 'NSEC'));
  });

  it('below a delegation: the referral, with its NSEC proving no DS', () => {
    const out = kdig(['+dnssec', 'host.sub.signed.test', 'RRSIG']);
    expect(out).not.toMatch(/Flags:[^;]* aa/);
    expect(records(out, 'NS').map((r) => r[0])).toEqual(['sub.signed.test.']);
    expect(records(out, 'NSEC')[0][0]).toBe('sub.signed.test.');
  });
});

describe('the whole zone, as served, checked by BIND\'s dnssec-signzone and dnssec-verify', () => {
  // Zonemaster cannot be pointed at a port other than 53. Instead: every RRset of the zone and its
  // RRSIGs, fetched over TCP as a resolver would get them, go into a zone file. dnssec-signzone,
  // given the same keys, keeps a signature only if it verifies (it drops and remakes any other) and
  // adds the NSEC chain an online signer never makes; dnssec-verify then checks the whole zone.
  it('keeps every signature the server made, adds none for our RRsets, and finds the zone fully signed', () => {
    const zoneFile = path.join(zonesDir, 'signed.test.zone');
    const { records: zoneRecords } = parseMasterFile(fs.readFileSync(zoneFile, 'utf8'), { file: zoneFile, origin: 'signed.test.' });
    const cuts = zoneRecords.filter((r) => r.type === RRType.NS && r.owner !== 'signed.test.').map((r) => r.owner);
    const inZone = (owner: string) => !cuts.some((c) => owner === c || owner.endsWith(`.${c}`));
    const asked = new Set<string>();
    for (const r of zoneRecords) if (inZone(r.owner)) asked.add(`${r.owner} TYPE${r.type}`);
    for (const t of ['DNSKEY', 'CDS', 'CDNSKEY']) asked.add(`signed.test. ${t}`);
    // A steered name, as one client network is answered.
    for (const t of ['A', 'AAAA']) asked.add(`api.signed.test. ${t}`);
    const lines: string[] = [];
    for (const q of asked) {
      const [name, type] = q.split(' ');
      const out = kdig(['+tcp', '+dnssec', '+norec', '+noall', '+answer', '-b', '127.0.0.2', name, type]);
      // The RRset asked for and its RRSIG: not what a CNAME led to.
      for (const l of out.split('\n')) if (l.trim() !== '' && l.split(/\s+/)[0] === name) lines.push(l);
    }
    for (const cut of cuts) lines.push(kdig(['+tcp', '+norec', '+noall', '+authority', '+additional', cut, 'NS']));
    const dump = path.join(work, 'served.zone');
    fs.writeFileSync(dump, `${lines.join('\n')}\n`);
    const signed = path.join(work, 'served.zone.signed');
    const run = (cmd: string, args: string[]) => {
      const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, `${cmd}: ${r.stdout}${r.stderr}`).toBe(0);
      return `${r.stdout}${r.stderr}`;
    };
    // -x: the DNSKEY set signed by the KSK only, as the server does.
    run('dnssec-signzone', ['-S', '-x', '-d', work, '-K', path.join(zonesDir, 'keys'), '-o', 'signed.test', '-f', signed, dump]);
    const normal = path.join(work, 'served.zone.normal');
    run('named-compilezone', ['-q', '-s', 'full', '-o', normal, 'signed.test', signed]);
    // owner, type covered, key tag, signature: one line per RRSIG, whatever the presentation.
    const sigs = (file: string) => new Set(fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim().split(/\s+/))
      .filter((f) => f[3] === 'RRSIG').map((f) => `${f[0]} ${f[4]} ${f[10]} ${f.slice(12).join('')}`));
    const served = sigs(dump);
    const kept = sigs(normal);
    expect(served.size).toBeGreaterThanOrEqual(15);
    expect([...served].filter((s) => !kept.has(s))).toEqual([]);
    // Nothing of ours needed a signature added: only the NSEC chain is signed by dnssec-signzone.
    expect([...kept].filter((s) => !served.has(s) && s.split(' ')[1] !== 'NSEC')).toEqual([]);
    expect(run('dnssec-verify', ['-x', '-o', 'signed.test', signed])).toContain('Zone fully signed');
  });
});

describe('commands', () => {
  it('check reports the signing keys; ds prints the KSK digest, which the served CDS matches', () => {
    const check = execFileSync(process.execPath, [BIN, 'check', zonesDir], { encoding: 'utf8' });
    expect(check).toMatch(new RegExp(`signed\\.test\\. ok: .*DNSSEC-signed by KSK ${kskTag}, ZSK \\d+`));
    expect(check).toMatch(/e2e\.test\. ok: [^\n]*steered, serial \d+ \(/); // unsigned: no keys
    const ds = execFileSync(process.execPath, [BIN, 'dnssec', 'ds', 'signed.test', '--keys', path.join(zonesDir, 'keys')], { encoding: 'utf8' }).trim();
    const [, , , tag, alg, digestType, digest] = ds.split(/\s+/);
    expect([tag, alg, digestType]).toEqual([String(kskTag), '13', '2']);
    const cds = records(kdig(['+dnssec', 'signed.test', 'CDS']), 'CDS')[0];
    expect(cds.slice(4, 7)).toEqual([tag, alg, digestType]);
    expect(cds.slice(7).join('').toUpperCase()).toBe(digest);
  });
});

describe('reload', () => {
  const reload = async () => {
    const seen = server.logs.length;
    server.proc.kill('SIGHUP');
    await server.waitForLog((l) => l.msg === 'zones reloaded' && server.logs.indexOf(l) >= seen, 15_000);
  };

  it('keeps the signatures of unchanged RRsets and signs only what is new, on first use', async () => {
    const before = await signaturesMade();
    await reload();
    expect(await signaturesMade()).toBe(before);
    fs.appendFileSync(path.join(zonesDir, 'signed.test.zone'), 'fresh    IN A   192.0.2.77\n');
    await reload();
    // The new RRset is signed on first use (the reload process holds no keys), the rest keep theirs.
    expect(await signaturesMade()).toBe(before);
    const out = delv(['fresh.signed.test', 'A']);
    expect(out).toContain('; fully validated');
    expect(records(out, 'A').map((r) => r[4])).toEqual(['192.0.2.77']);
    expect(await signaturesMade()).toBe(before + 1);
  });
});
