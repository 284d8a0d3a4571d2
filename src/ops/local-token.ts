// A write token for the instance a newcomer starts by hand: with no tokens configured, a single
// instance (no Redis) keeps one in its state directory (`.regiondns/ops-token`, mode 0600), and
// `regiondns ctl` run in the same directory against a loopback server uses it. Changes still need a
// token, so the API is never open; the token just never has to be typed. A fleet configures tokens.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const LOCAL_TOKEN_FILE = 'ops-token';
export const LOCAL_TOKEN_NAME = 'local';

/** The `name:token` line of the state directory's local token, made (0600) when missing. */
export function localTokenLine(stateDir: string): { line: string; file: string } {
  const file = path.join(stateDir, LOCAL_TOKEN_FILE);
  try {
    const line = fs.readFileSync(file, 'utf8').trim();
    if (/^[^:\s]+:[^:\s]{16,}$/.test(line)) return { line, file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const line = `${LOCAL_TOKEN_NAME}:${randomBytes(24).toString('hex')}`;
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, `${line}\n`, { mode: 0o600 });
  return { line, file };
}

/**
 * The local token for `ctl`, when the server is this machine's and the state directory in the
 * working directory holds one; null otherwise (a remote server never gets it).
 */
export function localTokenFor(server: string, cwd = process.cwd(), stateDir = '.regiondns'): string | null {
  let host: string;
  try {
    host = new URL(server).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return null;
  }
  if (!(host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host))) return null;
  try {
    const line = fs.readFileSync(path.join(cwd, stateDir, LOCAL_TOKEN_FILE), 'utf8').trim();
    const m = /^[^:\s]+:([^:\s]{16,})$/.exec(line);
    return m ? m[1] : null;
  } catch {
    return null;
  }
}
