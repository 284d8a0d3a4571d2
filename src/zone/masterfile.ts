// RFC 1035 §5.1 master-file parser: $ORIGIN, $TTL (RFC 2308 §4), $INCLUDE, parentheses, comments,
// quoted strings, RFC 3597 generic rdata. One pass over the text with charCodeAt; no regex or
// closure per record, so a zone of a million records parses in a few seconds.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ConfigError } from '../config/errors.js';
import { readConfigFile } from '../config/read-file.js';
import { RRType } from '../dns/constants.js';
import { absoluteName, parseRdata, parseTtl, parseUint, RdataError, type Fields, type ParsedRdata } from './rdata.js';
import { ZoneErrorCode } from '../config/error-codes.js';
import type { ConfigErrorCode } from '../config/error-codes.js';

export interface ZoneRecord {
  owner: string;      // canonical
  type: number;       // RRType code
  klass: number;      // always 1 (IN) after parsing; other classes are an error
  ttl: number;
  rdata: Uint8Array;  // uncompressed wire rdata
  /** For NS, CNAME, PTR, MX, SRV: the canonical domain name in the rdata (NS host, CNAME/PTR target, MX exchange, SRV target). For SOA: the MNAME. */
  target?: string;
  /** For SOA only: the MINIMUM field (RFC 2308 negative TTL) */
  soaMinimum?: number;
  file: string;       // path as given to the parser (relative paths stay relative), or the $INCLUDEd file
  line: number;       // 1-based line where the record STARTS
}

export interface ParseResult {
  origin: string;
  records: ZoneRecord[];
  errors: ConfigError[];
  /** True when a leading `$ORIGIN` (before any record) set `origin`, rather than opts.origin. */
  originFromFile?: boolean;
}

export interface ParseOptions {
  /** Path used in records and errors; relative paths stay relative. $INCLUDE resolves from its directory. */
  file: string;
  /** Canonical origin to start with (the zone name), e.g. "gslb.example.com.". */
  origin: string;
  /** Acts as a `$TTL` in force from the first line. */
  defaultTtl?: number;
  /** $INCLUDE may only read files under this folder (default: the directory of `file`). */
  includeRoot?: string;
  /** Reads an included file (default: readConfigFile: regular files only, size bounded). */
  readInclude?: (absPath: string) => string;
}

export { ZoneErrorCode };

/** Reporting stops after this many errors per zone file with its includes (the last one says so). */
export const MAX_ERRORS = 100;

// ---------------------------------------------------------------------------------------------
// Tokenizer

const LF = 0x0a, CR = 0x0d, SP = 0x20, TAB = 0x09, SEMI = 0x3b, LPAREN = 0x28, RPAREN = 0x29, QUOTE = 0x22, BSLASH = 0x5c;

/**
 * Splits the text into entries: one line, or several joined by parentheses (RFC 1035 §5.1).
 * Tokens are left raw (escapes kept) in reused arrays; the parser decodes them by type.
 */
class Lexer implements Fields {
  text: string[] = [];
  quoted: boolean[] = [];
  count = 0;
  /** The entry began with white space: its owner is the previous owner. */
  blankOwner = false;
  /** 1-based line of the entry's first character. */
  entryLine = 0;
  /** A syntax problem in this entry (the parser reports it and skips the entry). */
  error: string | undefined;
  errorLine = 0;
  private pos = 0;
  private line = 1;

  constructor(private readonly src: string) {
    if (src.charCodeAt(0) === 0xfeff) this.pos = 1; // byte-order mark
  }

  /** Reads the next entry with at least one token (or an error); false at end of text. */
  next(): boolean {
    const s = this.src;
    const n = s.length;
    this.count = 0;
    this.error = undefined;
    while (this.pos < n) {
      const c0 = s.charCodeAt(this.pos);
      this.blankOwner = c0 === SP || c0 === TAB;
      this.entryLine = this.line;
      this.scanEntry();
      if (this.count > 0 || this.error !== undefined) return true;
    }
    return false;
  }

  private fail(msg: string, line: number): void {
    if (this.error === undefined) { this.error = msg; this.errorLine = line; }
  }

  private push(tok: string, quoted: boolean): void {
    this.text[this.count] = tok;
    this.quoted[this.count] = quoted;
    this.count++;
  }

  private scanEntry(): void {
    const s = this.src;
    const n = s.length;
    let depth = 0;
    let openLine = 0;
    while (this.pos < n) {
      const c = s.charCodeAt(this.pos);
      if (c === LF) {
        this.pos++;
        this.line++;
        if (depth === 0) return;
      } else if (c === SP || c === TAB || c === CR) {
        this.pos++;
      } else if (c === SEMI) {
        const j = s.indexOf('\n', this.pos);
        this.pos = j < 0 ? n : j;
      } else if (c === LPAREN) {
        if (depth++ === 0) openLine = this.line;
        this.pos++;
      } else if (c === RPAREN) {
        if (depth === 0) this.fail(`")" without a matching "(": remove it or add "(" before it`, this.line);
        else depth--;
        this.pos++;
      } else if (c === QUOTE) {
        if (!this.scanQuoted()) return; // unterminated: the entry ends at that line
      } else {
        this.scanWord();
      }
    }
    if (depth > 0) this.fail(`"(" opened on line ${openLine} is never closed: add ")"`, openLine);
  }

  /** A quoted string; `;` and `(` inside are plain text. False when it runs into a newline. */
  private scanQuoted(): boolean {
    const s = this.src;
    const n = s.length;
    const startLine = this.line;
    const start = ++this.pos;
    while (this.pos < n) {
      const c = s.charCodeAt(this.pos);
      if (c === QUOTE) {
        this.push(s.slice(start, this.pos), true);
        this.pos++;
        return true;
      }
      if (c === LF) break;
      this.pos += c === BSLASH && s.charCodeAt(this.pos + 1) !== LF ? 2 : 1;
    }
    this.fail(`quoted string is not closed on this line: add the closing '"' (write \\" for a quote inside)`, startLine);
    if (this.pos < n) { this.pos++; this.line++; }
    return false;
  }

  /** An unquoted word; a backslash escapes the next character (even a space or `;`). */
  private scanWord(): void {
    const s = this.src;
    const n = s.length;
    const start = this.pos;
    while (this.pos < n) {
      const c = s.charCodeAt(this.pos);
      if (c === SP || c === TAB || c === LF || c === CR || c === SEMI || c === LPAREN || c === RPAREN || c === QUOTE) break;
      if (c === BSLASH) {
        // A line break cannot be escaped: keep the lone backslash so the rdata check reports it.
        this.pos += s.charCodeAt(this.pos + 1) === LF ? 1 : 2;
      } else {
        this.pos++;
      }
    }
    if (this.pos > n) this.pos = n;
    this.push(s.slice(start, this.pos), false);
  }
}

// ---------------------------------------------------------------------------------------------
// Types and classes

const TYPES = new Map<string, number>([
  ['A', RRType.A], ['NS', RRType.NS], ['CNAME', RRType.CNAME], ['SOA', RRType.SOA], ['PTR', RRType.PTR],
  ['MX', RRType.MX], ['TXT', RRType.TXT], ['AAAA', RRType.AAAA], ['SRV', RRType.SRV], ['CAA', RRType.CAA],
]);

// Data types regiondns serves as opaque rdata: accepted by mnemonic only in generic form
// (RFC 3597 §5), so a user can write `TLSA \# 35 ...` and still read the file.
const GENERIC_ONLY_TYPES = new Map<string, number>([
  ['HINFO', 13], ['RP', 17], ['AFSDB', 18], ['LOC', 29], ['NAPTR', 35], ['CERT', 37], ['DS', 43],
  ['SSHFP', 44], ['TLSA', 52], ['SMIMEA', 53], ['OPENPGPKEY', 61], ['SVCB', 64], ['HTTPS', 65],
  ['SPF', 99], ['URI', 256],
]);

const CLASSES = new Set(['IN', 'CH', 'CHAOS', 'HS', 'HESIOD', 'CS', 'NONE', 'ANY']);

function isClassToken(upper: string): boolean {
  return CLASSES.has(upper) || (upper.startsWith('CLASS') && parseUint(upper.slice(5), 0xffff) !== undefined);
}

/** Code of a type token, or an error message. */
function typeCode(tok: string, genericRdata: boolean): number | string {
  const upper = tok.toUpperCase();
  const known = TYPES.get(upper);
  if (known !== undefined) return known;
  let code: number | undefined;
  if (upper.startsWith('TYPE')) {
    code = parseUint(upper.slice(4), 0xffff);
    if (code === undefined) return `bad type "${tok}": TYPE must be followed by a number from 1 to 65535`;
  } else {
    code = GENERIC_ONLY_TYPES.get(upper);
    if (code === undefined) {
      return `unknown record type "${tok}": use A, AAAA, CNAME, NS, SOA, MX, TXT, SRV, CAA, PTR, or TYPEnnn \\# <length> <hex> (RFC 3597)`;
    }
    if (!genericRdata) return `${upper} rdata is not parsed by regiondns: write it in RFC 3597 generic form, ${upper} \\# <length> <hex>`;
  }
  // RFC 6895 §3.1: 0 is reserved, 41 is OPT, 128-255 are QTYPEs and meta-types; none live in a zone.
  if (code === 0 || code === RRType.OPT || (code >= 128 && code <= 255)) {
    return `type ${tok} cannot appear in a zone file (reserved, OPT or meta type): remove the record`;
  }
  return code;
}

// ---------------------------------------------------------------------------------------------
// Parser

interface Shared {
  records: ZoneRecord[];
  errors: ConfigError[];
  /** $TTL; like BIND, a $TTL in an included file stays in force after it. */
  ttlDefault: number | undefined;
  /** RFC 1035 §5.1: a record without TTL takes the last explicit one when there is no $TTL. */
  lastTtl: number | undefined;
  includeRoot: string;
  readInclude: (absPath: string) => string;
  /** Real paths of the files being read, outermost first (include-loop detection). */
  stack: string[];
  stopped: boolean;
  /** The origin in force at the first record of the top file, when a $ORIGIN set it. */
  zoneOrigin: string | undefined;
}

function addError(sh: Shared, code: ConfigErrorCode, file: string, line: number, message: string): void {
  if (sh.stopped) return;
  if (sh.errors.length === MAX_ERRORS - 1) {
    sh.errors.push({ code: ZoneErrorCode.TOO_MANY_ERRORS, file, line, message: `too many errors (${MAX_ERRORS}); stopped reading here: fix the errors above first` });
    sh.stopped = true;
    return;
  }
  sh.errors.push({ code, file, line, message });
}

function readFileUtf8(absPath: string): string {
  return readConfigFile(absPath);
}

function realOrResolved(p: string): string {
  const abs = path.resolve(p);
  try { return fs.realpathSync(abs); } catch { return abs; }
}

export function parseMasterFile(
  text: string,
  opts: ParseOptions,
): ParseResult {
  const sh: Shared = {
    records: [],
    errors: [],
    ttlDefault: opts.defaultTtl,
    lastTtl: undefined,
    includeRoot: opts.includeRoot ?? path.dirname(opts.file),
    readInclude: opts.readInclude ?? readFileUtf8,
    stack: [realOrResolved(opts.file)],
    stopped: false,
    zoneOrigin: undefined,
  };
  parseText(sh, text, opts.file, opts.origin, true);
  return {
    origin: sh.zoneOrigin ?? opts.origin,
    records: sh.records,
    errors: sh.errors,
    originFromFile: sh.zoneOrigin !== undefined,
  };
}

/** Parses one file's text; `top` marks the file whose leading $ORIGIN names the zone. */
function parseText(sh: Shared, text: string, file: string, startOrigin: string, top: boolean): void {
  const lex = new Lexer(text);
  let origin = startOrigin;
  let owner: string | undefined;
  let ownerBroken = false; // the last owner was bad: blank-owner lines after it are not reported again
  let lastOwnerText = '';
  let lastOwnerOrigin = '';

  while (!sh.stopped && lex.next()) {
    const line = lex.entryLine;
    if (lex.error !== undefined) {
      addError(sh, ZoneErrorCode.SYNTAX, file, lex.errorLine, lex.error);
      continue;
    }
    const t = lex.text;
    let i = 0;

    if (!lex.blankOwner && t[0].charCodeAt(0) === 0x24 /* $ */ && !lex.quoted[0]) {
      const d = t[0].toUpperCase();
      if (d === '$ORIGIN') {
        const o = directiveName(sh, lex, file, line, origin);
        if (o !== undefined) {
          origin = o;
          if (top && sh.records.length === 0) sh.zoneOrigin = o;
        }
      } else if (d === '$TTL') {
        directiveTtl(sh, lex, file, line);
      } else if (d === '$INCLUDE') {
        include(sh, lex, file, line, origin);
      } else {
        addError(sh, ZoneErrorCode.BAD_DIRECTIVE, file, line, `unknown directive "${t[0]}": use $ORIGIN, $TTL or $INCLUDE`);
      }
      continue;
    }

    // Owner: explicit, or the previous one when the line starts with white space.
    if (lex.blankOwner) {
      if (owner === undefined) {
        if (!ownerBroken) addError(sh, ZoneErrorCode.NO_OWNER, file, line, 'record has no owner name (the line starts with white space and no record comes before it): write the owner name at the start of the line');
        continue;
      }
    } else {
      i = 1;
      if (t[0] !== lastOwnerText || origin !== lastOwnerOrigin || owner === undefined) {
        try {
          owner = absoluteName(t[0], origin);
          ownerBroken = false;
          lastOwnerText = t[0];
          lastOwnerOrigin = origin;
        } catch (e) {
          owner = undefined;
          ownerBroken = true;
          addError(sh, ZoneErrorCode.BAD_NAME, file, line, `bad owner name "${t[0]}": ${(e as Error).message}`);
          continue;
        }
      }
    }

    // [TTL] [class] or [class] [TTL], both optional (RFC 1035 §5.1).
    let ttl: number | undefined;
    let ttlText = '';
    let haveClass = false;
    let bad = false;
    for (let k = 0; k < 2 && i < lex.count && !bad; k++) {
      const tok = t[i];
      const c = tok.charCodeAt(0);
      if (c >= 0x30 && c <= 0x39) {
        if (ttl !== undefined) { bad = errTtl(sh, file, line, `record has two TTLs ("${ttlText}" and "${tok}"): keep one`); break; }
        ttl = parseTtl(tok);
        ttlText = tok;
        if (ttl === undefined) bad = errTtl(sh, file, line, `bad TTL "${tok}": use seconds from 0 to 2147483647 or units like 1h, 2d, 1w30m`);
      } else {
        const upper = tok.toUpperCase();
        if (!isClassToken(upper)) break;
        if (haveClass) { bad = errClass(sh, file, line, `record has two classes: keep one "IN"`); break; }
        haveClass = true;
        if (upper !== 'IN' && upper !== 'CLASS1') {
          bad = errClass(sh, file, line, `class ${tok} is not supported: regiondns serves class IN only; write IN or leave the class out`);
        }
      }
      i++;
    }
    if (bad) continue;

    if (i >= lex.count) {
      addError(sh, ZoneErrorCode.SYNTAX, file, line, `record for ${owner} has no type: write e.g. "${owner} 300 IN A 192.0.2.1"`);
      continue;
    }
    const generic = i + 1 < lex.count && t[i + 1] === '\\#' && !lex.quoted[i + 1];
    const type = typeCode(t[i], generic);
    if (typeof type === 'string') {
      addError(sh, ZoneErrorCode.UNKNOWN_TYPE, file, line, type);
      continue;
    }

    if (ttl !== undefined) {
      sh.lastTtl = ttl;
    } else {
      ttl = sh.ttlDefault ?? sh.lastTtl;
      if (ttl === undefined) {
        addError(sh, ZoneErrorCode.NO_TTL, file, line, 'record has no TTL and no $TTL is in force: add "$TTL 3600" at the top of the file (RFC 2308 §4) or give the record a TTL');
        continue;
      }
    }

    let parsed: ParsedRdata;
    try {
      parsed = parseRdata(type, lex, i + 1, lex.count, origin);
    } catch (e) {
      if (!(e instanceof RdataError)) throw e;
      addError(sh, ZoneErrorCode.BAD_RDATA, file, line, e.message);
      continue;
    }
    sh.records.push({
      owner: owner!,
      type,
      klass: 1,
      ttl,
      rdata: parsed.rdata,
      target: parsed.target,
      soaMinimum: parsed.soaMinimum,
      file,
      line,
    });
  }
}

function errTtl(sh: Shared, file: string, line: number, msg: string): true {
  addError(sh, ZoneErrorCode.BAD_TTL, file, line, msg);
  return true;
}

function errClass(sh: Shared, file: string, line: number, msg: string): true {
  addError(sh, ZoneErrorCode.BAD_CLASS, file, line, msg);
  return true;
}

function directiveArgs(sh: Shared, lex: Lexer, file: string, line: number, min: number, max: number, usage: string): boolean {
  const got = lex.count - 1;
  if (got >= min && got <= max) return true;
  addError(sh, ZoneErrorCode.BAD_DIRECTIVE, file, line, `${lex.text[0]} takes ${min === max ? min : `${min} or ${max}`} argument${max === 1 ? '' : 's'}, got ${got}: write ${usage}`);
  return false;
}

/** `$ORIGIN name`: a relative name is taken relative to the current origin. */
function directiveName(sh: Shared, lex: Lexer, file: string, line: number, origin: string): string | undefined {
  if (!directiveArgs(sh, lex, file, line, 1, 1, '$ORIGIN example.com.')) return undefined;
  try {
    return absoluteName(lex.text[1], origin);
  } catch (e) {
    addError(sh, ZoneErrorCode.BAD_DIRECTIVE, file, line, `bad $ORIGIN "${lex.text[1]}": ${(e as Error).message}`);
    return undefined;
  }
}

/** `$TTL ttl` (RFC 2308 §4). */
function directiveTtl(sh: Shared, lex: Lexer, file: string, line: number): void {
  if (!directiveArgs(sh, lex, file, line, 1, 1, '$TTL 3600 (or $TTL 1h)')) return;
  const v = parseTtl(lex.text[1]);
  if (v === undefined) {
    addError(sh, ZoneErrorCode.BAD_TTL, file, line, `bad $TTL "${lex.text[1]}": use seconds from 0 to 2147483647 or units like 1h, 2d, 1w30m`);
    return;
  }
  sh.ttlDefault = v;
}

/**
 * `$INCLUDE file [origin]` (RFC 1035 §5.1). The path is relative to the including file and must
 * stay inside includeRoot, also after following symlinks. The included file starts with the
 * given origin (or the current one) and no previous owner; the including file's origin is
 * unchanged afterwards.
 */
function include(sh: Shared, lex: Lexer, file: string, line: number, origin: string): void {
  if (!directiveArgs(sh, lex, file, line, 1, 2, '$INCLUDE part.inc [origin]')) return;
  const arg = lex.text[1];
  let incOrigin = origin;
  if (lex.count > 2) {
    try {
      incOrigin = absoluteName(lex.text[2], origin);
    } catch (e) {
      addError(sh, ZoneErrorCode.BAD_DIRECTIVE, file, line, `bad $INCLUDE origin "${lex.text[2]}": ${(e as Error).message}`);
      return;
    }
  }
  const display = path.isAbsolute(arg) ? arg : path.join(path.dirname(file), arg);
  const abs = path.resolve(path.dirname(file), arg);
  const root = path.resolve(sh.includeRoot);
  if (!within(root, abs)) {
    addError(sh, ZoneErrorCode.INCLUDE_ESCAPE, file, line, `$INCLUDE "${arg}" points outside the zones folder ${sh.includeRoot}: move the file into that folder and include it by a path inside it`);
    return;
  }
  let key = abs;
  try {
    key = fs.realpathSync(abs);
    if (!within(realOrResolved(root), key)) {
      addError(sh, ZoneErrorCode.INCLUDE_ESCAPE, file, line, `$INCLUDE "${arg}" is a symlink to ${key}, outside the zones folder ${sh.includeRoot}: copy the file into that folder instead`);
      return;
    }
  } catch {
    // Not on disk (or a custom reader): the lexical check above is all we can do; reading reports the rest.
  }
  if (sh.stack.includes(key)) {
    const chain = [...sh.stack.slice(sh.stack.indexOf(key)), key].map((p) => path.basename(p)).join(' → ');
    addError(sh, ZoneErrorCode.INCLUDE_LOOP, file, line, `$INCLUDE loop (${chain}): remove one of these $INCLUDE lines`);
    return;
  }
  let body: string;
  try {
    body = sh.readInclude(abs);
  } catch (e) {
    addError(sh, ZoneErrorCode.INCLUDE_READ, file, line, `cannot read $INCLUDE file "${arg}": ${(e as Error).message}`);
    return;
  }
  sh.stack.push(key);
  parseText(sh, body, display, incOrigin, false);
  sh.stack.pop();
}

function within(root: string, p: string): boolean {
  if (p === root) return true;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return p.startsWith(prefix);
}
