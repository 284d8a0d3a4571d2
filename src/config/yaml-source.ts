// A YAML file read for configuration, with line numbers: zod checks a value's shape and types, and
// every problem becomes a ConfigError naming file:line (the key or item it is about) and what to fix.
// Generic: the caller gives its error codes; the steering loader (src/steering/load-policy.ts) is one.

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import * as z from 'zod';
import type { ConfigErrorCode } from './error-codes.js';
import type { ConfigError } from './errors.js';
import { readConfigFile } from './read-file.js';

/** A mapping that rejects unknown keys, naming the allowed ones. */
export function strict<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `allowed keys: ${allowed}` : undefined),
  });
}


export type Path = readonly (string | number)[];

/** The codes a shape error is reported with: the file's own, or a sub-module's (health checks). */
export interface ShapeCodes {
  UNKNOWN_KEY: ConfigErrorCode;
  MISSING_KEY: ConfigErrorCode;
  TYPE: ConfigErrorCode;
  BAD_VALUE: ConfigErrorCode;
}

/** A file's codes: its shape errors, and the file that cannot be read or is not YAML. */
export interface YamlCodes extends ShapeCodes {
  READ: ConfigErrorCode;
  YAML: ConfigErrorCode;
}

/** A parsed file: its JS value and a way back from a path to a line. */
export class YamlFile {
  readonly js: unknown;
  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lc: LineCounter,
    readonly errors: ConfigError[],
    private readonly codes: ShapeCodes,
  ) {
    this.js = doc.toJS();
  }

  error(code: ConfigErrorCode, path: Path, message: string): void {
    this.errors.push({ code, file: this.file, line: this.line(path), message });
  }

  /** Line of the key (in a mapping) or item (in a list) that `path` ends at; the nearest existing parent's when it is missing. */
  line(path: Path): number {
    return this.walk(path).line;
  }

  /** Keys of the mapping at `path`, in the order written (JS objects put integer-like keys first). */
  keys(path: Path): string[] {
    const { node, found } = this.walk(path);
    return found && isMap(node) ? node.items.map((p) => keyText(p.key)) : [];
  }

  private walk(path: Path): { node: unknown; line: number; found: boolean } {
    const deref = (n: unknown): unknown => (isAlias(n) ? n.resolve(this.doc) : n);
    let node = deref(this.doc.contents);
    let line = this.nodeLine(node) ?? 0;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = this.pairOf(node, String(seg));
        if (!pair) return { node, line, found: false };
        line = this.nodeLine(pair.key) ?? line;
        node = deref(pair.value);
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        line = this.nodeLine(node.items[seg]) ?? line;
        node = deref(node.items[seg]);
      } else {
        return { node, line, found: false };
      }
    }
    return { node, line, found: true };
  }

  /** Runs `schema` on the value at `path`; on failure records every issue and returns null. */
  check<T>(schema: z.ZodType<T>, path: Path, codes: ShapeCodes = this.codes): T | null {
    const value = valueAt(this.js, path);
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    for (const iss of r.error.issues) this.issue(iss, [...path, ...(iss.path as (string | number)[])], codes);
    return null;
  }

  private issue(iss: z.core.$ZodIssue, path: Path, codes: ShapeCodes): void {
    const where = describePath(path);
    switch (iss.code) {
      case 'unrecognized_keys':
        for (const k of iss.keys) this.error(codes.UNKNOWN_KEY, [...path, k], `unknown key "${k}" in ${where}; ${iss.message}`);
        return;
      case 'invalid_type': {
        const value = valueAt(this.js, path);
        if (value === undefined) {
          const parent = path.slice(0, -1);
          this.error(codes.MISSING_KEY, parent, `${describePath(parent)} needs a "${String(path[path.length - 1])}" key`);
        } else {
          this.error(codes.TYPE, path, `${where} must be ${typeName(iss.expected)}, not ${describeValue(value)}`);
        }
        return;
      }
      case 'invalid_value':
        this.error(codes.BAD_VALUE, path, `${where} must be one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}`);
        return;
      default:
        this.error(codes.TYPE, path, `${where}: ${iss.message}`);
    }
  }

  /** Key → pair of a mapping, indexed once: a file with 10,000 hostnames asks for lines 10,000s of times. */
  private readonly indexes = new WeakMap<object, Map<string, { key: unknown; value: unknown }>>();

  private pairOf(node: { items: { key: unknown; value: unknown }[] }, key: string): { key: unknown; value: unknown } | undefined {
    let index = this.indexes.get(node);
    if (!index) {
      index = new Map();
      for (const p of node.items) {
        const k = keyText(p.key);
        if (!index.has(k)) index.set(k, p); // the first one wins, as find() did
      }
      this.indexes.set(node, index);
    }
    return index.get(key);
  }

  private nodeLine(node: unknown): number | null {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? this.lc.linePos(range[0]).line : null;
  }
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function valueAt(js: unknown, path: Path): unknown {
  let v = js;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function describePath(path: Path): string {
  if (path.length === 0) return 'the file';
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s === '' ? seg : `.${seg}`;
  return `"${s}"`;
}

function typeName(expected: string): string {
  switch (expected) {
    case 'object': case 'record': case 'map': return 'a mapping (key: value lines)';
    case 'array': return 'a list';
    case 'number': return 'a number';
    case 'string': return 'text';
    default: return `a ${expected}`;
  }
}

/** A value as a message names it: the number 3, the text "x", a list, a mapping. */
export function describeValue(v: unknown): string {
  if (v === null) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'number') return Number.isFinite(v) ? `the number ${v}` : String(v);
  if (typeof v === 'string') return `the text ${JSON.stringify(v)}`;
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/**
 * Reads and parses a YAML file; null (with errors recorded under `codes`) when it cannot be read or has
 * syntax errors.
 */
export function readYaml(file: string, errors: ConfigError[], codes: YamlCodes): YamlFile | null {
  let text: string;
  try {
    text = readConfigFile(file);
  } catch (e) {
    errors.push({ code: codes.READ, file, line: 0, message: `cannot read: ${(e as Error).message}` });
    return null;
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const message = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      errors.push({ code: codes.YAML, file, line: lc.linePos(e.pos[0]).line, message: `YAML syntax: ${message}` });
    }
    return null;
  }
  return new YamlFile(file, doc, lc, errors, codes);
}
