// The anti-flap state machine (gdnsd's up/down thresholds): a run of raw probe results becomes one
// up/down verdict. Down after `fall` failures in a row, up after `rise` passes in a row; a result
// that breaks a run starts the other count afresh, so a target alternating pass/fail never moves
// (with rise and fall of 2 or more). Pure: the caller passes `now`.

import type { CheckConfig, ProbeResult } from './check-config.js';

export interface CheckState {
  up: boolean;
  /** Passes in a row, ending with the latest result (0 when it failed). */
  consecutiveOk: number;
  /** Failures in a row, ending with the latest result (0 when it passed). */
  consecutiveFail: number;
  /** Cause of the latest result; "initial state" before the first. */
  lastCause: string;
  /** Cause of the latest result that agreed with `up` (what explains the verdict). */
  verdictCause: string;
  /** When `up` last changed (or the check started). */
  since: number;
  transitions: number;
  /** Results seen, so callers can tell "no probe yet". */
  probes: number;
}

export const INITIAL_CAUSE = 'initial state';

export function initialState(check: Pick<CheckConfig, 'initialState'>, now: number): CheckState {
  return {
    up: check.initialState !== 'down', consecutiveOk: 0, consecutiveFail: 0,
    lastCause: INITIAL_CAUSE, verdictCause: INITIAL_CAUSE, since: now, transitions: 0, probes: 0,
  };
}

export function next(state: CheckState, result: Pick<ProbeResult, 'ok' | 'cause'>, check: Pick<CheckConfig, 'rise' | 'fall'>, now: number): CheckState {
  const consecutiveOk = result.ok ? state.consecutiveOk + 1 : 0;
  const consecutiveFail = result.ok ? 0 : state.consecutiveFail + 1;
  let up = state.up;
  if (!up && consecutiveOk >= check.rise) up = true;
  else if (up && consecutiveFail >= check.fall) up = false;
  const changed = up !== state.up;
  return {
    up, consecutiveOk, consecutiveFail,
    lastCause: result.cause,
    verdictCause: result.ok === up ? result.cause : state.verdictCause,
    since: changed ? now : state.since,
    transitions: state.transitions + (changed ? 1 : 0),
    probes: state.probes + 1,
  };
}

/**
 * Why the verdict is what it is, for a Verdict's cause: the latest agreeing result, plus the latest
 * result when it disagrees ("HTTP 200 (last probe: HTTP 500, 1 of 3 to fall)").
 */
export function explainVerdict(state: CheckState, check: Pick<CheckConfig, 'rise' | 'fall'>): string {
  const against = state.up ? state.consecutiveFail : state.consecutiveOk;
  if (against === 0) return state.verdictCause;
  const pending = state.up ? `${against} of ${check.fall} to fall` : `${against} of ${check.rise} to rise`;
  return `${state.verdictCause} (last probe: ${state.lastCause}, ${pending})`;
}
