import { describe, it, expect } from 'vitest';
import type { ConfigError } from '../../src/config/errors.js';
import { MAX_ERRORS, parseMasterFile, ZoneErrorCode } from '../../src/zone/masterfile.js';
import { validateZone } from '../../src/zone/validate.js';

const FILE = 'zones/example.com.zone';
const ORIGIN = 'example.com.';

const HEAD = `$TTL 300
@ SOA ns1 hostmaster 1 1h 15m 1w 5m
@ NS ns1
ns1 A 192.0.2.53
`; // lines 1-4

function check(body: string, head = HEAD): ConfigError[] {
  const r = parseMasterFile(head + body, { file: FILE, origin: ORIGIN });
  expect(r.errors).toEqual([]);
  return validateZone(ORIGIN, r.records, FILE);
}

function only(errors: ConfigError[]): ConfigError {
  expect(errors).toHaveLength(1);
  return errors[0];
}

describe('validateZone', () => {
  it('accepts a sound zone (glue below a delegation, DS at the cut, CNAME alone)', () => {
    expect(check(`www A 192.0.2.1
alias CNAME www
sub NS ns.sub
sub NS ns.other.example.
sub TYPE43 \\# 4 00010203
ns.sub A 192.0.2.10
ns.sub AAAA 2001:db8::10
`)).toEqual([]);
  });

  it('missing SOA: line 0 of the zone file', () => {
    const e = only(check('@ NS ns1\n', '$TTL 1\n'));
    expect(e).toMatchObject({ code: ZoneErrorCode.NO_SOA, file: FILE, line: 0 });
    expect(e.message).toMatch(/zone example\.com\. has no SOA record at its apex: add e\.g\. "@ IN SOA/);
  });

  it('two SOAs: at the second one', () => {
    const e = only(check('@ SOA ns2 hostmaster 2 1h 15m 1w 5m\n'));
    expect(e).toMatchObject({ code: ZoneErrorCode.MULTIPLE_SOA, file: FILE, line: 5 });
    expect(e.message).toMatch(/second SOA record for example\.com\. \(the first is at zones\/example\.com\.zone:2\): .*remove one/);
  });

  it('an identical duplicate SOA is not a second SOA (RFC 2181 §5)', () => {
    expect(check('@ SOA ns1 hostmaster 1 1h 15m 1w 5m\n')).toEqual([]);
  });

  it('SOA not at the apex', () => {
    const e = only(check('sub SOA ns1 hostmaster 1 1h 15m 1w 5m\n'));
    expect(e).toMatchObject({ code: ZoneErrorCode.SOA_NOT_AT_APEX, file: FILE, line: 5 });
    expect(e.message).toMatch(/SOA record for sub\.example\.com\. is not at the zone apex example\.com\.: .*remove this one or move/);
  });

  it('no NS at the apex: at the SOA line', () => {
    const e = only(check('', '$TTL 1\n@ SOA ns1 hostmaster 1 1h 15m 1w 5m\n'));
    expect(e).toMatchObject({ code: ZoneErrorCode.NO_APEX_NS, file: FILE, line: 2 });
    expect(e.message).toMatch(/zone example\.com\. has no NS records at its apex: add at least one, e\.g\. "@ IN NS ns1\.example\.com\."/);
  });

  it('no SOA and no NS: both at line 0', () => {
    const errs = check('www A 192.0.2.1\n', '$TTL 1\n');
    expect(errs.map((e) => [e.code, e.line])).toEqual([[ZoneErrorCode.NO_SOA, 0], [ZoneErrorCode.NO_APEX_NS, 0]]);
  });

  it('CNAME beside other data names the other type and where it is', () => {
    const e = only(check(`www CNAME ns1
www A 192.0.2.1
www TXT "x"
`));
    expect(e).toMatchObject({ code: ZoneErrorCode.CNAME_AND_OTHER_DATA, file: FILE, line: 5 });
    expect(e.message).toMatch(/CNAME for www\.example\.com\. cannot coexist with other data at that name \(A at zones\/example\.com\.zone:6, TXT at zones\/example\.com\.zone:7\)/);
    expect(e.message).toMatch(/remove the CNAME or the other records/);
  });

  it('two CNAMEs at one owner: at the second; identical duplicates are fine', () => {
    const e = only(check('www CNAME a\nwww CNAME b\n'));
    expect(e).toMatchObject({ code: ZoneErrorCode.MULTIPLE_CNAME, file: FILE, line: 6 });
    expect(e.message).toMatch(/second CNAME for www\.example\.com\. \(the first is at zones\/example\.com\.zone:5\): a name has at most one CNAME; remove one/);
    expect(check('www CNAME a\nwww CNAME A.example.com.\n')).toEqual([]);
  });

  it('CNAME at the apex', () => {
    const e = only(check('@ CNAME other.example.\n'));
    expect(e).toMatchObject({ code: ZoneErrorCode.CNAME_AT_APEX, file: FILE, line: 5 });
    expect(e.message).toMatch(/CNAME at the zone apex example\.com\. is not allowed.*use A\/AAAA records at the apex instead/);
  });

  it('data outside the origin', () => {
    const e = only(check('www.example.org. A 192.0.2.1\n'));
    expect(e).toMatchObject({ code: ZoneErrorCode.OUT_OF_ZONE, file: FILE, line: 5 });
    expect(e.message).toMatch(/A record for www\.example\.org\. is outside the zone example\.com\.: use a name at or below example\.com\./);
    // a name that merely ends with the same characters is not inside the zone
    expect(only(check('notexample.com. A 192.0.2.2\n'))).toMatchObject({ code: ZoneErrorCode.OUT_OF_ZONE, line: 5 });
  });

  it('records below a delegation other than glue are occluded', () => {
    const errs = check(`sub NS ns.sub
ns.sub A 192.0.2.10
www.sub CNAME ns1
deep.www.sub TXT "hidden"
x.sub NS ns1
`);
    expect(errs.map((e) => [e.code, e.line])).toEqual([
      [ZoneErrorCode.OCCLUDED, 7],
      [ZoneErrorCode.OCCLUDED, 8],
      [ZoneErrorCode.OCCLUDED, 9],
    ]);
    expect(errs[0].message).toMatch(/CNAME record for www\.sub\.example\.com\. is occluded: it is below the delegation to sub\.example\.com\. \(NS at zones\/example\.com\.zone:5\)/);
    expect(errs[0].message).toMatch(/only glue A\/AAAA records belong below a zone cut\. Move it to the child zone or remove the delegation/);
    expect(errs[2].message).toMatch(/^NS record for x\.sub\.example\.com\./);
  });

  it('data other than NS, DS and glue at the delegation point is occluded', () => {
    const e = only(check('sub NS ns1\nsub MX 10 mail\nsub A 192.0.2.7\n'));
    expect(e).toMatchObject({ code: ZoneErrorCode.OCCLUDED, file: FILE, line: 6 });
    expect(e.message).toMatch(/MX record for sub\.example\.com\. is occluded: sub\.example\.com\. is delegated \(NS at zones\/example\.com\.zone:5\), so only NS, DS and glue A\/AAAA records belong there/);
  });

  it('errors point into $INCLUDEd files and are sorted by file and line', () => {
    const recs = parseMasterFile(HEAD + 'b CNAME x\nb A 192.0.2.1\n', { file: FILE, origin: ORIGIN }).records;
    recs.push({ ...recs[recs.length - 1], owner: 'out.example.net.', file: 'zones/a.inc', line: 3 });
    const errs = validateZone(ORIGIN, recs, FILE);
    expect(errs.map((e) => [e.code, e.file, e.line])).toEqual([
      [ZoneErrorCode.OUT_OF_ZONE, 'zones/a.inc', 3],
      [ZoneErrorCode.CNAME_AND_OTHER_DATA, FILE, 5],
    ]);
  });

  it('stops after MAX_ERRORS, saying how many more there are', () => {
    const body = Array.from({ length: 150 }, (_, i) => `h${i}.example.org. A 192.0.2.1`).join('\n') + '\n';
    const errs = check(body);
    expect(errs).toHaveLength(MAX_ERRORS);
    expect(errs[MAX_ERRORS - 1]).toMatchObject({ code: ZoneErrorCode.TOO_MANY_ERRORS, file: FILE, line: 0 });
    expect(errs[MAX_ERRORS - 1].message).toMatch(/51 more problems in zone example\.com\. not shown: fix the errors above first/);
    expect(errs.slice(0, -1).every((e) => e.code === ZoneErrorCode.OUT_OF_ZONE)).toBe(true);
  });
});
