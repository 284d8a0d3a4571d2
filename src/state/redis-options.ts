// How regiondns connects to Redis: fail fast instead of queueing while offline, never replay a
// command after a reconnect, reconnect with a backoff capped at 2 s. Queued commands would run late,
// against a state they were not meant for; an instance rather says "unavailable" at once.

import type { RedisOptions } from 'ioredis';

export function failFastRedisOptions(): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    connectTimeout: 2_000,
    disconnectTimeout: 500,
    disableClientInfo: true,
    retryStrategy: (times) => Math.min(100 * 2 ** (times - 1), 2_000),
  };
}
