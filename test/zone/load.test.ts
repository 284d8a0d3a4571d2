import { afterAll, describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RRType } from '../../src/dns/constants.js';
import { ZoneErrorCode, type ZoneRecord } from '../../src/zone/masterfile.js';
import { loadZoneDir, normalizeRRsets, ZoneWarningCode } from '../../src/zone/load.js';

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

function zoneBody(origin = '@'): string {
  return `$TTL 300
${origin} SOA ns1 hostmaster 1 1h 15m 1w 5m
${origin} NS ns1
ns1 A 192.0.2.53
`;
}

function dirWith(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-zones-'));
  tempDirs.push(dir);
  for (const [name, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), body);
  }
  return dir;
}

describe('loadZoneDir', () => {
  it('names each zone after its file and ignores other files', () => {
    const dir = dirWith({
      'gslb.example.com.zone': zoneBody() + 'www A 192.0.2.1\n',
      'example.org.zone': zoneBody(),
      'www.gslb.example.com.steer.yaml': 'policy: x\n',
      'regions.yaml': 'regions: []\n',
      'part.inc': 'garbage that is not a zone\n',
      'nested/other.zone': 'not read: not in the folder itself\n',
    });
    fs.mkdirSync(path.join(dir, 'folder.zone'));
    const r = loadZoneDir(dir);
    expect(r.errors).toEqual([]);
    expect(r.zones.map((z) => [z.origin, z.file, z.records.length])).toEqual([
      ['example.org.', path.join(dir, 'example.org.zone'), 3],
      ['gslb.example.com.', path.join(dir, 'gslb.example.com.zone'), 4],
    ]);
    expect(r.zones[1].records[3]).toMatchObject({ owner: 'www.gslb.example.com.', file: path.join(dir, 'gslb.example.com.zone'), line: 5 });
  });

  it('a leading $ORIGIN wins over the file name', () => {
    const dir = dirWith({ 'anything.zone': '; header\n$ORIGIN Real.Example.\n' + zoneBody() });
    const r = loadZoneDir(dir);
    expect(r.errors).toEqual([]);
    expect(r.zones.map((z) => z.origin)).toEqual(['real.example.']);
  });

  it('a file name that is not a domain name needs a $ORIGIN', () => {
    const dir = dirWith({ 'bad..name.zone': zoneBody(), 'also..bad.zone': '$ORIGIN ok.example.\n' + zoneBody() });
    const r = loadZoneDir(dir);
    expect(r.errors).toEqual([
      { code: ZoneErrorCode.BAD_FILENAME, file: path.join(dir, 'bad..name.zone'), line: 0, message: expect.stringMatching(/file name does not give a zone name \(empty label.*\): name the file <zone>\.zone, e\.g\. example\.com\.zone, or start it with \$ORIGIN/) },
    ]);
    expect(r.zones.map((z) => z.origin)).toEqual(['ok.example.']);
  });

  it('two files for one zone: an error, and neither is served', () => {
    const dir = dirWith({
      'example.com.zone': zoneBody(),
      'b.zone': '$ORIGIN example.com.\n' + zoneBody(),
      'example.net.zone': zoneBody(),
    });
    const r = loadZoneDir(dir);
    expect(r.errors).toEqual([
      { code: ZoneErrorCode.DUPLICATE_ORIGIN, file: path.join(dir, 'example.com.zone'), line: 0, message: `zone example.com. is also defined by ${path.join(dir, 'b.zone')}: keep one file per zone (a file's zone is its name minus .zone, or its leading $ORIGIN)` },
    ]);
    expect(r.zones.map((z) => z.origin)).toEqual(['example.net.']);
  });

  it('returns the errors of every file; only zones without errors are listed', () => {
    const dir = dirWith({
      'a.example.zone': zoneBody() + 'x A 1.2.3\n',
      'b.example.zone': zoneBody() + 'y CNAME ns1\ny TXT "z"\n',
      'c.example.zone': zoneBody(),
    });
    const r = loadZoneDir(dir);
    expect(r.errors.map((e) => [e.code, path.basename(e.file), e.line])).toEqual([
      [ZoneErrorCode.BAD_RDATA, 'a.example.zone', 5],
      [ZoneErrorCode.CNAME_AND_OTHER_DATA, 'b.example.zone', 5],
    ]);
    expect(r.zones.map((z) => z.origin)).toEqual(['c.example.']);
  });

  it('a parse error on the SOA line is not also reported as "no SOA"', () => {
    const dir = dirWith({ 'a.example.zone': '$TTL 1\n@ SOA ns1 hostmaster 1 1h 15m 1w\n@ NS ns1\n' });
    const r = loadZoneDir(dir);
    expect(r.errors.map((e) => [e.code, e.line])).toEqual([[ZoneErrorCode.BAD_RDATA, 2]]);
    expect(r.zones).toEqual([]);
  });

  it('$INCLUDE is confined to the zones folder', () => {
    const parent = dirWith({ 'outside.inc': 'evil A 192.0.2.66\n', 'zones/in.inc': 'www A 192.0.2.1\n' });
    const dir = path.join(parent, 'zones');
    fs.writeFileSync(path.join(dir, 'a.example.zone'), zoneBody() + '$INCLUDE in.inc\n');
    fs.writeFileSync(path.join(dir, 'b.example.zone'), zoneBody() + '$INCLUDE ../outside.inc\n');
    const r = loadZoneDir(dir);
    expect(r.errors.map((e) => [e.code, path.basename(e.file), e.line])).toEqual([[ZoneErrorCode.INCLUDE_ESCAPE, 'b.example.zone', 5]]);
    expect(r.zones.map((z) => z.origin)).toEqual(['a.example.']);
    expect(r.zones[0].records[3]).toMatchObject({ owner: 'www.a.example.', file: path.join(dir, 'in.inc'), line: 1 });
  });

  it('drops identical duplicates silently and gives an RRset its lowest TTL, with a warning', () => {
    const dir = dirWith({
      'a.example.zone': zoneBody() + `www 300 A 192.0.2.1
www 300 A 192.0.2.1
www 60 A 192.0.2.2
www 900 AAAA 2001:db8::1
WWW.a.example. 300 A 192.0.2.1
`,
    });
    const r = loadZoneDir(dir);
    expect(r.errors).toEqual([]);
    const www = r.zones[0].records.filter((x) => x.owner === 'www.a.example.');
    expect(www.map((x) => [x.type, x.ttl, x.line])).toEqual([
      [RRType.A, 60, 5],
      [RRType.A, 60, 7],
      [RRType.AAAA, 900, 8],
    ]);
    expect(r.warnings).toEqual([
      {
        code: ZoneWarningCode.TTL_MISMATCH,
        file: path.join(dir, 'a.example.zone'),
        line: 7,
        message: `TTLs differ within the www.a.example. A RRset (300 at ${path.join(dir, 'a.example.zone')}:5, 60 here): all records of an RRset share one TTL (RFC 2181 §5.2), so 60 (the lowest) is used; make them equal`,
      },
    ]);
  });

  it('a missing folder and an unreadable zone file are errors', () => {
    const missing = path.join(os.tmpdir(), 'regiondns-no-such-dir-' + process.pid);
    expect(loadZoneDir(missing).errors).toEqual([
      { code: ZoneErrorCode.DIR_READ, file: missing, line: 0, message: expect.stringMatching(/cannot read the zones folder: ENOENT/) },
    ]);
    const dir = dirWith({});
    fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'broken.example.zone'));
    expect(loadZoneDir(dir).errors).toEqual([
      { code: ZoneErrorCode.FILE_READ, file: path.join(dir, 'broken.example.zone'), line: 0, message: expect.stringMatching(/cannot read zone file: ENOENT/) },
    ]);
  });
});

describe('normalizeRRsets', () => {
  const rec = (owner: string, type: number, ttl: number, bytes: number[], line: number): ZoneRecord => ({
    owner, type, klass: 1, ttl, rdata: Uint8Array.from(bytes), file: 'f', line,
  });

  it('keeps order, does not modify its input, and treats owner/type pairs separately', () => {
    const input = [
      rec('a.', 1, 100, [1, 2, 3, 4], 1),
      rec('b.', 1, 50, [1, 2, 3, 4], 2),
      rec('a.', 16, 10, [0], 3),
      rec('a.', 1, 20, [1, 2, 3, 5], 4),
      rec('a.', 1, 100, [1, 2, 3, 4], 5),
    ];
    const { records, warnings } = normalizeRRsets(input);
    expect(records.map((r) => [r.owner, r.type, r.ttl, r.line])).toEqual([
      ['a.', 1, 20, 1],
      ['b.', 1, 50, 2],
      ['a.', 16, 10, 3],
      ['a.', 1, 20, 4],
    ]);
    expect(input[0].ttl).toBe(100);
    expect(warnings.map((w) => w.line)).toEqual([4]);
  });
});
