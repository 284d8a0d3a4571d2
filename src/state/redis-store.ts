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
//   channel P changes            {"version": n, "changes": Change[] | null} after every write;
//                                null (write too big to publish) means "resync from the hashes"
//   channel P verdicts           a Verdict, after every publishVerdict
//
// A write is one Lua script (INCR, HSET/HDEL, LPUSH+LTRIM, PUBLISH): atomic, and it refuses to run
// after its deadline (taken from Redis's own clock), so a write reported as failed because Redis
// was frozen or slow is not applied later when Redis wakes up.
//
// Pub/sub can drop messages (a subscriber reconnects, a gap in versions): a resync on start, on
// every reconnect and every resyncIntervalMs compares versions and reloads the hashes only when the
// version moved without us seeing the message, so the steady state costs one GET plus a verdict SCAN.
// A reconnect to a restarted Redis (new run_id) reloads everything: it may hold older data under
// the same version number. For Redis Cluster, give the prefix a hash tag ("{regiondns}:") so the
// write script's keys share one slot.

import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import {
  NAMESPACES,
  StoreUnavailableError,
  type AuditEntry,
  type AuditInput,
  type Change,
  type FleetStore,
  type Namespace,
  type StoreEvent,
  type StoreStatus,
  type Verdict,
} from './fleet-store.js';
import { applyChanges, emptyViews, EventHub, normalizeChanges, OverrideMap, toChanges, verdictKey, type StoredChange, type Views } from './store-kit.js';

export const REDIS_AUDIT_LIMIT = 10_000;
/** Pub/sub messages above this size are replaced by "resync" (Redis drops subscribers whose output buffer passes 32 MB). */
const MAX_MESSAGE_CHARS = 1 << 20;
const HSCAN_COUNT = 5_000;
const SCAN_COUNT = 1_000;
/** Messages buffered while a resync runs; beyond this a full reload is needed anyway. */
const MAX_PENDING = 10_000;
/** When the version moved, how long to wait for the message that may be on its way before reloading. */
const IN_FLIGHT_GRACE_MS = 50;

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
  now?: () => number;
  log?: Logger;
}

interface ChangesMessage {
  version: number;
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

// KEYS: version, audit, ns:drain, ns:weights, ns:ramp, ns:tenant
// ARGV: channel, deadline (ms, Redis clock), audit max, audit entry JSON minus its "{" (id and version
// are spliced in front), changes JSON for the message ('' = too big to publish), and the operations
// as one JSON array [keyIndex, "S"|"D", field, valueJson, ...]: one argument whatever the size (a
// million separate arguments cost seconds to encode). Values stay JSON text inside JSON strings, so
// cjson never re-encodes them. Consecutive sets on one hash go in one HSET.
/** Exported for tests only. */
export const WRITE_SCRIPT = script(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[2]) then
  return redis.error_reply('REGIONDNS_DEADLINE write reached Redis after its deadline and was not applied')
end
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
redis.call('LPUSH', KEYS[2], '{"id":' .. v .. ',"version":' .. v .. ',' .. ARGV[4])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
local changes = ARGV[5]
if changes == '' then changes = 'null' end
redis.call('PUBLISH', ARGV[1], '{"version":' .. v .. ',"changes":' .. changes .. '}')
return v
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

export class RedisStore implements FleetStore {
  readonly kind = 'redis' as const;
  private readonly url: string;
  private readonly safeUrl: string;
  private readonly prefix: string;
  private readonly resyncIntervalMs: number;
  private readonly commandTimeoutMs: number;
  private readonly now: () => number;
  private readonly log?: Logger;
  private readonly events: EventHub;
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly keys: { version: string; audit: string; ns: string[]; changes: string; verdicts: string };

  private views: Views = emptyViews();
  private ver = 0;
  private verdictMap = new Map<string, { v: Verdict; seq: number }>();
  private verdictSeq = 0;
  private verdictList: Verdict[] | null = null;

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
    this.resyncIntervalMs = opts.resyncIntervalMs ?? 5_000;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 1_000;
    this.now = opts.now ?? Date.now;
    // The caller names the component (serve passes a "fleet-store" child): only add what it cannot know.
    this.log = opts.log?.child({ store: 'redis' });
    this.events = new EventHub(this.log);
    const p = this.prefix;
    this.keys = { version: `${p}version`, audit: `${p}audit`, ns: NAMESPACES.map((ns) => `${p}ns:${ns}`), changes: `${p}changes`, verdicts: `${p}verdicts` };

    const name = `regiondns_${opts.instanceId}`.replace(/[^\w.:-]/g, '_');
    const base: RedisOptions = {
      lazyConnect: true,
      // Fail fast instead of queueing while offline; never replay a write after a reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      connectTimeout: 2_000,
      disconnectTimeout: 500,
      disableClientInfo: true,
      retryStrategy: (times) => Math.min(100 * 2 ** (times - 1), 2_000),
    };
    this.cmd = new Redis(this.url, { ...base, connectionName: `${name}:cmd` });
    this.sub = new Redis(this.url, { ...base, connectionName: `${name}:sub` });

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
      await this.resync('start', true);
    } catch (err) {
      await this.close();
      throw this.unavailable('load the fleet state at start', err);
    }
    this.started = true;
    this.timer = setInterval(() => void this.tick(), this.resyncIntervalMs);
    this.timer.unref();
    this.log?.info({ redis: this.safeUrl, version: this.ver }, 'fleet store connected to redis');
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
      c.status === 'end' || c.status === 'reconnecting' ? Promise.resolve() : new Promise<void>((resolve) => c.once('end', () => resolve()));
    // disconnect() destroys a socket that does not close within disconnectTimeout; the cap is a backstop.
    const capped = new Promise<void>((resolve) => (cap = setTimeout(resolve, 1_500)));
    const done = Promise.race([Promise.all([ended(this.cmd), ended(this.sub)]), capped]);
    this.cmd.disconnect();
    this.sub.disconnect();
    await done;
    clearTimeout(cap);
  }

  // ---- reads (local, no I/O) ----

  get(ns: Namespace): ReadonlyMap<string, unknown> {
    return this.views.get(ns) ?? OverrideMap.EMPTY;
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
    if (this.connected) return { connected: true, detail: 'redis ok' };
    if (this.downSince === null) return { connected: false, detail: `redis ${this.downError}` };
    return { connected: false, detail: `redis unreachable since ${new Date(this.downSince).toISOString()}: ${this.downError}` };
  }

  // ---- writes ----

  async write(changes: Change[], audit: AuditInput): Promise<number> {
    const stored = normalizeChanges(changes);
    if (this.closed) throw new StoreUnavailableError('fleet store is closed');
    const { id: _id, version: _version, at: _at, ...input } = audit as AuditInput & Partial<AuditEntry>;
    const auditRest = JSON.stringify({ ...input, at: this.now() }).slice(1);
    // Too big for one pub/sub message: publish "resync" instead (estimated first to skip the encoding).
    const estimate = stored.reduce((n, c) => n + c.key.length + (c.json?.length ?? 4) + 32, 2);
    let changesJson = estimate > MAX_MESSAGE_CHARS ? '' : encodeChanges(stored);
    if (changesJson.length > MAX_MESSAGE_CHARS) changesJson = '';
    const ops = JSON.stringify(stored.flatMap((c) => [3 + NAMESPACES.indexOf(c.ns), c.json === null ? 'D' : 'S', c.key, c.json ?? '']));
    const args: (string | number)[] = [this.keys.changes, 0, REDIS_AUDIT_LIMIT, auditRest, changesJson, ops];

    // A bulk write gets time to transfer and run; the deadline is on Redis's clock, so no skew.
    const budget = this.commandTimeoutMs + Math.ceil(stored.length / 100);
    const t0 = performance.now();
    const left = () => budget - (performance.now() - t0);
    let version: number;
    try {
      const redisNow = parseTime(await this.timed(this.cmd.call('TIME'), 'TIME', budget));
      args[1] = Math.floor(redisNow + left());
      version = Number(await this.runScript(WRITE_SCRIPT, [this.keys.version, this.keys.audit, ...this.keys.ns], args, 'write', left));
    } catch (err) {
      throw this.unavailable('write', err);
    }
    this.ingest({ version, changes: toChanges(stored) });
    if (this.resyncing) await this.resyncing.catch(() => undefined);
    if (this.ver < version) this.log?.warn({ version, local: this.ver }, 'write persisted but the local view has not caught up yet');
    return version;
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
      try {
        return [JSON.parse(r) as AuditEntry];
      } catch {
        return [];
      }
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
      return Number(r) === 1;
    } catch (err) {
      this.log?.warn({ err: describe(err), lease: name }, 'lease not granted: redis unavailable');
      return false;
    }
  }

  // ---- incoming changes ----

  private onChangesMessage(text: string): void {
    let msg: ChangesMessage;
    try {
      const raw = JSON.parse(text) as { version?: unknown; changes?: unknown };
      if (typeof raw.version !== 'number' || !(raw.changes === null || Array.isArray(raw.changes))) throw new Error('bad shape');
      const changes = raw.changes === null ? null : (raw.changes as Change[]).filter((c) => NAMESPACES.includes(c?.ns) && typeof c.key === 'string');
      msg = { version: raw.version, changes };
    } catch {
      this.log?.warn({ message: text.slice(0, 200) }, 'ignoring a malformed change message');
      return;
    }
    this.ingest(msg);
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
    let v: Verdict;
    try {
      v = JSON.parse(text) as Verdict;
      if (typeof v.checkId !== 'string' || typeof v.prober !== 'string' || typeof v.up !== 'boolean' || typeof v.at !== 'number') throw new Error('bad shape');
    } catch {
      this.log?.warn({ message: text.slice(0, 200) }, 'ignoring a malformed verdict message');
      return;
    }
    this.setVerdict(v);
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
    const remote = await this.readVersion();
    if (forceFull || remote !== this.ver) {
      // Messages after `remote` are buffered meanwhile and replayed on top: a change is "set/delete
      // this key", so replaying one the scan already saw is harmless.
      const views = emptyViews();
      for (const [i, ns] of NAMESPACES.entries()) views.set(ns, await this.readHash(this.keys.ns[i]));
      const before = this.ver;
      this.views = views;
      this.ver = remote;
      this.log?.info({ reason, from: before, to: remote }, 'fleet state reloaded from redis');
      this.events.emit({ kind: 'resync' });
    }
    if (this.drainPending()) {
      this.resyncAgain = true;
      if (this.pending.some((m) => m.version === this.ver + 1 && m.changes === null)) this.fullAgain = true;
    }
    await this.refreshVerdicts();
  }

  private async readVersion(): Promise<number> {
    const raw = await this.timed(this.cmd.get(this.keys.version), 'GET version');
    return raw === null ? 0 : Number(raw);
  }

  private async readRunId(): Promise<string | null> {
    const info = await this.timed(this.cmd.info('server'), 'INFO server');
    return /^run_id:(\w+)/m.exec(info)?.[1] ?? null;
  }

  private async readHash(key: string): Promise<OverrideMap> {
    const m: [string, unknown][] = [];
    let cursor = '0';
    let bad = 0;
    do {
      const [next, flat] = await this.timed(this.cmd.hscan(key, cursor, 'COUNT', HSCAN_COUNT), `HSCAN ${key}`);
      for (let i = 0; i + 1 < flat.length; i += 2) {
        try {
          m.push([flat[i], JSON.parse(flat[i + 1]) as unknown]);
        } catch {
          bad++;
        }
      }
      cursor = next;
    } while (cursor !== '0');
    if (bad > 0) this.log?.warn({ key, bad }, 'skipped hash fields that are not JSON');
    return OverrideMap.from(m);
  }

  private async refreshVerdicts(): Promise<void> {
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
      const values = await this.timed(this.cmd.mget(keys.slice(i, i + SCAN_COUNT)), 'MGET verdicts');
      for (const text of values) {
        if (text === null) continue; // expired between SCAN and MGET
        try {
          const v = JSON.parse(text) as Verdict;
          fresh.set(verdictKey(v.checkId, v.prober), { v, seq: seq0 });
        } catch {
          /* not ours */
        }
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

  /** Every resyncIntervalMs: cheap when nothing moved (GET version + verdict SCAN). */
  private async tick(): Promise<void> {
    if (this.ticking || this.closed || this.resyncing) return;
    this.ticking = true;
    try {
      const before = this.ver;
      const remote = await this.readVersion();
      if (remote > before) {
        // The message may be on its way: give it a moment before reloading every hash.
        await delay(IN_FLIGHT_GRACE_MS, undefined, { signal: this.abort.signal });
      }
      if (remote < before) await this.resync('redis has an older version than this instance', true);
      else if (this.ver < remote) await this.resync('version moved without a message');
      else if (!this.resyncing) await this.refreshVerdicts();
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
