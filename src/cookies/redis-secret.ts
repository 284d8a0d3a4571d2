// The fleet's cookie secret kept in Redis (`--redis` without `--cookie-secret`): the first instance
// to start writes a random one (SET NX), every instance reads it, and re-reads it every
// refreshMs, so an operator's rotation ("new old" written to the key) reaches the whole fleet
// without a restart. Read once at start; queries never wait on Redis.

import { Redis } from 'ioredis';
import type { Logger } from '../obs/logger.js';
import { formatCookieSecrets, parseCookieSecrets, randomCookieSecrets, type CookieSecrets } from './secret.js';

export const COOKIE_SECRET_KEY = 'regiondns:cookie-secret';

export interface RedisSecretOptions {
  url: string;
  key?: string;
  refreshMs?: number;
  log: Logger;
  /** A rotation was read: the secrets to use from now on. */
  onChange(secrets: CookieSecrets): void;
}

/** The key's text, secrets separated by white space or newlines: current first, then previous. */
export function parseRedisSecrets(text: string, key: string): CookieSecrets {
  return { ...parseCookieSecrets(text.trim().split(/\s+/).join('\n'), `redis ${key}`), source: `redis ${key}` };
}

export class RedisCookieSecret {
  private readonly client: Redis;
  private readonly key: string;
  private last = '';
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: RedisSecretOptions) {
    this.key = opts.key ?? COOKIE_SECRET_KEY;
    this.client = new Redis(opts.url, {
      lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 2_000,
      disableClientInfo: true, connectionName: 'regiondns:cookie-secret',
      retryStrategy: (times) => Math.min(100 * 2 ** (times - 1), 2_000),
    });
    this.client.on('error', (err: Error) => opts.log.debug({ err: err.message }, 'cookie secret: redis connection error'));
  }

  /** Connects, makes sure the key holds a secret, and reads it; throws when Redis cannot be reached. */
  async start(): Promise<CookieSecrets> {
    try {
      await this.client.connect();
      await this.client.set(this.key, formatCookieSecrets(randomCookieSecrets()).replace(/\n/g, ' '), 'NX');
      const text = await this.client.get(this.key);
      if (text === null) throw new Error(`${this.key} vanished between SET NX and GET`);
      const secrets = parseRedisSecrets(text, this.key);
      this.last = text;
      this.timer = setInterval(() => void this.refresh(), this.opts.refreshMs ?? 30_000);
      this.timer.unref();
      return secrets;
    } catch (err) {
      this.client.disconnect();
      throw new Error(`cookie secret: cannot read ${this.key} from Redis: ${(err as Error).message}`);
    }
  }

  /** Reads the key again; a change is a rotation. A bad value is logged and the secrets in use kept. */
  async refresh(): Promise<void> {
    let text: string | null;
    try {
      text = await this.client.get(this.key);
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'cookie secret: redis unreachable, keeping the secret in use');
      return;
    }
    if (text === null || text === this.last) return;
    try {
      this.opts.onChange(parseRedisSecrets(text, this.key));
      this.last = text;
      this.opts.log.info({ key: this.key }, 'cookie secret rotated (read from redis)');
    } catch (err) {
      this.opts.log.error({ error: (err as Error).message }, 'cookie secret in redis is not valid: keeping the secret in use');
      this.last = text; // said once, not every refresh
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.client.disconnect();
  }
}
