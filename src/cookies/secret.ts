// The server-cookie secret of a fleet (RFC 9018 §4.4: every server of an anycast set must share it,
// so that any of them accepts a cookie another one issued). A file holds it, one 128-bit secret per
// line in hex: the first is used to make cookies, an optional second (the previous one) is still
// accepted, so a rotation never turns valid cookies into BADCOOKIE (RFC 9018 §4.4, rollover).

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { formatConfigError, type ConfigError } from '../config/errors.js';
import { SIPHASH_KEY_BYTES } from './siphash.js';
import { OtherConfigError } from '../config/error-codes.js';

export interface CookieSecrets {
  /** Makes new server cookies and validates them. */
  current: Uint8Array;
  /** Still validates cookies made before the last rotation; null when there is none. */
  previous: Uint8Array | null;
  /** Where the secrets came from, for logs: a path, or "random" (this process only). */
  source: string;
}

export class CookieSecretError extends Error {
  constructor(readonly error: ConfigError) {
    super(formatConfigError(error));
  }
}

const HEX = /^[0-9a-fA-F]{32}$/;

/** Parses a secret file's text; `file` names it in errors. */
export function parseCookieSecrets(text: string, file: string): CookieSecrets {
  const found: Uint8Array[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/#.*/, '').trim();
    if (line === '') continue;
    const fail = (message: string): never => {
      throw new CookieSecretError({ code: OtherConfigError.COOKIE_SECRET, file, line: i + 1, message });
    };
    if (!HEX.test(line)) fail(`a cookie secret is ${SIPHASH_KEY_BYTES} octets written as 32 hex digits (e.g. from "openssl rand -hex 16")`);
    if (found.length === 2) fail('at most two secrets: the current one, then the previous one');
    found.push(Uint8Array.from(Buffer.from(line, 'hex')));
  }
  if (found.length === 0) {
    throw new CookieSecretError({ code: OtherConfigError.COOKIE_SECRET, file, line: 0, message: 'no secret: write 32 hex digits (e.g. from "openssl rand -hex 16")' });
  }
  return { current: found[0], previous: found[1] ?? null, source: file };
}

export function readCookieSecrets(file: string): CookieSecrets {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CookieSecretError({ code: OtherConfigError.COOKIE_SECRET, file, line: 0, message: `cannot read: ${(err as Error).message}` });
  }
  return parseCookieSecrets(text, file);
}

/** A secret for this process alone: cookies then validate only here (fine for one instance, not a fleet). */
export function randomCookieSecrets(): CookieSecrets {
  return { current: Uint8Array.from(randomBytes(SIPHASH_KEY_BYTES)), previous: null, source: 'random' };
}

/** The hex form handed to the worker threads (in their environment). */
export function formatCookieSecrets(s: CookieSecrets): string {
  return [s.current, ...(s.previous ? [s.previous] : [])].map((k) => Buffer.from(k).toString('hex')).join('\n');
}
