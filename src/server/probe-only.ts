// `regiondns probe`: a prober that serves no DNS, for dedicated vantage points. It publishes its
// verdicts to the fleet's Redis, where the DNS instances count them towards the quorum.

import { formatConfigError } from '../config/errors.js';
import { loadConfig } from './load-config.js';
import { Prober } from '../health/prober.js';
import type { Logger } from '../obs/logger.js';
import { RedisStore } from '../state/redis-store.js';
import { ConfigLoadError, defaultInstanceId } from './serve.js';

export interface ProbeOnly {
  reload(): { ok: boolean; errors: string[] };
  close(): Promise<void>;
}

export async function probeOnly(opts: { zonesDir: string; redis: string; instanceId?: string }, log: Logger): Promise<ProbeOnly> {
  const first = loadConfig(opts.zonesDir);
  if (first.errors.length) throw new ConfigLoadError(first.errors.map(formatConfigError));
  const instanceId = opts.instanceId ?? defaultInstanceId();
  const store = new RedisStore({ url: opts.redis, instanceId, log: log.child({ component: 'fleet-store' }) });
  await store.start();
  const prober = new Prober({ proberId: instanceId, store, log: log.child({ component: 'health' }) });
  prober.update(first.health);
  const checks = [...first.health.regions.values()].reduce((n, list) => n + list.length, 0);
  log.info({ prober: instanceId, checks, regions: first.steering.regions.size }, 'probing');
  return {
    reload() {
      const next = loadConfig(opts.zonesDir);
      if (next.errors.length) {
        const errors = next.errors.map(formatConfigError);
        for (const e of errors) log.error({ error: e }, 'reload failed: keeping the previous checks');
        return { ok: false, errors };
      }
      prober.update(next.health);
      log.info('checks reloaded');
      return { ok: true, errors: [] };
    },
    async close() {
      prober.stop();
      await store.close();
    },
  };
}
