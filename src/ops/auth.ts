// Ops API tokens: who may read and who may change fleet state.
// Format (file given with --ops-tokens, or env REGIONDNS_OPS_TOKENS), one entry per line or
// comma-separated, `#` starts a comment:
//   alice:3f1c…e9          write (and read)
//   grafana:9ab0…12:read   read only
// A token is compared in constant time over SHA-256 digests, so neither its bytes nor its length
// leak through timing.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export type Access = 'read' | 'write';

export interface TokenIdentity {
  /** Recorded as the actor in the audit log and as `by` in drains and overrides. */
  name: string;
  access: Access;
}

/** Shortest token accepted: guessing must stay out of reach (`openssl rand -hex 32` gives 64). */
export const MIN_TOKEN_LENGTH = 16;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export class TokenFileError extends Error {
  constructor(readonly source: string, readonly line: number, message: string) {
    super(`${source}:${line}: ${message}`);
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time string equality: equal-length digests, so the comparison time says nothing about either input. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export class TokenSet {
  private readonly entries: { identity: TokenIdentity; digest: Buffer }[];

  constructor(tokens: readonly { name: string; token: string; access: Access }[] = []) {
    this.entries = tokens.map((t) => ({ identity: { name: t.name, access: t.access }, digest: digest(t.token) }));
  }

  get size(): number {
    return this.entries.length;
  }

  names(): string[] {
    return this.entries.map((e) => e.identity.name);
  }

  /** The identity a presented token belongs to, or null. Checks every entry (no early exit). */
  authenticate(presented: string): TokenIdentity | null {
    const d = digest(presented);
    let found: TokenIdentity | null = null;
    for (const e of this.entries) {
      if (timingSafeEqual(d, e.digest) && found === null) found = e.identity;
    }
    return found;
  }

  /** Both sets' tokens; a name in both is an error (the audit log must name one holder). */
  merge(other: TokenSet, source: string): TokenSet {
    const names = new Set(this.names());
    for (const n of other.names()) {
      if (names.has(n)) throw new TokenFileError(source, 0, `token name "${n}" is defined twice`);
    }
    const merged = new TokenSet();
    merged.entries.push(...this.entries, ...other.entries);
    return merged;
  }
}

/**
 * Parses `name:token[:read|:write]` entries, one per line or comma-separated; `#` starts a comment.
 * Throws TokenFileError naming source:line.
 */
export function parseTokens(text: string, source: string): TokenSet {
  const tokens: { name: string; token: string; access: Access }[] = [];
  const names = new Map<string, number>();
  const values = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const hash = lines[i].indexOf('#');
    const content = hash >= 0 ? lines[i].slice(0, hash) : lines[i];
    for (const raw of content.split(',')) {
      const entry = raw.trim();
      if (entry === '') continue;
      const parts = entry.split(':');
      let access: Access = 'write';
      if (parts.length === 3) {
        if (parts[2] !== 'read' && parts[2] !== 'write') {
          throw new TokenFileError(source, lineNo, `"${parts[2]}" is not an access level: write name:token (read and write) or name:token:read`);
        }
        access = parts[2];
      } else if (parts.length !== 2) {
        throw new TokenFileError(source, lineNo, 'expected name:token or name:token:read (a token cannot contain ":" or ",")');
      }
      const [name, token] = parts;
      if (!NAME_PATTERN.test(name)) {
        throw new TokenFileError(source, lineNo, `token name "${name}" must be 1-64 letters, digits, '.', '_', '@' or '-'`);
      }
      if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
        throw new TokenFileError(source, lineNo, `the token of "${name}" must be at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -hex 32)`);
      }
      const seenName = names.get(name);
      if (seenName !== undefined) throw new TokenFileError(source, lineNo, `token name "${name}" already defined on line ${seenName}`);
      const seenValue = values.get(token);
      if (seenValue !== undefined) throw new TokenFileError(source, lineNo, `the token of "${name}" is the same as the one on line ${seenValue}`);
      names.set(name, lineNo);
      values.set(token, lineNo);
      tokens.push({ name, token, access });
    }
  }
  return new TokenSet(tokens);
}

export const TOKENS_ENV = 'REGIONDNS_OPS_TOKENS';

/** Tokens from `--ops-tokens FILE` and from REGIONDNS_OPS_TOKENS, combined. Throws TokenFileError. */
export function loadTokens(file: string | null, env: NodeJS.ProcessEnv = process.env): TokenSet {
  let set = new TokenSet();
  if (file !== null) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new TokenFileError(file, 0, `cannot read the ops tokens file: ${(err as Error).message}`);
    }
    set = parseTokens(text, file);
  }
  const fromEnv = env[TOKENS_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') set = set.merge(parseTokens(fromEnv, TOKENS_ENV), TOKENS_ENV);
  return set;
}

/** The token of an `Authorization: Bearer …` header (RFC 6750 §2.1), or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer +([^\s]+) *$/i.exec(header);
  return m ? m[1] : null;
}

/** How to configure tokens, for the "no tokens" refusal and the server's startup warning. */
export const HOW_TO_CONFIGURE_TOKENS =
  `no ops tokens are configured, so changes are refused: set ${TOKENS_ENV}="name:token" or start with --ops-tokens FILE ` +
  '(one name:token per line, name:token:read for read-only; e.g. token=$(openssl rand -hex 32))';
