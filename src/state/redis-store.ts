// FleetStore on Redis (`--redis redis://…`): every instance of the fleet sees the same overrides,
// audit, verdicts and leases. Each instance keeps a local view, so queries never wait on Redis and
// keep being answered with the last state while Redis is unreachable.
//
// Layout (P = prefix, default "regiondns:"):
//   P ns:<ns>                    hash per namespace: field = key, value = JSON of the value
//   P version                    integer, INCR by every write (the fleet-wide overrides version)
//   P audit                      list of AuditEntry JSON, newest first (LPUSH), trimmed to 10,000
//   P verdict:<checkId>:<prober> Verdict JSON, PX = 3 × its intervalMs
//   P lease:<name>               holder, PX = ttl (taken when free, refreshed by its holder)
//   P epoch                      random id of this incarnation of the fleet state (see "Epochs")
//   P lineage                    hash: earlier epoch → the version of it that the current one carries
//   P write:<id>                 the version a write committed as, PX = 10 min (see "Outcomes")
//   P reseed                     hash: instance → its claim to restore lost state (see "Epochs")
//   channel P changes            {"version": n, "epoch": e, "changes": Change[] | null} after every
//                                write; null (write too big to publish) means "resync from the hashes"
//   channel P verdicts           a Verdict, after every publishVerdict
//
// A write is one Lua script (INCR, HSET/HDEL, LPUSH+LTRIM, PUBLISH): atomic, conditional on the epoch,
// on the version not being below this instance's (and equal to expectVersion when given: compare-
// and-set), and it refuses to run after its deadline (taken from Redis's own clock), so a write
// reported as failed because Redis was frozen or slow is not applied later when Redis wakes up.
//
// Outcomes: each write carries a random id, recorded by the script. When the reply is lost or late,
// the instance asks on a fresh connection, once Redis's clock is past the deadline, whether the id
// committed: yes → success; no → "nothing changed" (the script can no longer run); no answer within
// outcomeWindowMs → StoreOutcomeUnknownError. Never "nothing changed" when it may have.
//
// Epochs: Redis can lose data (FLUSHALL, a restart without persistence, an older snapshot restored).
// Seen from an instance: the epoch is missing or another one that does not carry our version in its
// lineage, or the version under our epoch went back. Then the instance never adopts that state: the
// instances that saw it claim (score: version, then holding a lease), wait claimWindowMs, and the best
// claim re-seeds Redis from its view under a new epoch (one script, conditional on Redis still being
// in the state it judged), with an audit entry; the others converge on it. Writes wait meanwhile.
//
// Pub/sub can drop messages (a subscriber reconnects, a gap in versions): a resync on start, on
// every reconnect and every resyncIntervalMs compares versions and reloads the hashes only when the
// version moved without us seeing the message, so the steady state costs one GET plus a verdict SCAN.
// A reconnect to a restarted Redis (new run_id) reloads everything: it may hold older data under
// the same version number. For Redis Cluster, give the prefix a hash tag ("{regiondns}:") so the
// write script's keys share one slot.

import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { failFastRedisOptions } from './redis-options.js';
import type { Logger } from 'pino';
import { fleetStoreResets } from '../obs/metrics.js';
import {
  NAMESPACES,
  StoreConflictError,
  StoreOutcomeUnknownError,
  StoreResettingError,
  StoreUnavailableError,
  type AuditEntry,
  type AuditInput,
  type Change,
  type ChangeList,
  type FleetStore,
  type Namespace,
  type StoreEvent,
  type StoreStatus,
  type WriteOptions,
} from './fleet-store.js';
import type { Verdict } from '../health/verdict.js';
import { EntryGate, type NamespaceValues } from './schemas.js';
import { applyChanges, emptyViews, EventHub, normalizeChanges, OverrideMap, toChanges, ValueDecoder, verdictKey, type StoredChange, type Views } from './store-kit.js';

export const REDIS_AUDIT_LIMIT = 10_000;
/** Pub/sub messages above this size are replaced by "resync" (Redis drops subscribers whose output buffer passes 32 MB). */
const MAX_MESSAGE_CHARS = 1 << 20;
const HSCAN_COUNT = 5_000;
const SCAN_COUNT = 1_000;
/** Messages buffered while a resync runs; beyond this a full reload is needed anyway. */
const MAX_PENDING = 10_000;
/** When the version moved, how long to wait for the message that may be on its way before reloading. */
const IN_FLIGHT_GRACE_MS = 50;
/** How often the epoch and version are compared with Redis's (one MGET): how fast a data loss is seen. */
const HEAD_CHECK_MS = 1_000;
/** How long a write id is remembered in Redis: far longer than any outcome check. */
const WRITE_ID_TTL_MS = 600_000;
/** Lineage entries kept (one per reset). */
const LINEAGE_MAX = 64;

export interface RedisStoreOptions {
  url: string;
  /** Prefix of every key and channel; default "regiondns:". */
  prefix?: string;
  /** Names this instance's connections (CLIENT LIST) and its log lines. */
  instanceId: string;
  /** How often to compare versions and re-read verdicts (default 5,000 ms). */
  resyncIntervalMs?: number;
  /** How long a command may take before Redis counts as unreachable (default 1,000 ms). */
  commandTimeoutMs?: number;
  /** After a write's reply is lost, how long to try to learn whether it committed (default 3,000 ms). */
  outcomeWindowMs?: number;
  /** After Redis lost state, how long instances gather claims before the best one re-seeds (default 1,500 ms). */
  claimWindowMs?: number;
  /** How long a write waits for a restore of lost state before a 503 (default 4,000 ms). */
  resetWaitMs?: number;
  now?: () => number;
  log?: Logger;
}

interface ChangesMessage {
  version: number;
  /** The epoch it was written under (absent: this instance's own write). */
  epoch?: string;
  /** null: the write was too big to publish; read the hashes. */
  changes: Change[] | null;
}

interface LuaScript {
  lua: string;
  sha: string;
}

function script(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

// KEYS: version, audit, epoch, write:<id>, then one hash per namespace (ns:drain, ns:weights, …; last,
// so a new namespace adds a key without moving the others)
// ARGV: channel, deadline (ms, Redis clock), audit max, audit entry JSON minus its "{" (id and version
// are spliced in front), changes JSON for the message ('' = too big to publish), and the operations
// as one JSON array [keyIndex, "S"|"D", field, valueJson, ...]: one argument whatever the size (a
// million separate arguments cost seconds to encode). Values stay JSON text inside JSON strings, so
// cjson never re-encodes them. Consecutive sets on one hash go in one HSET. Then: the epoch expected,
// the version expected ('' = any), the lowest version acceptable (the writer's own), the write id
// (JSON-quoted) and how long to remember it.
/** The KEYS index (1-based, Lua) of the first namespace hash in WRITE_SCRIPT and RESEED. */
const WRITE_NS_KEY = 5;
const RESEED_NS_KEY = 6;

/** Exported for tests only. */
export const WRITE_SCRIPT = script(`
local done = redis.call('GET', KEYS[4])
if done then return tonumber(done) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[2]) then
  return redis.error_reply('REGIONDNS_DEADLINE write reached Redis after its deadline and was not applied')
end
local epoch = redis.call('GET', KEYS[3])
if epoch ~= ARGV[7] then return redis.error_reply('REGIONDNS_EPOCH ' .. (epoch or '')) end
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[9]) then return redis.error_reply('REGIONDNS_BEHIND ' .. cur) end
if ARGV[8] ~= '' and cur ~= tonumber(ARGV[8]) then return redis.error_reply('REGIONDNS_CONFLICT ' .. cur) end
local v = redis.call('INCR', KEYS[1])
local ops = cjson.decode(ARGV[6])
local hkey, batch = nil, {}
local function flush()
  if hkey then redis.call('HSET', hkey, unpack(batch)) end
  hkey, batch = nil, {}
end
for i = 1, #ops, 4 do
  local k = KEYS[ops[i]]
  if ops[i + 1] == 'S' then
    if hkey ~= k or #batch >= 2000 then flush() hkey = k end
    batch[#batch + 1] = ops[i + 2]
    batch[#batch + 1] = ops[i + 3]
  else
    flush()
    redis.call('HDEL', k, ops[i + 2])
  end
end
flush()
redis.call('SET', KEYS[4], v, 'PX', ARGV[11])
redis.call('LPUSH', KEYS[2], '{"id":' .. v .. ',"version":' .. v .. ',"writeId":' .. ARGV[10] .. ',' .. ARGV[4])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
local changes = ARGV[5]
if changes == '' then changes = 'null' end
redis.call('PUBLISH', ARGV[1], '{"version":' .. v .. ',"epoch":' .. cjson.encode(epoch) .. ',"changes":' .. changes .. '}')
return v
`);

// KEYS: write:<id>. Whether the write committed (its version, or '') and Redis's clock.
const OUTCOME = script(`
local t = redis.call('TIME')
return {redis.call('GET', KEYS[1]) or '', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)}
`);

// KEYS: epoch, version. ARGV: a new epoch id. Seeds the epoch of a store that has none yet (a new
// store, or one from before epochs) only when it has no version either, or holds data: a store whose
// epoch is gone but whose version key survived is not new. Returns the epoch in force.
const SEED = script(`
local e = redis.call('GET', KEYS[1])
if e then return e end
redis.call('SET', KEYS[1], ARGV[1])
if not redis.call('GET', KEYS[2]) then redis.call('SET', KEYS[2], 0) end
return ARGV[1]
`);

// KEYS: reseed. ARGV: instance, score, claim freshness ms. Records this instance's claim and returns
// the best fresh claim's instance (highest score, then lowest name).
const CLAIM = script(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. now)
redis.call('PEXPIRE', KEYS[1], 60000)
local all = redis.call('HGETALL', KEYS[1])
local best, bestScore = nil, nil
for i = 1, #all, 2 do
  local score, at = string.match(all[i + 1], '^(%S+) (%S+)$')
  score, at = tonumber(score), tonumber(at)
  if score and at and now - at <= tonumber(ARGV[3]) then
    if not best or score > bestScore or (score == bestScore and all[i] < best) then best, bestScore = all[i], score end
  end
end
return best
`);

// KEYS: epoch, version, audit, lineage, reseed, then one hash per namespace (as WRITE_SCRIPT's)
// ARGV: epoch seen ('' = none), version seen, new epoch, new version, lineage [epoch, version, ...] as
// JSON, operations (as WRITE_SCRIPT's, sets only), audit entry minus "{", audit max, channel.
// Replaces the whole fleet state, only if Redis is still as the caller judged it.
const RESEED = script(`
local e = redis.call('GET', KEYS[1]) or ''
local v = tonumber(redis.call('GET', KEYS[2]) or '0')
if e ~= ARGV[1] or v ~= tonumber(ARGV[2]) then return redis.error_reply('REGIONDNS_MOVED ' .. e .. ' ' .. v) end
redis.call('DEL', KEYS[4])
for i = 6, #KEYS do redis.call('DEL', KEYS[i]) end
local lineage = cjson.decode(ARGV[5])
for i = 1, #lineage, 2 do redis.call('HSET', KEYS[4], lineage[i], lineage[i + 1]) end
local ops = cjson.decode(ARGV[6])
local hkey, batch = nil, {}
for i = 1, #ops, 4 do
  local k = KEYS[ops[i]]
  if hkey ~= k or #batch >= 2000 then
    if hkey then redis.call('HSET', hkey, unpack(batch)) end
    hkey, batch = k, {}
  end
  batch[#batch + 1] = ops[i + 2]
  batch[#batch + 1] = ops[i + 3]
end
if hkey then redis.call('HSET', hkey, unpack(batch)) end
redis.call('SET', KEYS[2], ARGV[4])
redis.call('SET', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[5])
redis.call('LPUSH', KEYS[3], '{"id":' .. ARGV[4] .. ',"version":' .. ARGV[4] .. ',' .. ARGV[7])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[8]) - 1)
redis.call('PUBLISH', ARGV[9], '{"version":' .. ARGV[4] .. ',"epoch":' .. cjson.encode(ARGV[3]) .. ',"changes":null}')
return tonumber(ARGV[4])
`);

// KEYS: lease; ARGV: holder, ttl ms. 1 when the holder has the lease for the next ttl ms.
const LEASE = script(`
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`);

class RedisTimeoutError extends Error {}
/** What ioredis says when a command is sent while the connection is down (offline queue disabled). */
const NOT_CONNECTED = /Stream isn't writeable|Connection is closed/;
/** The command was never sent: certainly not applied. */
const NOT_SENT = /Stream isn't writeable/;

/** How Redis compares with this instance's view. */
type Judgement = 'same' | 'adopt' | 'converge' | 'lost';

interface Head {
  epoch: string | null;
  version: number;
}

export class RedisStore implements FleetStore {
  readonly kind = 'redis' as const;
  private readonly url: string;
  private readonly safeUrl: string;
  private readonly prefix: string;
  private readonly instanceId: string;
  private readonly resyncIntervalMs: number;
  private readonly commandTimeoutMs: number;
  private readonly outcomeWindowMs: number;
  private readonly claimWindowMs: number;
  private readonly resetWaitMs: number;
  private readonly now: () => number;
  private readonly log?: Logger;
  private readonly events: EventHub;
  private readonly gate: EntryGate;
  /** Checks the values this instance writes against their schemas (memoised per distinct text). */
  private readonly ownValues = new ValueDecoder();
  private readonly base: RedisOptions;
  private readonly connName: string;
  private readonly cmd: Redis;
  private readonly sub: Redis;
  /** A connection of its own for outcome checks: the command connection may be the one that is stuck. */
  private chk: Redis | null = null;
  private readonly keys: {
    version: string; audit: string; ns: string[]; changes: string; verdicts: string; epoch: string; lineage: string; reseed: string;
  };

  private views: Views = emptyViews();
  private ver = 0;
  /** The epoch of the state in the local view; null until loaded. */
  private epoch: string | null = null;
  /** Earlier epochs the current one carries, with the version of each it carries. */
  private lineage = new Map<string, number>();
  private verdictMap = new Map<string, { v: Verdict; seq: number }>();
  private verdictSeq = 0;
  private verdictList: Verdict[] | null = null;
  private verdictsReadAt = 0;
  /** Leases this instance holds, until when (its own clock): a holder is preferred to re-seed. */
  private readonly leasesHeld = new Map<string, number>();

  private connected = false;
  private downSince: number | null = null;
  private downError = 'not connected yet';
  /** Redis's run_id when last seen: a new one means a restarted server, whose data may be older. */
  private runId: string | null = null;

  private started = false;
  private closed = false;
  private resyncing: Promise<void> | null = null;
  private resyncAgain = false;
  private fullAgain = false;
  /** Set while lost state is being restored (by this instance or another): writes wait for it. */
  private recovering: Promise<void> | null = null;
  /** Change messages that could not be applied yet (a resync is running, or they came after a gap). */
  private pending: ChangesMessage[] = [];
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private closing: Promise<void> | null = null;
  private readonly abort = new AbortController();

  constructor(opts: RedisStoreOptions) {
    this.url = opts.url;
    this.safeUrl = redactUrl(opts.url);
    this.prefix = opts.prefix ?? 'regiondns:';
    this.instanceId = opts.instanceId;
    this.resyncIntervalMs = opts.resyncIntervalMs ?? 5_000;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 1_000;
    this.outcomeWindowMs = opts.outcomeWindowMs ?? 3_000;
    this.claimWindowMs = opts.claimWindowMs ?? 1_500;
    this.resetWaitMs = opts.resetWaitMs ?? 4_000;
    this.now = opts.now ?? Date.now;
    // The caller names the component (serve passes a "fleet-store" child): only add what it cannot know.
    this.log = opts.log?.child({ store: 'redis' });
    this.events = new EventHub(this.log);
    this.gate = new EntryGate(this.log);
    const p = this.prefix;
    this.keys = {
      version: `${p}version`, audit: `${p}audit`, ns: NAMESPACES.map((ns) => `${p}ns:${ns}`), changes: `${p}changes`, verdicts: `${p}verdicts`,
      epoch: `${p}epoch`, lineage: `${p}lineage`, reseed: `${p}reseed`,
    };

    this.connName = `regiondns_${opts.instanceId}`.replace(/[^\w.:-]/g, '_');
    // Fail fast instead of queueing while offline; never replay a write after a reconnect.
    this.base = failFastRedisOptions();
    this.cmd = new Redis(this.url, { ...this.base, connectionName: `${this.connName}:cmd` });
    this.sub = new Redis(this.url, { ...this.base, connectionName: `${this.connName}:sub` });

    this.cmd.on('ready', () => this.markUp());
    this.cmd.on('error', (err: Error) => this.markDown(err.message));
    this.cmd.on('close', () => this.markDown(this.connected ? 'connection closed' : this.downError));
    this.sub.on('error', (err: Error) => this.log?.debug({ err: err.message }, 'redis subscriber connection error'));
    this.sub.on('ready', () => {
      if (this.started && !this.closed) void this.resubscribe();
    });
    this.sub.on('message', (channel: string, message: string) => {
      if (this.closed) return;
      if (channel === this.keys.changes) this.onChangesMessage(message);
      else if (channel === this.keys.verdicts) this.onVerdictMessage(message);
    });
  }

  // ---- lifecycle ----

  async start(): Promise<void> {
    try {
      const connecting = Promise.all([this.cmd.connect(), this.sub.connect()]);
      await this.timed(connecting, 'connect', 2_000 + this.commandTimeoutMs);
      await this.timed(this.sub.subscribe(this.keys.changes, this.keys.verdicts), 'SUBSCRIBE', this.commandTimeoutMs, false);
      this.runId = await this.readRunId();
      const t0 = performance.now();
      await this.runScript(SEED, [this.keys.epoch, this.keys.version], [randomUUID()], 'seed epoch', () => this.commandTimeoutMs - (performance.now() - t0));
      await this.resync('start', true);
    } catch (err) {
      await this.close();
      throw this.unavailable('load the fleet state at start', err);
    }
    this.started = true;
    this.timer = setInterval(() => void this.tick(), Math.min(HEAD_CHECK_MS, this.resyncIntervalMs));
    this.timer.unref();
    this.log?.info({ redis: this.safeUrl, version: this.ver, epoch: this.epoch }, 'fleet store connected to redis');
    await this.checkDurability();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort();
    let cap: NodeJS.Timeout | undefined;
    // Between reconnect attempts there is no socket: disconnect() just cancels the next attempt.
    const ended = (c: Redis) =>
      c.status === 'end' || c.status === 'reconnecting' || c.status === 'wait' ? Promise.resolve() : new Promise<void>((resolve) => c.once('end', () => resolve()));
    // disconnect() destroys a socket that does not close within disconnectTimeout; the cap is a backstop.
    const capped = new Promise<void>((resolve) => (cap = setTimeout(resolve, 1_500)));
    const conns = [this.cmd, this.sub, ...(this.chk ? [this.chk] : [])];
    const done = Promise.race([Promise.all(conns.map(ended)), capped]);
    for (const c of conns) c.disconnect();
    await done;
    clearTimeout(cap);
  }

  /**
   * Redis without persistence loses every drain on its next restart: say so at start. Managed Redis
   * often refuses CONFIG: then nothing is said (its provider's persistence settings apply).
   */
  private async checkDurability(): Promise<void> {
    try {
      const [aof, save] = await Promise.all([
        this.timed(this.cmd.call('CONFIG', ['GET', 'appendonly']), 'CONFIG GET appendonly'),
        this.timed(this.cmd.call('CONFIG', ['GET', 'save']), 'CONFIG GET save'),
      ]);
      const value = (r: unknown) => (Array.isArray(r) && typeof r[1] === 'string' ? r[1] : null);
      const appendonly = value(aof);
      const snapshots = value(save);
      if (appendonly === null || snapshots === null) return;
      if (appendonly !== 'yes') {
        this.log?.warn({ redis: this.safeUrl, appendonly, save: snapshots },
          snapshots.trim() === ''
            ? 'redis persistence is off (appendonly no, no save points): a redis restart loses the fleet state, which instances then restore from memory (see README "Redis durability"); set appendonly yes'
            : 'redis keeps only periodic snapshots (appendonly no): a restart can lose the latest changes, which instances then restore from memory (see README "Redis durability"); set appendonly yes');
      }
    } catch (err) {
      this.log?.debug({ err: describe(err) }, 'cannot read redis persistence settings (CONFIG refused?): not checked');
    }
  }

  // ---- reads (local, no I/O) ----

  get<N extends Namespace>(ns: N): ReadonlyMap<string, NamespaceValues[N]> {
    // The views hold only values that passed the gate (or this instance's own writes).
    return (this.views.get(ns) ?? OverrideMap.EMPTY) as ReadonlyMap<string, unknown> as ReadonlyMap<string, NamespaceValues[N]>;
  }

  version(): number {
    return this.ver;
  }

  verdicts(): readonly Verdict[] {
    this.verdictList ??= [...this.verdictMap.values()].map((e) => e.v);
    return this.verdictList;
  }

  onEvent(fn: (e: StoreEvent) => void): () => void {
    return this.events.on(fn);
  }

  status(): StoreStatus {
    if (this.recovering) return { connected: true, detail: 'redis lost fleet state: restoring it from this fleet\'s memory' };
    if (this.connected) return { connected: true, detail: 'redis ok' };
    if (this.downSince === null) return { connected: false, detail: `redis ${this.downError}` };
    return { connected: false, detail: `redis unreachable since ${new Date(this.downSince).toISOString()}: ${this.downError}` };
  }

  // ---- writes ----

  async write(changes: ChangeList, audit: AuditInput, opts: WriteOptions = {}): Promise<number> {
    const stored = normalizeChanges(changes);
    // A value its namespace's schema refuses is the caller's mistake (as in MemoryStore): refused here,
    // never written for every reader to skip.
    for (const c of stored) if (c.json !== null) this.ownValues.own(c.ns, c.key, c.json);
    if (this.closed) throw new StoreUnavailableError('fleet store is closed');
    await this.waitForRecovery();
    try {
      return await this.writeOnce(stored, audit, opts);
    } catch (err) {
      if (!(err instanceof StoreResettingError)) throw err;
      // Redis refused the write because its state is not ours: judge it (and restore it if lost).
      // Then a CAS caller re-checks on the restored view; any other write goes again once.
      const waited = new AbortController();
      await Promise.race([
        this.resync('a write was refused').catch(() => undefined),
        delay(this.resetWaitMs, undefined, { signal: waited.signal }).catch(() => undefined),
      ]);
      waited.abort();
      await this.waitForRecovery();
      if (opts.expectVersion !== undefined) throw new StoreConflictError(opts.expectVersion, this.ver);
      return await this.writeOnce(stored, audit, opts);
    }
  }

  private async waitForRecovery(): Promise<void> {
    const recovering = this.recovering;
    if (!recovering) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), this.resetWaitMs)));
    const r = await Promise.race([recovering.then(() => 'done' as const), late]);
    clearTimeout(timer);
    if (r === 'late' || this.isRecovering()) {
      throw new StoreResettingError('redis lost fleet state and this fleet is restoring it from memory; nothing changed: send the change again in a few seconds');
    }
  }

  private isRecovering(): boolean {
    return this.recovering !== null;
  }

  private async writeOnce(stored: StoredChange[], audit: AuditInput, opts: WriteOptions): Promise<number> {
    const { id: _id, version: _version, at: _at, ...input } = audit as AuditInput & Partial<AuditEntry>;
    const auditRest = JSON.stringify({ ...input, at: this.now() }).slice(1);
    // Too big for one pub/sub message: publish "resync" instead (estimated first to skip the encoding).
    const estimate = stored.reduce((n, c) => n + c.key.length + (c.json?.length ?? 4) + 32, 2);
    let changesJson = estimate > MAX_MESSAGE_CHARS ? '' : encodeChanges(stored);
    if (changesJson.length > MAX_MESSAGE_CHARS) changesJson = '';
    const ops = JSON.stringify(stored.flatMap((c) => [WRITE_NS_KEY + NAMESPACES.indexOf(c.ns), c.json === null ? 'D' : 'S', c.key, c.json ?? '']));
    const writeId = randomUUID();
    const writeKey = `${this.prefix}write:${writeId}`;
    const epoch = this.epoch ?? '';
    const floor = this.ver;
    const args: (string | number)[] = [
      this.keys.changes, 0, REDIS_AUDIT_LIMIT, auditRest, changesJson, ops,
      epoch, opts.expectVersion ?? '', floor, JSON.stringify(writeId), WRITE_ID_TTL_MS,
    ];
    const keys = [this.keys.version, this.keys.audit, this.keys.epoch, writeKey, ...this.keys.ns];

    // A bulk write gets time to transfer and run; the deadline is on Redis's clock, so no skew.
    const budget = this.commandTimeoutMs + Math.ceil(stored.length / 100);
    const t0 = performance.now();
    const left = () => budget - (performance.now() - t0);
    let deadline: number;
    try {
      const redisNow = parseTime(await this.timed(this.cmd.call('TIME'), 'TIME', budget));
      deadline = Math.floor(redisNow + left());
      args[1] = deadline;
    } catch (err) {
      throw this.unavailable('write', err); // nothing was sent
    }
    let version: number;
    try {
      version = Number(await this.runScript(WRITE_SCRIPT, keys, args, 'write', left));
    } catch (err) {
      version = await this.settle(err, { writeId, writeKey, deadline, expected: opts.expectVersion });
    }
    if (!(this.ver >= version)) this.ingest({ version, changes: toChanges(stored) });
    if (this.resyncing) await this.resyncing.catch(() => undefined);
    if (this.ver < version) this.log?.warn({ version, local: this.ver }, 'write persisted but the local view has not caught up yet');
    return version;
  }

  /** A write script that failed: what Redis said, or (reply lost) what became of the write id. */
  private async settle(err: unknown, w: { writeId: string; writeKey: string; deadline: number; expected: number | undefined }): Promise<number> {
    const msg = describe(err);
    if (isReplyError(err)) {
      const conflict = /^REGIONDNS_CONFLICT (\d+)/.exec(msg);
      if (conflict && w.expected !== undefined) {
        const current = Number(conflict[1]);
        await this.catchUp(current);
        throw new StoreConflictError(w.expected, current);
      }
      if (/^REGIONDNS_(EPOCH|BEHIND)/.test(msg)) {
        this.log?.warn({ refused: msg, epoch: this.epoch, version: this.ver }, 'redis refused a write: its fleet state is not the one this instance has');
        throw new StoreResettingError(`redis refused the write (${msg}); nothing changed`);
      }
      throw this.unavailable('write', err); // deadline passed, script error: not applied
    }
    if (NOT_SENT.test(msg)) throw this.unavailable('write', err);
    // The reply is lost or late: the write may have committed. Ask, on a connection of its own.
    const outcome = await this.outcome(w.writeKey, w.deadline);
    if (typeof outcome === 'number') {
      this.log?.info({ writeId: w.writeId, version: outcome }, 'write reply lost, but the write committed');
      return outcome;
    }
    if (outcome === 'not-applied') throw this.unavailable('write', err);
    throw new StoreOutcomeUnknownError(w.writeId,
      `redis ${this.safeUrl} did not answer whether write ${w.writeId} committed within ${this.outcomeWindowMs} ms after its reply was lost (${msg}): the change may or may not have been applied`,
      { cause: err });
  }

  /** The write's version when it committed; 'not-applied' once Redis's clock is past its deadline without it. */
  private async outcome(writeKey: string, deadline: number): Promise<number | 'not-applied' | 'unknown'> {
    const until = performance.now() + this.outcomeWindowMs;
    while (performance.now() < until && !this.closed) {
      try {
        const chk = await this.checker();
        const r = await this.timed(chk.call('EVAL', [OUTCOME.lua, 1, writeKey]), 'outcome', Math.max(50, Math.min(this.commandTimeoutMs, until - performance.now())), false);
        const [done, redisNow] = r as [string, number];
        if (done !== '') return Number(done);
        if (Number(redisNow) > deadline) return 'not-applied';
        await delay(Math.min(200, Number(deadline) - Number(redisNow) + 5), undefined, { signal: this.abort.signal });
      } catch {
        await delay(100, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
    return 'unknown';
  }

  private async checker(): Promise<Redis> {
    if (!this.chk) {
      this.chk = new Redis(this.url, { ...this.base, connectionName: `${this.connName}:chk` });
      this.chk.on('error', (err: Error) => this.log?.debug({ err: err.message }, 'redis outcome-check connection error'));
    }
    if (this.chk.status === 'wait') await this.timed(this.chk.connect(), 'connect (outcome check)', this.commandTimeoutMs, false);
    return this.chk;
  }

  /** After a conflict: the local view at `version` or later (the message is usually on its way). */
  private async catchUp(version: number): Promise<void> {
    const until = performance.now() + IN_FLIGHT_GRACE_MS * 4;
    while (this.ver < version && performance.now() < until) await delay(5);
    if (this.ver < version) await this.resync('conflicting write').catch(() => undefined);
  }

  async audit(limit: number): Promise<AuditEntry[]> {
    const n = Math.floor(limit);
    if (n <= 0) return [];
    let rows: string[];
    try {
      rows = await this.timed(this.cmd.lrange(this.keys.audit, 0, n - 1), 'LRANGE audit');
    } catch (err) {
      throw this.unavailable('read the audit', err);
    }
    return rows.flatMap((r) => {
      const e = this.gate.audit(r);
      return e ? [e] : [];
    });
  }

  /** Best effort: the local map is updated at once; a Redis failure shows in status(), not here. */
  async publishVerdict(v: Verdict): Promise<void> {
    const json = JSON.stringify(v);
    this.setVerdict(JSON.parse(json) as Verdict);
    if (this.closed) return;
    const key = `${this.prefix}verdict:${v.checkId}:${v.prober}`;
    try {
      const res = await this.timed(this.cmd.multi().set(key, json, 'PX', Math.max(1, Math.ceil(3 * v.intervalMs))).publish(this.keys.verdicts, json).exec(), 'publish verdict');
      const failed = res?.find(([err]) => err);
      if (failed) throw failed[0];
    } catch (err) {
      this.log?.debug({ err: describe(err), checkId: v.checkId }, 'verdict not published');
    }
  }

  /** False when another holder has the lease, and also when Redis cannot be asked. */
  async tryLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    if (this.closed) return false;
    const t0 = performance.now();
    try {
      const r = await this.runScript(LEASE, [`${this.prefix}lease:${name}`], [holder, Math.max(1, Math.ceil(ttlMs))], 'lease', () => this.commandTimeoutMs - (performance.now() - t0));
      const held = Number(r) === 1;
      if (held) this.leasesHeld.set(name, this.now() + ttlMs);
      else this.leasesHeld.delete(name);
      return held;
    } catch (err) {
      this.log?.warn({ err: describe(err), lease: name }, 'lease not granted: redis unavailable');
      return false;
    }
  }

  // ---- incoming changes ----

  private onChangesMessage(text: string): void {
    let msg: ChangesMessage;
    try {
      const raw = JSON.parse(text) as { version?: unknown; epoch?: unknown; changes?: unknown };
      if (raw.epoch === undefined && typeof raw.version === 'number') {
        // Written by a regiondns from before epochs (a rolling upgrade): read Redis itself instead.
        if (!this.recovering) void this.resync('a change message without an epoch').catch(() => undefined);
        return;
      }
      if (typeof raw.version !== 'number' || !Number.isSafeInteger(raw.version) || typeof raw.epoch !== 'string' || !(raw.changes === null || Array.isArray(raw.changes))) {
        throw new Error('bad shape');
      }
      msg = { version: raw.version, epoch: raw.epoch, changes: raw.changes === null ? null : this.checkChanges(raw.changes as unknown[]) };
    } catch {
      this.gate.bad('message', text.slice(0, 60), 'not a change message');
      return;
    }
    if (msg.epoch !== this.epoch) {
      // Written under another epoch: Redis's state was replaced (or lost). Judge it before applying anything.
      if (!this.recovering) void this.resync('a change message from another epoch').catch(() => undefined);
      return;
    }
    this.ingest(msg);
  }

  /** The changes of a message, each through the gate: a bad one becomes a delete, as a reload would skip it. */
  private checkChanges(raw: unknown[]): Change[] {
    const out: Change[] = [];
    for (const c of raw) {
      const { ns, key, value } = (c ?? {}) as { ns?: unknown; key?: unknown; value?: unknown };
      if (!NAMESPACES.includes(ns as Namespace) || typeof key !== 'string' || key === '') {
        this.gate.bad('message', JSON.stringify(c)?.slice(0, 60) ?? '?', 'not a change');
        continue;
      }
      const n = ns as Namespace;
      out.push({ ns: n, key, value: value === null || value === undefined ? null : (this.gate.value(n, key, value) ?? null) });
    }
    return out;
  }

  /** Applies what follows the local version in order; anything after a gap waits for a resync. */
  private ingest(msg: ChangesMessage): void {
    if (msg.version <= this.ver && !this.resyncing) return;
    this.pending.push(msg);
    if (this.pending.length > MAX_PENDING) {
      // Too far behind to replay: the (next) resync reloads the hashes instead.
      this.pending = [];
      this.resyncAgain = true;
    }
    if (this.resyncing) return;
    if (this.drainPending()) void this.resync('missed a change message').catch(() => undefined);
  }

  /** True when messages remain that cannot be applied (a gap, or a write too big to publish). */
  private drainPending(): boolean {
    this.pending.sort((a, b) => a.version - b.version);
    let i = 0;
    for (; i < this.pending.length; i++) {
      const m = this.pending[i];
      if (m.version <= this.ver) continue;
      if (m.epoch !== undefined && m.epoch !== this.epoch) continue; // from before a reload under a new epoch
      if (m.version !== this.ver + 1 || m.changes === null) break;
      this.apply(m.version, m.changes);
    }
    this.pending = this.pending.slice(i);
    return this.pending.length > 0;
  }

  private apply(version: number, changes: Change[]): void {
    const { views, touched } = applyChanges(this.views, changes);
    this.views = views;
    this.ver = version;
    for (const ns of touched) this.events.emit({ kind: 'overrides', ns });
  }

  private onVerdictMessage(text: string): void {
    const v = this.gate.verdict(text, 'verdict message');
    if (v) this.setVerdict(v);
  }

  private setVerdict(v: Verdict): void {
    const k = verdictKey(v.checkId, v.prober);
    const cur = this.verdictMap.get(k);
    if (cur && cur.v.at > v.at) return; // an older one arriving late
    this.verdictMap.set(k, { v, seq: ++this.verdictSeq });
    if (cur && sameVerdict(cur.v, v)) return; // our own message coming back
    this.verdictList = null;
    this.events.emit({ kind: 'verdicts' });
  }

  // ---- resync ----

  /** Runs one resync at a time; a request while one runs makes it go round once more. */
  private resync(reason: string, full = false): Promise<void> {
    if (full) this.fullAgain = true;
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    const run = (async () => {
      try {
        do {
          this.resyncAgain = false;
          const forceFull = this.fullAgain;
          this.fullAgain = false;
          await this.resyncOnce(reason, forceFull);
        } while (this.resyncAgain && !this.closed);
      } finally {
        this.resyncing = null;
        // Whatever arrived after a failed resync is applied if it follows on; a gap waits for the next one.
        this.drainPending();
      }
    })();
    this.resyncing = run;
    return run;
  }

  private async resyncOnce(reason: string, forceFull: boolean): Promise<void> {
    if (this.closed) return;
    const head = await this.readHead();
    const judged = await this.judge(head);
    if (judged === 'lost') {
      await this.recover(head);
      return;
    }
    if (forceFull || judged !== 'same' || head.version !== this.ver) await this.load(head, judged, reason);
    if (this.drainPending()) {
      this.resyncAgain = true;
      if (this.pending.some((m) => m.version === this.ver + 1 && m.changes === null)) this.fullAgain = true;
    }
    if (this.now() - this.verdictsReadAt >= this.resyncIntervalMs || forceFull) await this.refreshVerdicts();
  }

  /** Reads every hash of the state at `head` into the view (under the resync, so messages wait). */
  private async load(head: Head, judged: Judgement, reason: string): Promise<void> {
    // Messages after `head` are buffered meanwhile and replayed on top: a change is "set/delete this
    // key", so replaying one the scan already saw is harmless.
    const views = emptyViews();
    for (const [i, ns] of NAMESPACES.entries()) views.set(ns, await this.readHash(ns, this.keys.ns[i]));
    const lineage = judged === 'same' ? this.lineage : await this.readLineage();
    const before = { epoch: this.epoch, version: this.ver };
    this.views = views;
    this.ver = head.version;
    this.epoch = head.epoch;
    this.lineage = lineage;
    if (judged === 'converge') {
      fleetStoreResets.labels('converged').inc();
      this.log?.warn({ reason, from: before, to: head }, 'redis had lost fleet state and another instance restored it: converged on the restored state');
    } else {
      this.log?.info({ reason, from: before.version, to: head.version }, 'fleet state reloaded from redis');
    }
    this.events.emit({ kind: 'resync' });
  }

  /**
   * Redis's state against ours. Never 'same' or 'converge' when Redis may have lost a change this
   * instance has: the epoch gone, another epoch whose lineage does not carry our version, or our epoch
   * at a lower version.
   */
  private async judge(head: Head): Promise<Judgement> {
    if (this.epoch === null) return 'adopt'; // nothing local yet: take what Redis has
    if (head.epoch === this.epoch) return head.version >= this.ver ? 'same' : 'lost';
    if (head.epoch === null) return 'lost';
    const carried = await this.timed(this.cmd.hget(this.keys.lineage, this.epoch), 'HGET lineage');
    return carried !== null && Number(carried) >= this.ver ? 'converge' : 'lost';
  }

  private async readHead(): Promise<Head> {
    const [epoch, version] = await this.timed(this.cmd.mget(this.keys.epoch, this.keys.version), 'MGET epoch version');
    const v = version === null ? 0 : Number(version);
    return { epoch, version: Number.isSafeInteger(v) && v >= 0 ? v : 0 };
  }

  private async readLineage(): Promise<Map<string, number>> {
    const raw = await this.timed(this.cmd.hgetall(this.keys.lineage), 'HGETALL lineage');
    const out = new Map<string, number>();
    for (const [e, v] of Object.entries(raw)) if (Number.isSafeInteger(Number(v))) out.set(e, Number(v));
    return out;
  }

  /**
   * Redis lost state this instance has. Claim the right to restore it; the best claim (newest
   * version, then a lease holder, then the lowest instance id) re-seeds, the others wait for the new
   * epoch and converge on it. Runs once at a time; writes wait for it (see write()).
   */
  private recover(seen: Head): Promise<void> {
    if (this.recovering) return this.recovering;
    const run = (async () => {
      this.log?.warn({ local: { epoch: this.epoch, version: this.ver }, redis: seen },
        'redis has lost fleet state this instance has (flushed, restarted without data, or an older snapshot restored): not adopting it; restoring it from memory');
      let head = seen;
      while (!this.closed) {
        const held = [...this.leasesHeld.values()].some((until) => until > this.now());
        const score = this.ver * 2 + (held ? 1 : 0);
        const t0 = performance.now();
        const left = () => this.commandTimeoutMs - (performance.now() - t0);
        await this.runScript(CLAIM, [this.keys.reseed], [this.instanceId, score, this.claimWindowMs * 2], 'claim', left);
        // Every instance sees the loss within a head check: give them the window to claim.
        await delay(this.claimWindowMs, undefined, { signal: this.abort.signal });
        const t1 = performance.now();
        const best = await this.runScript(CLAIM, [this.keys.reseed], [this.instanceId, score, this.claimWindowMs * 2], 'claim', () => this.commandTimeoutMs - (performance.now() - t1));
        const now = await this.readHead();
        if (now.epoch !== head.epoch || now.version !== head.version) {
          // Someone re-seeded (or wrote): judge again.
          const j = await this.judge(now);
          if (j !== 'lost') return this.load(now, j, 'another instance restored the fleet state');
          head = now;
          continue;
        }
        if (best === this.instanceId) {
          if (await this.reseed(head)) return;
          head = await this.readHead();
          continue;
        }
        // Another instance has the better claim: wait for its new epoch, then judge it.
        const until = performance.now() + this.claimWindowMs * 2;
        while (performance.now() < until && !this.closed) {
          await delay(100, undefined, { signal: this.abort.signal });
          const h = await this.readHead();
          if (h.epoch !== head.epoch || h.version !== head.version) break;
        }
        const h = await this.readHead();
        const j = await this.judge(h);
        if (j !== 'lost') return this.load(h, j, 'another instance restored the fleet state');
        head = h;
      }
    })();
    // Called from a resync only (it holds the resync slot, so change messages wait meanwhile).
    const done = run
      .catch((err) => this.log?.warn({ err: describe(err) }, 'restoring fleet state failed; trying again on the next check'))
      .finally(() => {
        this.recovering = null;
      });
    this.recovering = done;
    return done;
  }

  /** Writes this instance's view under a new epoch, if Redis is still at `seen`. True when it did. */
  private async reseed(seen: Head): Promise<boolean> {
    const epoch = randomUUID();
    const version = Math.max(this.ver, seen.version) + 1;
    const lineage = new Map(this.lineage);
    if (this.epoch !== null) lineage.set(this.epoch, Math.max(this.ver, lineage.get(this.epoch) ?? 0));
    if (seen.epoch !== null && seen.epoch !== this.epoch) lineage.set(seen.epoch, Math.max(seen.version, lineage.get(seen.epoch) ?? 0));
    const kept = [...lineage].slice(-LINEAGE_MAX);
    const ops: (string | number)[] = [];
    const restored: Record<string, number> = {};
    for (const [i, ns] of NAMESPACES.entries()) {
      const m = this.views.get(ns) ?? OverrideMap.EMPTY;
      restored[ns] = m.size;
      for (const [key, value] of m) ops.push(RESEED_NS_KEY + i, 'S', key, JSON.stringify(value));
    }
    const drains = [...(this.views.get('drain') ?? OverrideMap.EMPTY).keys()];
    const what = seen.epoch === null ? 'had no fleet state (flushed, or restarted without its data)'
      : seen.epoch === this.epoch ? `went back from version ${this.ver} to ${seen.version} (an older snapshot restored?)`
      : `held another fleet state (epoch ${seen.epoch}, version ${seen.version}) that does not carry version ${this.ver}`;
    const entry = {
      actor: 'regiondns', action: 'store.reset', target: 'fleet-store',
      reason: `redis ${what}; ${this.instanceId} restored it from its view at version ${this.ver}`,
      before: { epoch: seen.epoch, version: seen.version },
      after: { epoch, version, restored, drains },
      detail: { instance: this.instanceId, previousEpoch: this.epoch, previousVersion: this.ver },
      at: this.now(),
    };
    const args = [seen.epoch ?? '', seen.version, epoch, version, JSON.stringify(kept.flat()), JSON.stringify(ops), JSON.stringify(entry).slice(1), REDIS_AUDIT_LIMIT, this.keys.changes];
    const keys = [this.keys.epoch, this.keys.version, this.keys.audit, this.keys.lineage, this.keys.reseed, ...this.keys.ns];
    const budget = this.commandTimeoutMs + Math.ceil(ops.length / 400);
    const t0 = performance.now();
    try {
      await this.runScript(RESEED, keys, args, 'reseed', () => budget - (performance.now() - t0));
    } catch (err) {
      if (isReplyError(err) && describe(err).startsWith('REGIONDNS_MOVED')) return false;
      throw err;
    }
    const before = { epoch: this.epoch, version: this.ver };
    this.epoch = epoch;
    this.ver = version;
    this.lineage = new Map(kept);
    this.pending = [];
    fleetStoreResets.labels('reseeded').inc();
    this.log?.warn({ redis: seen, restoredFrom: before, now: { epoch, version }, restored }, `redis ${what}: re-seeded it from this instance's view`);
    this.events.emit({ kind: 'resync' });
    return true;
  }

  private async readRunId(): Promise<string | null> {
    const info = await this.timed(this.cmd.info('server'), 'INFO server');
    return /^run_id:(\w+)/m.exec(info)?.[1] ?? null;
  }

  private async readHash<N extends Namespace>(ns: N, key: string): Promise<OverrideMap> {
    const m: [string, NamespaceValues[N]][] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.timed(this.cmd.hscan(key, cursor, 'COUNT', HSCAN_COUNT), `HSCAN ${key}`);
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const v = this.gate.json(ns, flat[i], flat[i + 1]);
        if (v !== undefined) m.push([flat[i], v]);
      }
      cursor = next;
    } while (cursor !== '0');
    return OverrideMap.from(m);
  }

  private async refreshVerdicts(): Promise<void> {
    this.verdictsReadAt = this.now();
    const seq0 = this.verdictSeq;
    const keys: string[] = [];
    const pattern = `${globEscape(this.prefix)}verdict:*`;
    let cursor = '0';
    do {
      const [next, batch] = await this.timed(this.cmd.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT), 'SCAN verdicts');
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    const fresh = new Map<string, { v: Verdict; seq: number }>();
    for (let i = 0; i < keys.length; i += SCAN_COUNT) {
      const batch = keys.slice(i, i + SCAN_COUNT);
      const values = await this.timed(this.cmd.mget(batch), 'MGET verdicts');
      for (const [j, text] of values.entries()) {
        if (text === null) continue; // expired between SCAN and MGET
        const v = this.gate.verdict(text, batch[j]);
        if (v) fresh.set(verdictKey(v.checkId, v.prober), { v, seq: seq0 });
      }
    }
    // A message that came in during the scan is newer than what the scan read.
    for (const [k, e] of this.verdictMap) {
      const f = fresh.get(k);
      if (e.seq > seq0 && (!f || f.v.at <= e.v.at)) fresh.set(k, e);
    }
    const changed = fresh.size !== this.verdictMap.size || [...fresh].some(([k, e]) => !sameVerdict(this.verdictMap.get(k)?.v, e.v));
    this.verdictMap = fresh;
    if (changed) {
      this.verdictList = null;
      this.events.emit({ kind: 'verdicts' });
    }
  }

  /** Every second: one MGET of epoch and version; verdicts every resyncIntervalMs. */
  private async tick(): Promise<void> {
    if (this.ticking || this.closed || this.resyncing || this.recovering) return;
    this.ticking = true;
    try {
      const before = this.ver;
      const head = await this.readHead();
      if (head.epoch !== this.epoch || head.version < before) await this.resync('redis holds another fleet state than this instance');
      else if (head.version > before) {
        // The message may be on its way: give it a moment before reloading every hash.
        await delay(IN_FLIGHT_GRACE_MS, undefined, { signal: this.abort.signal });
        if (this.ver < head.version) await this.resync('version moved without a message');
      } else if (this.now() - this.verdictsReadAt >= this.resyncIntervalMs && !this.resyncing) await this.refreshVerdicts();
    } catch (err) {
      this.log?.debug({ err: describe(err) }, 'periodic resync failed');
    } finally {
      this.ticking = false;
    }
  }

  private async resubscribe(): Promise<void> {
    try {
      await this.timed(this.sub.subscribe(this.keys.changes, this.keys.verdicts), 'SUBSCRIBE', this.commandTimeoutMs, false);
      // Messages published while the subscriber was away are lost: catch up now.
      await this.resync('subscriber reconnected');
    } catch (err) {
      this.log?.warn({ err: describe(err) }, 'resubscribe failed; retrying on the next reconnect');
    }
  }

  private async onReconnect(): Promise<void> {
    try {
      const runId = await this.readRunId();
      // A restarted Redis may hold older data under the same version number: reload everything.
      const restarted = runId !== null && this.runId !== null && runId !== this.runId;
      this.runId = runId;
      await this.resync(restarted ? 'redis restarted' : 'reconnected', restarted);
    } catch (err) {
      this.log?.debug({ err: describe(err) }, 'resync after reconnect failed');
    }
  }

  // ---- connectivity ----

  private markUp(): void {
    if (this.connected || this.closed) return;
    const wasDown = this.downSince !== null;
    this.connected = true;
    this.downSince = null;
    if (!this.started) return;
    if (wasDown) this.log?.info({ redis: this.safeUrl }, 'redis reachable again');
    this.events.emit({ kind: 'status' });
    void this.onReconnect();
  }

  private markDown(reason: string): void {
    if (this.closed) return;
    const alreadyDown = !this.connected && this.downSince !== null;
    // "not connected" says less than the connection error that got us here: keep that one.
    if (!(alreadyDown && NOT_CONNECTED.test(reason))) this.downError = reason;
    if (alreadyDown) return;
    const wasUp = this.connected;
    this.connected = false;
    this.downSince = this.now();
    if (!this.started) return;
    this.log?.warn({ redis: this.safeUrl, err: reason }, 'redis unreachable: serving the last known fleet state');
    if (wasUp) this.events.emit({ kind: 'status' });
  }

  /**
   * Races a command against a timeout. On the command connection (track = true) a reply marks Redis
   * reachable, silence or a dead socket unreachable; the subscriber's health does not count.
   */
  private async timed<T>(p: Promise<T>, what: string, ms = this.commandTimeoutMs, track = true): Promise<T> {
    p.catch(() => undefined); // it may settle after the timeout
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisTimeoutError(`${what}: no answer within ${Math.max(0, Math.round(ms))} ms`)), Math.max(0, ms));
    });
    try {
      const r = await Promise.race([p, timeout]);
      if (track) this.markUp();
      return r;
    } catch (err) {
      // A ReplyError is Redis answering: reachable, even if it said no.
      if (!track) throw err;
      if (isReplyError(err)) this.markUp();
      else this.markDown(describe(err));
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** EVALSHA, and EVAL when Redis does not know the script (e.g. after a restart). */
  private async runScript(s: LuaScript, keys: string[], args: (string | number)[], what: string, left: () => number): Promise<unknown> {
    try {
      return await this.timed(this.cmd.call('EVALSHA', [s.sha, keys.length, ...keys, ...args]), what, left());
    } catch (err) {
      if (!(isReplyError(err) && describe(err).startsWith('NOSCRIPT'))) throw err;
      return await this.timed(this.cmd.call('EVAL', [s.lua, keys.length, ...keys, ...args]), what, left());
    }
  }

  private unavailable(what: string, err: unknown): StoreUnavailableError {
    if (err instanceof StoreUnavailableError) return err;
    const msg = describe(err);
    let why = msg;
    if (msg.includes('REGIONDNS_DEADLINE')) why = 'answered too late; the write was not applied';
    else if (NOT_CONNECTED.test(msg)) why = `not connected (${this.downError})`;
    return new StoreUnavailableError(`cannot ${what}: redis ${this.safeUrl}: ${why}`, { cause: err });
  }
}

/** The changes as the JSON array the message carries, without parsing and re-serialising values. */
function encodeChanges(stored: readonly StoredChange[]): string {
  const parts = stored.map((c) => `{"ns":${JSON.stringify(c.ns)},"key":${JSON.stringify(c.key)},"value":${c.json ?? 'null'}}`);
  return `[${parts.join(',')}]`;
}

function parseTime(reply: unknown): number {
  if (!Array.isArray(reply) || reply.length < 2) throw new Error(`unexpected TIME reply ${JSON.stringify(reply)}`);
  return Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000);
}

function sameVerdict(a: Verdict | undefined, b: Verdict): boolean {
  return !!a && a.up === b.up && a.at === b.at && a.cause === b.cause && a.intervalMs === b.intervalMs;
}

function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable url)';
  }
}
