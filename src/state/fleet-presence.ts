// Presence: every instance publishes what it serves (content hash, zone serials, its last reload) so
// any instance can list the fleet, for the drift audit and for a fleet-wide reload.
//
// With Redis (P = the fleet store's prefix, default "regiondns:"):
//   P instance:<id>   the Presence JSON, PX = 3 × the refresh interval, refreshed every interval,
//                     at once after a reload and after a reconnect (a Redis restarted empty has
//                     every instance back within one refresh). An instance that dies leaves the list
//                     when its key expires. Read with a bounded SCAN when asked.
//   channel P reload  {"id", "from", "at"}: "reload your zones from your files" (POST /v1/reload).
// Without Redis: the fleet is this instance.
//
// Its own small connections, configured like the fleet store's (fail fast, no offline queue): the
// presence is best effort, and a slow SCAN never queues behind a write. Everything read back is
// parsed; a bad value is skipped and counted (regiondns_fleet_store_bad_entries_total{namespace}).

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import * as z from 'zod';
import type { ConfigIdentity } from '../config/identity.js';
import type { Logger } from '../obs/logger.js';
import { fleetStoreBadEntries } from '../obs/metrics.js';
import { failFastRedisOptions } from './redis-options.js';

export interface ReloadOutcome {
  id: string;
  ok: boolean;
  /** The errors, one per line, with file:line (absent when ok). */
  error?: string;
  at: number;
}

export interface Presence extends ConfigIdentity {
  id: string;
  /** When it was published (the instance's clock, ms). */
  at: number;
  /** null: no reload since the instance started. */
  lastReload: ReloadOutcome | null;
}

// Not strict: an instance of a later version may say more; this one reads what it knows (mid-upgrade
// fleets list every instance).
const ReloadOutcomeSchema = z.object({
  id: z.string().min(1).max(200),
  ok: z.boolean(),
  error: z.string().max(20_000).optional(),
  at: z.number().finite(),
});

export const PresenceSchema = z.object({
  id: z.string().min(1).max(200),
  hash: z.string().min(1).max(128),
  serials: z.record(z.string(), z.number().int().nonnegative().nullable()),
  at: z.number().finite(),
  lastReload: ReloadOutcomeSchema.nullable(),
});

const ReloadMessageSchema = z.object({ id: z.string().min(1).max(200), from: z.string().min(1).max(200), at: z.number().finite() });

export interface InstanceList {
  /** Every live instance, this one first. */
  instances: Presence[];
  /** Why the others could not be listed (Redis unreachable), or null. */
  error: string | null;
}

export interface FleetPresence {
  start(): Promise<void>;
  close(): Promise<void>;
  instances(): Promise<InstanceList>;
  /** Reloads this instance now and asks every other one to reload (with Redis). */
  requestReload(id: string): Promise<void>;
  /** A reload ran here (asked by the fleet, or SIGHUP): remember its outcome and publish at once. */
  reloaded(outcome: ReloadOutcome): void;
}

export interface PresenceOptions {
  instanceId: string;
  identity(): ConfigIdentity;
  /** Reloads this instance's zones from its files (it calls reloaded() with the outcome). */
  reload(id: string): void;
  now?: () => number;
  log?: Logger;
}

export const DEFAULT_PRESENCE_INTERVAL_MS = 5_000;
/** Keys listed per SCAN call, and at most this many calls: a fleet of thousands, not an unbounded loop. */
const SCAN_COUNT = 500;
const MAX_SCAN_CALLS = 200;
/** An error text kept in a presence: the first lines are the ones that matter. */
const MAX_ERROR_CHARS = 4_000;

/** The errors of a failed reload as one text, capped. */
export function reloadErrorText(errors: readonly string[]): string {
  const text = errors.join('\n');
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}\n… (${errors.length} errors in all)` : text;
}

abstract class PresenceBase implements FleetPresence {
  protected last: ReloadOutcome | null = null;
  protected readonly now: () => number;
  constructor(protected readonly opts: PresenceOptions) {
    this.now = opts.now ?? Date.now;
  }

  protected self(): Presence {
    const { hash, serials } = this.opts.identity();
    return { id: this.opts.instanceId, hash, serials, at: this.now(), lastReload: this.last };
  }

  abstract start(): Promise<void>;
  abstract close(): Promise<void>;
  abstract instances(): Promise<InstanceList>;
  abstract requestReload(id: string): Promise<void>;

  reloaded(outcome: ReloadOutcome): void {
    this.last = outcome;
    this.published();
  }

  protected published(): void {}
}

/** Without Redis: the fleet is this instance. */
export class LocalPresence extends PresenceBase {
  async start(): Promise<void> {}
  async close(): Promise<void> {}
  async instances(): Promise<InstanceList> {
    return { instances: [this.self()], error: null };
  }
  async requestReload(id: string): Promise<void> {
    this.opts.reload(id);
  }
}

export interface RedisPresenceOptions extends PresenceOptions {
  url: string;
  prefix?: string;
  /** How often the presence is refreshed; it expires after 3 of them (default 5,000 ms). */
  intervalMs?: number;
  commandTimeoutMs?: number;
}

export class RedisPresence extends PresenceBase {
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly prefix: string;
  private readonly intervalMs: number;
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly channel: string;
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private closed = false;
  /** Keys already logged as bad (each logged once; counted every time it is read). */
  private readonly loggedBad = new Set<string>();

  constructor(private readonly ropts: RedisPresenceOptions) {
    super(ropts);
    this.prefix = ropts.prefix ?? 'regiondns:';
    this.intervalMs = ropts.intervalMs ?? DEFAULT_PRESENCE_INTERVAL_MS;
    this.ttlMs = this.intervalMs * 3;
    this.timeoutMs = ropts.commandTimeoutMs ?? 1_000;
    this.channel = `${this.prefix}reload`;
    const name = `regiondns_${ropts.instanceId}`.replace(/[^\w.:-]/g, '_');
    // As the fleet store's connections: fail fast instead of queueing while offline.
    const base = failFastRedisOptions();
    this.cmd = new Redis(ropts.url, { ...base, connectionName: `${name}:presence` });
    this.sub = new Redis(ropts.url, { ...base, connectionName: `${name}:presence-sub` });
    const log = ropts.log;
    this.cmd.on('error', (err: Error) => log?.debug({ err: err.message }, 'presence: redis connection error'));
    this.sub.on('error', (err: Error) => log?.debug({ err: err.message }, 'presence: redis subscriber connection error'));
    // Back after an outage (maybe to a Redis restarted empty): say at once that this instance is here.
    this.cmd.on('ready', () => { if (this.started && !this.closed) this.published(); });
    this.sub.on('ready', () => { if (this.started && !this.closed) void this.subscribe(); });
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel && !this.closed) this.onReloadMessage(message);
    });
  }

  private key(id: string): string {
    return `${this.prefix}instance:${id}`;
  }

  async start(): Promise<void> {
    this.started = true;
    try {
      await this.timed(Promise.all([this.cmd.connect(), this.sub.connect()]), 'connect', 2_000 + this.timeoutMs);
      await this.subscribe();
      await this.publish();
    } catch (err) {
      // Presence is not what answers DNS: say so and keep trying (the connections reconnect by themselves).
      this.ropts.log?.warn({ err: (err as Error).message }, 'presence: cannot reach redis yet; this instance is missing from the fleet list until it can');
    }
    this.timer = setInterval(() => this.published(), this.intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    // Leave the list at once on a clean stop (best effort: the TTL does it otherwise).
    if (this.cmd.status === 'ready') await this.timed(this.cmd.del(this.key(this.ropts.instanceId)), 'DEL').catch(() => undefined);
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  protected override published(): void {
    if (this.closed) return;
    this.publish().catch((err: Error) => this.ropts.log?.debug({ err: err.message }, 'presence: not published (retried on the next refresh)'));
  }

  private async publish(): Promise<void> {
    // A connection that gave up (or never got up) is started again here, once per refresh.
    if (this.cmd.status === 'wait' || this.cmd.status === 'end') this.cmd.connect().catch(() => undefined);
    if (this.sub.status === 'wait' || this.sub.status === 'end') this.sub.connect().catch(() => undefined);
    const me = this.self();
    await this.timed(this.cmd.set(this.key(me.id), JSON.stringify(me), 'PX', this.ttlMs), 'SET presence');
  }

  private async subscribe(): Promise<void> {
    try {
      await this.timed(this.sub.subscribe(this.channel), 'SUBSCRIBE');
    } catch (err) {
      this.ropts.log?.warn({ err: (err as Error).message }, 'presence: cannot subscribe to reload requests; retrying on the next reconnect');
    }
  }

  async instances(): Promise<InstanceList> {
    const me = this.self();
    if (this.cmd.status !== 'ready') return { instances: [me], error: `the other instances cannot be listed: redis is not connected (${this.cmd.status})` };
    try {
      const keys = new Set<string>();
      let cursor = '0';
      for (let calls = 0; calls < MAX_SCAN_CALLS; calls++) {
        const [next, batch] = await this.timed(this.cmd.scan(cursor, 'MATCH', `${globEscape(this.prefix)}instance:*`, 'COUNT', SCAN_COUNT), 'SCAN instances');
        for (const k of batch) keys.add(k);
        cursor = next;
        if (cursor === '0') break;
      }
      // A keyspace too large to walk within the bound: list what was found, and say so.
      const partial = cursor !== '0' ? `the fleet list stopped after ${MAX_SCAN_CALLS} SCAN calls (${keys.size} presence keys): more keys under ${this.prefix} than it walks` : null;
      const all = [...keys];
      const out: Presence[] = [me];
      for (let i = 0; i < all.length; i += SCAN_COUNT) {
        const batch = all.slice(i, i + SCAN_COUNT);
        const values = await this.timed(this.cmd.mget(...batch), 'MGET instances');
        batch.forEach((key, j) => {
          const text = values[j];
          if (text === null || text === undefined) return; // expired between SCAN and MGET
          const p = this.parse(key, text);
          if (p && p.id !== me.id) out.push(p);
        });
      }
      out.splice(1, out.length - 1, ...out.slice(1).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
      return { instances: out, error: partial };
    } catch (err) {
      return { instances: [me], error: `the other instances cannot be listed: redis: ${(err as Error).message}` };
    }
  }

  private parse(key: string, text: string): Presence | null {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.bad(key, 'not JSON');
      return null;
    }
    const r = PresenceSchema.safeParse(raw);
    if (!r.success) {
      this.bad(key, r.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; '));
      return null;
    }
    if (this.key(r.data.id) !== key) {
      this.bad(key, `holds the presence of "${r.data.id}"`);
      return null;
    }
    return r.data;
  }

  private bad(key: string, problem: string): void {
    fleetStoreBadEntries.labels('instance').inc();
    if (this.loggedBad.has(key)) return;
    if (this.loggedBad.size < 10_000) this.loggedBad.add(key);
    this.ropts.log?.warn({ namespace: 'instance', key: key.slice(0, 200), problem: problem.slice(0, 500) }, 'skipped a bad entry read back from the fleet store');
  }

  async requestReload(id: string): Promise<void> {
    // Here first (the answer waits for every instance anyway), then everyone else.
    this.opts.reload(id);
    const message = JSON.stringify({ id, from: this.ropts.instanceId, at: this.now() });
    await this.timed(this.cmd.publish(this.channel, message), 'PUBLISH reload');
  }

  private onReloadMessage(text: string): void {
    let m: z.infer<typeof ReloadMessageSchema>;
    try {
      const r = ReloadMessageSchema.safeParse(JSON.parse(text));
      if (!r.success) throw new Error(r.error.issues.map((i) => i.message).join('; '));
      m = r.data;
    } catch (err) {
      fleetStoreBadEntries.labels('message').inc();
      this.ropts.log?.warn({ channel: this.channel, problem: (err as Error).message.slice(0, 200) }, 'skipped a bad reload request');
      return;
    }
    if (m.from === this.ropts.instanceId || this.last?.id === m.id) return; // ours, or done already
    this.ropts.log?.info({ reload: m.id, from: m.from }, 'fleet-wide reload requested');
    this.opts.reload(m.id);
  }

  private async timed<T>(p: Promise<T>, what: string, ms = this.timeoutMs): Promise<T> {
    p.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A reload id: random, so two requests never mix. */
export function newReloadId(): string {
  return randomUUID();
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
