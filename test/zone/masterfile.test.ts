import { afterAll, describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RRType } from '../../src/dns/constants.js';
import { MAX_ERRORS, parseMasterFile, ZoneErrorCode, type ParseResult } from '../../src/zone/masterfile.js';

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

const FILE = 'zones/example.com.zone';
const ORIGIN = 'example.com.';

function parse(text: string, extra: { defaultTtl?: number } = {}): ParseResult {
  return parseMasterFile(text, { file: FILE, origin: ORIGIN, ...extra });
}

/** Parses and expects no errors. */
function ok(text: string) {
  const r = parse(text);
  expect(r.errors).toEqual([]);
  return r.records;
}

/** Parses and expects exactly one error; returns it. */
function oneError(text: string) {
  const r = parse(text);
  expect(r.errors).toHaveLength(1);
  return r.errors[0];
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('owners, origin and names', () => {
  it('makes @, relative and absolute names canonical', () => {
    const rs = ok(`$TTL 300
@ A 192.0.2.1
WWW A 192.0.2.2
Host.Other.ORG. A 192.0.2.3
`);
    expect(rs.map((r) => r.owner)).toEqual(['example.com.', 'www.example.com.', 'host.other.org.']);
  });

  it('a line starting with white space reuses the previous owner', () => {
    const rs = ok(`$TTL 300
www A 192.0.2.1
    AAAA 2001:db8::1
\tTXT "x"
`);
    expect(rs.map((r) => [r.owner, r.type])).toEqual([
      ['www.example.com.', RRType.A],
      ['www.example.com.', RRType.AAAA],
      ['www.example.com.', RRType.TXT],
    ]);
  });

  it('$ORIGIN changes the origin for later names; a relative $ORIGIN is relative to the current one', () => {
    const r = parse(`$TTL 300
@ A 192.0.2.1
$ORIGIN sub
@ A 192.0.2.2
www A 192.0.2.3
$ORIGIN Other.Example.
www CNAME @
`);
    expect(r.errors).toEqual([]);
    expect(r.records.map((x) => x.owner)).toEqual(['example.com.', 'sub.example.com.', 'www.sub.example.com.', 'www.other.example.']);
    expect(r.records[3].target).toBe('other.example.');
    expect(r.origin).toBe(ORIGIN); // the $ORIGIN came after a record
    expect(r.originFromFile).toBe(false);
  });

  it('a $ORIGIN before any record names the zone', () => {
    const r = parse(`; comment
$TTL 300
$ORIGIN gslb.example.net.
@ A 192.0.2.1
$ORIGIN later.example.
`);
    expect(r.origin).toBe('gslb.example.net.');
    expect(r.originFromFile).toBe(true);
    expect(r.records[0].owner).toBe('gslb.example.net.');
  });

  it('records carry the file as given and the line where they start', () => {
    const rs = ok(`$TTL 300

@ SOA ns1 hostmaster (
      1   ; serial
      2h  ; refresh
      1h 1w 5m )
www A 192.0.2.1
`);
    expect(rs.map((r) => [r.file, r.line])).toEqual([[FILE, 3], [FILE, 7]]);
  });

  it('handles CRLF line ends and a byte-order mark', () => {
    const rs = ok('\ufeff$TTL 300\r\nwww A 192.0.2.1\r\n  TXT "a"\r\n');
    expect(rs.map((r) => [r.owner, r.line])).toEqual([['www.example.com.', 2], ['www.example.com.', 3]]);
  });

  it('reports a bad owner name and does not repeat it for the following blank-owner lines', () => {
    const r = parse(`$TTL 300
a..b A 192.0.2.1
  A 192.0.2.2
ok A 192.0.2.3
`);
    expect(r.errors).toEqual([
      { code: ZoneErrorCode.BAD_NAME, file: FILE, line: 2, message: expect.stringMatching(/bad owner name "a\.\.b": empty label/) },
    ]);
    expect(r.records.map((x) => x.owner)).toEqual(['ok.example.com.']);
  });

  it('a record with a blank owner and no earlier owner is an error', () => {
    const e = oneError(`$TTL 300
   A 192.0.2.1
`);
    expect(e).toMatchObject({ code: ZoneErrorCode.NO_OWNER, file: FILE, line: 2 });
    expect(e.message).toMatch(/write the owner name at the start of the line/);
  });
});

describe('TTL and class', () => {
  it('TTL and class in either order, both optional; $TTL with units', () => {
    const rs = ok(`$TTL 1h
a 60 IN A 192.0.2.1
b IN 2m A 192.0.2.2
c in A 192.0.2.3
d 1w30m A 192.0.2.4
e A 192.0.2.5
f CLASS1 A 192.0.2.6
`);
    expect(rs.map((r) => r.ttl)).toEqual([60, 120, 3600, 606600, 3600, 3600]);
    expect(rs.every((r) => r.klass === 1)).toBe(true);
  });

  it('without $TTL a record takes the last explicit TTL (RFC 1035 §5.1)', () => {
    const rs = ok(`a 120 A 192.0.2.1
b A 192.0.2.2
c 30 A 192.0.2.3
d A 192.0.2.4
`);
    expect(rs.map((r) => r.ttl)).toEqual([120, 120, 30, 30]);
  });

  it('$TTL beats the last explicit TTL', () => {
    const rs = ok(`$TTL 500
a 120 A 192.0.2.1
b A 192.0.2.2
`);
    expect(rs.map((r) => r.ttl)).toEqual([120, 500]);
  });

  it('defaultTtl acts as a $TTL from the first line', () => {
    const r = parse('a A 192.0.2.1\n', { defaultTtl: 42 });
    expect(r.errors).toEqual([]);
    expect(r.records[0].ttl).toBe(42);
  });

  it('no TTL anywhere is an error that says to add $TTL', () => {
    const r = parse(`@ SOA ns1 hostmaster 1 2 3 4 5
www 60 A 192.0.2.1
`);
    expect(r.errors).toEqual([
      { code: ZoneErrorCode.NO_TTL, file: FILE, line: 1, message: expect.stringMatching(/add "\$TTL 3600" at the top of the file/) },
    ]);
    expect(r.records).toHaveLength(1);
  });

  it('bad TTLs are errors', () => {
    for (const [text, re] of [
      ['a 1x A 192.0.2.1', /bad TTL "1x": use seconds from 0 to 2147483647 or units like 1h/],
      ['a 2147483648 A 192.0.2.1', /bad TTL "2147483648"/],
      ['a 1m 60 A 192.0.2.1', /record has two TTLs \("1m" and "60"\): keep one/],
      ['$TTL forever', /bad \$TTL "forever"/],
    ] as const) {
      const e = oneError(text + '\n');
      expect(e, text).toMatchObject({ code: ZoneErrorCode.BAD_TTL, file: FILE, line: 1 });
      expect(e.message).toMatch(re);
    }
  });

  it('classes other than IN are errors', () => {
    for (const cls of ['CH', 'HS', 'CHAOS', 'ANY', 'NONE', 'CLASS3']) {
      const e = oneError(`$TTL 300\nversion ${cls} TXT "x"\n`);
      expect(e, cls).toMatchObject({ code: ZoneErrorCode.BAD_CLASS, file: FILE, line: 2 });
      expect(e.message).toMatch(/regiondns serves class IN only; write IN or leave the class out/);
    }
    expect(oneError('$TTL 300\na IN IN A 192.0.2.1\n')).toMatchObject({ code: ZoneErrorCode.BAD_CLASS, message: expect.stringMatching(/two classes/) });
  });
});

describe('types and rdata', () => {
  it('parses every supported type', () => {
    const rs = ok(`$TTL 300
@ SOA ns1 hostmaster 2024010101 1h 15m 1w 5m
@ NS ns1
@ MX 10 mail
ns1 A 192.0.2.53
ns1 AAAA 2001:db8::53
www CNAME ns1
4.2.0.192.in-addr.arpa. PTR www
@ TXT "v=spf1 -all" more words
_sip._tcp SRV 10 5 5060 sip
@ CAA 0 issue "ca.example"
`);
    expect(rs.map((r) => r.type)).toEqual([
      RRType.SOA, RRType.NS, RRType.MX, RRType.A, RRType.AAAA, RRType.CNAME, RRType.PTR, RRType.TXT, RRType.SRV, RRType.CAA,
    ]);
    expect(rs[0]).toMatchObject({ target: 'ns1.example.com.', soaMinimum: 300 });
    expect(rs.map((r) => r.target)).toEqual([
      'ns1.example.com.', 'ns1.example.com.', 'mail.example.com.', undefined, undefined, 'ns1.example.com.', 'www.example.com.', undefined, 'sip.example.com.', undefined,
    ]);
    expect(hex(rs[3].rdata)).toBe('c0000235');
    expect(hex(rs[7].rdata)).toBe('0b763d73706631202d616c6c046d6f726505776f726473');
  });

  it('type mnemonics are case-insensitive', () => {
    expect(ok('$TTL 1\na a 192.0.2.1\nb aaaa ::1\n').map((r) => r.type)).toEqual([RRType.A, RRType.AAAA]);
  });

  it('quoted strings may hold ;, (, ), spaces and escapes', () => {
    const rs = ok(`$TTL 300
t TXT "a; b ( c ) \\"q\\" \\\\ \\065" ; a real comment
`);
    expect(Buffer.from(rs[0].rdata.subarray(1)).toString()).toBe('a; b ( c ) "q" \\ A');
  });

  it('parentheses span lines, with comments inside; the record line is where it starts', () => {
    const rs = ok(`$TTL 300
txt TXT ( "one" ; first
          "two" ( "three" ) ; nested
        )
after A 192.0.2.1
`);
    expect(rs.map((r) => r.line)).toEqual([2, 5]);
    expect(hex(rs[0].rdata)).toBe(Buffer.from('\x03one\x03two\x05three').toString('hex'));
  });

  it('an escaped space or ; belongs to the word', () => {
    const rs = ok('$TTL 1\nt TXT a\\ b\\;c\n');
    expect(Buffer.from(rs[0].rdata.subarray(1)).toString()).toBe('a b;c');
  });

  it('RFC 3597: TYPEnnn with generic rdata, known types in generic form, TYPE1 in native form', () => {
    const rs = ok(`$TTL 300
x TYPE65280 \\# 4 0a000001
y TYPE65281 \\# 0
a A \\# 4 c0000201
b TYPE1 192.0.2.1
c TYPE5 \\# 13 03777777076578616d706c6500
t TLSA \\# 3 030101
`);
    expect(rs.map((r) => [r.type, hex(r.rdata)])).toEqual([
      [65280, '0a000001'],
      [65281, ''],
      [1, 'c0000201'],
      [1, 'c0000201'],
      [5, '03777777076578616d706c6500'],
      [52, '030101'],
    ]);
    expect(rs[4].target).toBe('www.example.');
  });

  it('unknown mnemonics, reserved and meta types are errors', () => {
    for (const [text, re] of [
      ['x FOO 1', /unknown record type "FOO": use A, AAAA, CNAME, NS, SOA, MX, TXT, SRV, CAA, PTR, or TYPEnnn/],
      ['x TLSA 3 1 1 abcd', /TLSA rdata is not parsed by regiondns: write it in RFC 3597 generic form, TLSA \\# <length> <hex>/],
      ['x TYPE99999 \\# 0', /bad type "TYPE99999": TYPE must be followed by a number from 1 to 65535/],
      ['x TYPE0 \\# 0', /cannot appear in a zone file/],
      ['x TYPE41 \\# 0', /cannot appear in a zone file/],
      ['x TYPE255 \\# 0', /cannot appear in a zone file/],
    ] as const) {
      const e = oneError(`$TTL 1\n${text}\n`);
      expect(e, text).toMatchObject({ code: ZoneErrorCode.UNKNOWN_TYPE, file: FILE, line: 2 });
      expect(e.message).toMatch(re);
    }
  });

  it('a record without a type is a syntax error', () => {
    const e = oneError('$TTL 1\nwww 300 IN\n');
    expect(e).toMatchObject({ code: ZoneErrorCode.SYNTAX, file: FILE, line: 2 });
    expect(e.message).toMatch(/has no type: write e\.g\./);
  });

  it('bad rdata is reported with the offending text and the record line', () => {
    const cases: [string, RegExp][] = [
      ['a A 10.0.0.256', /bad IPv4 address "10\.0\.0\.256"/],
      ['a AAAA 2001:db8:::1', /bad IPv6 address "2001:db8:::1"/],
      ['a MX ten mail', /bad MX preference "ten"/],
      ['a MX 10', /MX needs 2 fields/],
      ['a A 192.0.2.1 192.0.2.2', /remove "192\.0\.2\.2"/],
      [`a TXT "${'x'.repeat(300)}"`, /TXT string of 300 bytes is too long \(max 255\)/],
      ['a TYPE65280 \\# 3 0a0000 01', /declares 3 octets but the hex holds 4/],
      ['a CAA 0 "bad tag" x', /bad CAA tag/],
      ['a TXT bad\\9', /\\DDD needs three decimal digits/],
    ];
    for (const [text, re] of cases) {
      const e = oneError(`$TTL 1\n\n${text}\n`);
      expect(e, text).toMatchObject({ code: ZoneErrorCode.BAD_RDATA, file: FILE, line: 3 });
      expect(e.message).toMatch(re);
    }
  });
});

describe('syntax errors', () => {
  it('unterminated quoted string', () => {
    const r = parse('$TTL 1\na TXT "open\nb A 192.0.2.1\n');
    expect(r.errors).toEqual([
      { code: ZoneErrorCode.SYNTAX, file: FILE, line: 2, message: expect.stringMatching(/quoted string is not closed on this line: add the closing '"'/) },
    ]);
    expect(r.records.map((x) => x.owner)).toEqual(['b.example.com.']);
  });

  it('"(" never closed is reported at its line', () => {
    const e = oneError('$TTL 1\nok A 192.0.2.1\na TXT ( "x"\n "y"\n');
    expect(e).toMatchObject({ code: ZoneErrorCode.SYNTAX, file: FILE, line: 3 });
    expect(e.message).toMatch(/"\(" opened on line 3 is never closed: add "\)"/);
  });

  it('")" without "("', () => {
    const e = oneError('$TTL 1\na TXT "x" )\n');
    expect(e).toMatchObject({ code: ZoneErrorCode.SYNTAX, file: FILE, line: 2 });
    expect(e.message).toMatch(/"\)" without a matching "\(": remove it/);
  });

  it('unknown and malformed directives', () => {
    for (const [text, re] of [
      ['$GENERATE 1-10 host$ A 10.0.0.$', /unknown directive "\$GENERATE": use \$ORIGIN, \$TTL or \$INCLUDE/],
      ['$ORIGIN', /\$ORIGIN takes 1 argument, got 0: write \$ORIGIN example\.com\./],
      ['$ORIGIN a. b.', /\$ORIGIN takes 1 argument, got 2/],
      ['$ORIGIN a..b.', /bad \$ORIGIN "a\.\.b\.": empty label/],
      ['$TTL', /\$TTL takes 1 argument, got 0: write \$TTL 3600/],
      ['$INCLUDE', /\$INCLUDE takes 1 or 2 arguments, got 0: write \$INCLUDE part\.inc \[origin\]/],
      ['$INCLUDE a b c', /\$INCLUDE takes 1 or 2 arguments, got 3/],
      ['$INCLUDE a.inc x..y', /bad \$INCLUDE origin "x\.\.y"/],
    ] as const) {
      const e = oneError(text + '\n');
      expect(e, text).toMatchObject({ code: ZoneErrorCode.BAD_DIRECTIVE, file: FILE, line: 1 });
      expect(e.message).toMatch(re);
    }
  });

  it('errors do not stop parsing; reporting stops after MAX_ERRORS', () => {
    const r = parse('$TTL 1\nbad A 1\ngood A 192.0.2.1\nbad2 A 2\n');
    expect(r.errors.map((e) => e.line)).toEqual([2, 4]);
    expect(r.records.map((x) => x.owner)).toEqual(['good.example.com.']);

    const many = '$TTL 1\n' + 'x A nope\n'.repeat(300);
    const m = parse(many);
    expect(m.errors).toHaveLength(MAX_ERRORS);
    expect(m.errors[MAX_ERRORS - 2]).toMatchObject({ code: ZoneErrorCode.BAD_RDATA, line: MAX_ERRORS });
    expect(m.errors[MAX_ERRORS - 1]).toMatchObject({ code: ZoneErrorCode.TOO_MANY_ERRORS, line: MAX_ERRORS + 1 });
    expect(m.errors[MAX_ERRORS - 1].message).toMatch(/fix the errors above first/);
  });
});

describe('$INCLUDE', () => {
  function tree(files: Record<string, string>): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-inc-'));
    tempDirs.push(root);
    for (const [name, body] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
      fs.writeFileSync(path.join(root, name), body);
    }
    return root;
  }

  function parseIn(root: string, name: string): ParseResult {
    const file = path.join(root, name);
    return parseMasterFile(fs.readFileSync(file, 'utf8'), { file, origin: ORIGIN, includeRoot: root });
  }

  it('reads a file relative to the including file, with an optional origin; the parent origin is kept', () => {
    const root = tree({
      'example.com.zone': '$TTL 300\n$INCLUDE parts/hosts.inc\n$INCLUDE parts/sub.inc sub\nafter A 192.0.2.9\n',
      'parts/hosts.inc': '\nwww A 192.0.2.1\n$INCLUDE more.inc\n',
      'parts/more.inc': 'api A 192.0.2.2\n$ORIGIN elsewhere.example.\n',
      'parts/sub.inc': '@ A 192.0.2.3\n',
    });
    const r = parseIn(root, 'example.com.zone');
    expect(r.errors).toEqual([]);
    expect(r.records.map((x) => [x.owner, path.relative(root, x.file), x.line])).toEqual([
      ['www.example.com.', 'parts/hosts.inc', 2],
      ['api.example.com.', 'parts/more.inc', 1],
      ['sub.example.com.', 'parts/sub.inc', 1],
      ['after.example.com.', 'example.com.zone', 4],
    ]);
  });

  it('keeps relative paths relative in records and errors', () => {
    const root = tree({ 'z.zone': '$INCLUDE a.inc\n', 'a.inc': '$TTL 1\nx A 1.2.3\n' });
    const rel = path.relative(process.cwd(), path.join(root, 'z.zone'));
    const r = parseMasterFile('$INCLUDE a.inc\n', { file: rel, origin: ORIGIN, includeRoot: path.relative(process.cwd(), root) });
    expect(r.errors).toEqual([expect.objectContaining({ code: ZoneErrorCode.BAD_RDATA, file: path.join(path.dirname(rel), 'a.inc'), line: 2 })]);
  });

  it('uses readInclude when given', () => {
    const seen: string[] = [];
    const r = parseMasterFile('$TTL 1\n$INCLUDE a.inc\n', {
      file: '/virtual/zones/x.zone',
      origin: ORIGIN,
      includeRoot: '/virtual/zones',
      readInclude: (p) => { seen.push(p); return 'a A 192.0.2.1\n'; },
    });
    expect(r.errors).toEqual([]);
    expect(seen).toEqual([path.resolve('/virtual/zones/a.inc')]);
    expect(r.records[0]).toMatchObject({ owner: 'a.example.com.', file: '/virtual/zones/a.inc', line: 1 });
  });

  it('a path that escapes the zones folder with .. or an absolute path is an error at file:line', () => {
    const root = tree({ 'zones/z.zone': '$TTL 1\n\n$INCLUDE ../secret.inc\n$INCLUDE /etc/hostname\n', 'secret.inc': 'x A 192.0.2.1\n' });
    const r = parseIn(path.join(root, 'zones'), 'z.zone');
    expect(r.records).toEqual([]);
    expect(r.errors.map((e) => [e.code, path.basename(e.file), e.line])).toEqual([
      [ZoneErrorCode.INCLUDE_ESCAPE, 'z.zone', 3],
      [ZoneErrorCode.INCLUDE_ESCAPE, 'z.zone', 4],
    ]);
    expect(r.errors[0].message).toMatch(/\$INCLUDE "\.\.\/secret\.inc" points outside the zones folder .*: move the file into that folder/);
  });

  it('a symlink that leads outside the zones folder is an error', () => {
    const root = tree({ 'zones/z.zone': '$TTL 1\n$INCLUDE link.inc\n', 'outside.inc': 'x A 192.0.2.1\n' });
    fs.symlinkSync(path.join(root, 'outside.inc'), path.join(root, 'zones/link.inc'));
    const r = parseIn(path.join(root, 'zones'), 'z.zone');
    expect(r.records).toEqual([]);
    expect(r.errors).toEqual([
      { code: ZoneErrorCode.INCLUDE_ESCAPE, file: path.join(root, 'zones/z.zone'), line: 2, message: expect.stringMatching(/is a symlink to .*outside\.inc, outside the zones folder.*copy the file into that folder/) },
    ]);
  });

  it('a symlink that stays inside the zones folder is fine', () => {
    const root = tree({ 'z.zone': '$TTL 1\n$INCLUDE link.inc\n', 'real/a.inc': 'x A 192.0.2.1\n' });
    fs.symlinkSync(path.join(root, 'real/a.inc'), path.join(root, 'link.inc'));
    expect(parseIn(root, 'z.zone').errors).toEqual([]);
  });

  it('include loops are an error naming the chain', () => {
    const root = tree({
      'z.zone': '$TTL 1\n$INCLUDE a.inc\n',
      'a.inc': 'a A 192.0.2.1\n$INCLUDE b.inc\n',
      'b.inc': '\n\n$INCLUDE a.inc\n',
      'self.zone': '$INCLUDE self.zone\n',
    });
    const r = parseIn(root, 'z.zone');
    expect(r.records).toHaveLength(1);
    expect(r.errors).toEqual([
      { code: ZoneErrorCode.INCLUDE_LOOP, file: path.join(root, 'b.inc'), line: 3, message: '$INCLUDE loop (a.inc → b.inc → a.inc): remove one of these $INCLUDE lines' },
    ]);
    expect(parseIn(root, 'self.zone').errors).toEqual([expect.objectContaining({ code: ZoneErrorCode.INCLUDE_LOOP, line: 1 })]);
  });

  it('a missing include file is an error at file:line', () => {
    const root = tree({ 'z.zone': '$TTL 1\n$INCLUDE nope.inc\n' });
    const e = parseIn(root, 'z.zone').errors;
    expect(e).toEqual([{ code: ZoneErrorCode.INCLUDE_READ, file: path.join(root, 'z.zone'), line: 2, message: expect.stringMatching(/cannot read \$INCLUDE file "nope\.inc": ENOENT/) }]);
  });

  it('$TTL set in an included file stays in force (as in BIND); the owner does not carry over', () => {
    const root = tree({ 'z.zone': 'www 60 A 192.0.2.1\n$INCLUDE t.inc\nb A 192.0.2.2\n', 't.inc': '$TTL 99\n  A 192.0.2.3\n' });
    const r = parseIn(root, 'z.zone');
    expect(r.errors).toEqual([expect.objectContaining({ code: ZoneErrorCode.NO_OWNER, file: path.join(root, 't.inc'), line: 2 })]);
    expect(r.records.map((x) => x.ttl)).toEqual([60, 99]);
  });
});
