// The fleet's view of health: every prober publishes its verdict per check; a check is down when a
// quorum of the probers with a fresh verdict say so, and a region is operational when all its
// checks are up. Seen from several places, one prober's broken network cannot drain a region.
// Pure: verdicts, config and `now` in, a HealthView out.

import type { Verdict } from './verdict.js';
import type { RegionId } from '../steering/policy.js';
import type { CheckConfig, CheckId } from './check-config.js';

/** 'majority': more than half of the fresh voters; a number: at least that many fresh voters. */
export type Quorum = number | 'majority';

/** A verdict is fresh for this many of its intervals (the store keeps it as long). */
export const FRESH_INTERVALS = 3;

export interface VoterView {
  prober: string;
  up: boolean;
  cause: string;
  ageMs: number;
  /** Only fresh verdicts vote; stale ones are shown for context. */
  fresh: boolean;
}

export interface CheckHealth {
  id: CheckId;
  region: RegionId;
  /** The id's part after "<region>/". */
  name: string;
  up: boolean;
  /** No fresh verdict: `up` is the last known state (or the initial state). */
  stale: boolean;
  /** Why: "HTTP 500 (2 of 3 probers)", "initial state, no verdict yet". */
  cause: string;
  /** Every prober's latest verdict, fresh first, then by prober. */
  voters: VoterView[];
}

export interface RegionHealthView {
  up: boolean;
  /** "up", or "down: eu-central/http#0 HTTP 500 (2 of 3 probers)" (every down check, "; " apart). */
  reason: string;
  /** Some check of the region has no fresh verdict. */
  stale: boolean;
  checks: CheckId[];
}

export interface HealthView {
  at: number;
  /** In config order. */
  regions: ReadonlyMap<RegionId, RegionHealthView>;
  checks: ReadonlyMap<CheckId, CheckHealth>;
}

export interface HealthInput {
  /** Every region (in config order) with its checks; a region without checks is always up. */
  checks: ReadonlyMap<RegionId, readonly CheckConfig[]>;
  verdicts: readonly Verdict[];
  now: number;
  /** The last view, whose states hold for checks without a fresh verdict. */
  previous: HealthView | null;
  quorum?: Quorum;
  /** Checks of pool endpoints: judged like region checks, into `checks` only. */
  endpointChecks?: Iterable<CheckConfig>;
}

export const NO_VERDICT_CAUSE = 'initial state, no verdict yet';

export function evaluateHealth(input: HealthInput): HealthView {
  const { now, previous } = input;
  const quorum = input.quorum ?? 'majority';
  const latest = latestByCheck(input.verdicts);
  const checks = new Map<CheckId, CheckHealth>();
  const regions = new Map<RegionId, RegionHealthView>();

  for (const [region, list] of input.checks) {
    const down: string[] = [];
    let stale = false;
    for (const c of list) {
      const h = evaluateCheck(c, latest.get(c.id), now, previous?.checks.get(c.id) ?? null, quorum);
      checks.set(c.id, h);
      stale ||= h.stale;
      if (!h.up) down.push(`${c.id} ${h.cause}${h.stale ? ', stale: no fresh verdict' : ''}`);
    }
    regions.set(region, {
      up: down.length === 0, stale, checks: list.map((c) => c.id),
      reason: down.length === 0 ? 'up' : `down: ${down.join('; ')}`,
    });
  }
  for (const c of input.endpointChecks ?? []) {
    checks.set(c.id, evaluateCheck(c, latest.get(c.id), now, previous?.checks.get(c.id) ?? null, quorum));
  }
  return { at: now, regions, checks };
}

function evaluateCheck(c: CheckConfig, byProber: Map<string, Verdict> | undefined, now: number, previous: CheckHealth | null, quorum: Quorum): CheckHealth {
  const voters: VoterView[] = [...(byProber?.values() ?? [])].map((v) => ({
    prober: v.prober, up: v.up, cause: v.cause, ageMs: now - v.at,
    fresh: now - v.at <= FRESH_INTERVALS * v.intervalMs,
  }));
  voters.sort((a, b) => Number(b.fresh) - Number(a.fresh) || (a.prober < b.prober ? -1 : a.prober > b.prober ? 1 : 0));
  const fresh = voters.filter((v) => v.fresh);
  const base = { id: c.id, region: c.region, name: c.name, voters };

  if (fresh.length === 0) {
    if (previous) return { ...base, up: previous.up, stale: true, cause: previous.cause };
    return { ...base, up: c.initialState !== 'down', stale: true, cause: NO_VERDICT_CAUSE };
  }
  const downVoters = fresh.filter((v) => !v.up);
  const isDown = quorum === 'majority' ? downVoters.length * 2 > fresh.length : downVoters.length >= quorum;
  const side = isDown ? downVoters : fresh.filter((v) => v.up);
  // A quorum number above the fresh voters on the "up" side can leave that side empty.
  const cause = side.length > 0 ? `${commonest(side.map((v) => v.cause))} (${side.length} of ${fresh.length} probers)` : `up (${downVoters.length} of ${fresh.length} probers down, quorum ${quorum})`;
  return { ...base, up: !isDown, stale: false, cause };
}

/** check id → prober → that prober's newest verdict. */
function latestByCheck(verdicts: readonly Verdict[]): Map<CheckId, Map<string, Verdict>> {
  const out = new Map<CheckId, Map<string, Verdict>>();
  for (const v of verdicts) {
    let m = out.get(v.checkId);
    if (!m) out.set(v.checkId, (m = new Map()));
    const had = m.get(v.prober);
    if (!had || v.at > had.at) m.set(v.prober, v);
  }
  return out;
}

/** The most frequent text; on a tie, the first seen. */
function commonest(texts: string[]): string {
  const counts = new Map<string, number>();
  for (const t of texts) counts.set(t, (counts.get(t) ?? 0) + 1);
  let best = texts[0];
  for (const [t, n] of counts) if (n > counts.get(best)!) best = t;
  return best;
}
