// Builds the ResponseGuard of a serving process from its options: where the cookie secret comes
// from (a file shared by the fleet; else Redis when the fleet shares one; else one random secret
// per instance, handed by a multi-core primary to its workers so they accept each other's
// cookies), and the rate limiter's settings.

import { CookieSecretError, formatCookieSecrets, parseCookieSecrets, randomCookieSecrets, readCookieSecrets, type CookieSecrets } from '../cookies/secret.js';
import { RedisCookieSecret } from '../cookies/redis-secret.js';
import { CookieJar } from '../cookies/server-cookie.js';
import type { Logger } from '../obs/logger.js';
import { rrlEnabled, type RrlOptions, type RrlTable } from '../rrl/limiter.js';
import { ResponseGuard } from './response-guard.js';

export interface CookieOptions {
  /** The fleet's secret file (see cookies/secret.ts); null: a random secret for this instance. */
  secretFile: string | null;
  /** Without a file: the fleet's Redis, where the secret is shared (and made by the first instance). */
  redis?: string | null;
}

/** A primary's random secret reaches its workers in this environment variable. */
export const COOKIE_SECRET_ENV = 'REGIONDNS_COOKIE_SECRET';

export interface GuardSetup {
  guard: ResponseGuard;
  /** Re-reads the secret file or Redis (a rotation); on error keeps the secrets in use. */
  reloadSecrets(): { ok: boolean; error?: string };
  close(): Promise<void>;
}

/** Secrets for this process: the file, else the primary's (workers), else a fresh random one. */
export function initialSecrets(cookies: CookieOptions): CookieSecrets {
  if (cookies.secretFile !== null) return readCookieSecrets(cookies.secretFile);
  const inherited = process.env[COOKIE_SECRET_ENV];
  return inherited ? parseCookieSecrets(inherited, COOKIE_SECRET_ENV) : randomCookieSecrets();
}

/** What a multi-core primary hands its workers: nothing when they read the file themselves. */
export function workerSecretEnv(cookies: CookieOptions | null | undefined): Record<string, string> {
  if (cookies === null || (cookies !== undefined && (cookies.secretFile !== null || cookies.redis))) return {};
  const inherited = process.env[COOKIE_SECRET_ENV];
  return { [COOKIE_SECRET_ENV]: inherited ?? formatCookieSecrets(randomCookieSecrets()) };
}

/**
 * `cookies`: undefined means on with the default (random) secret; null means off.
 * `rrl`: null or every rate 0 means off; `rrlTable`: the accounts, shared by an instance's worker threads.
 */
export async function setUpGuard(cookies: CookieOptions | null | undefined, rrl: RrlOptions | null | undefined, log: Logger, rrlTable?: RrlTable): Promise<GuardSetup> {
  const cookieOpts = cookies === undefined ? { secretFile: null } : cookies;
  let jar: CookieJar | null = null;
  let fromRedis: RedisCookieSecret | null = null;
  if (cookieOpts !== null && cookieOpts.secretFile === null && cookieOpts.redis) {
    fromRedis = new RedisCookieSecret({ url: cookieOpts.redis, log, onChange: (s) => jar?.setSecrets(s) });
    jar = new CookieJar(await fromRedis.start());
  } else if (cookieOpts !== null) {
    jar = new CookieJar(initialSecrets(cookieOpts));
  }
  const guard = new ResponseGuard({ cookies: jar, rrl: rrl ?? null, rrlTable });
  if (jar) log.info({ secret: jar.source }, 'DNS cookies on');
  if (rrl && rrlEnabled(rrl)) log.info({ rrl }, 'response rate limiting on');
  return {
    guard,
    reloadSecrets() {
      if (fromRedis) { void fromRedis.refresh(); return { ok: true }; }
      if (jar === null || cookieOpts === null || cookieOpts.secretFile === null) return { ok: true };
      try {
        jar.setSecrets(readCookieSecrets(cookieOpts.secretFile));
        log.info({ secret: jar.source }, 'cookie secret reloaded');
        return { ok: true };
      } catch (err) {
        const error = err instanceof CookieSecretError ? err.message : String(err);
        log.error({ error }, 'cookie secret reload failed: keeping the secrets in use');
        return { ok: false, error };
      }
    },
    close: async () => { await fromRedis?.close(); },
  };
}
