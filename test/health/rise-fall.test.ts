import { describe, expect, it } from 'vitest';
import { explainVerdict, initialState, next, type CheckState } from '../../src/health/rise-fall.js';

const PASS = { ok: true, cause: 'HTTP 200' };
const FAIL = { ok: false, cause: 'HTTP 500 (expected 200)' };

/** Runs a string of results ("+" pass, "-" fail) and returns the verdict after each as "U"/"D". */
function run(results: string, check = { rise: 2, fall: 3 }, initial: 'up' | 'down' = 'up'): { trace: string; state: CheckState } {
  let state = initialState({ initialState: initial }, 0);
  let trace = '';
  [...results].forEach((r, i) => {
    state = next(state, r === '+' ? PASS : FAIL, check, i + 1);
    trace += state.up ? 'U' : 'D';
  });
  return { trace, state };
}

describe('rise/fall', () => {
  it.each([
    // results, rise/fall, initial, verdict after each result
    ['+++', { rise: 2, fall: 3 }, 'up', 'UUU'],
    ['--+--', { rise: 2, fall: 3 }, 'up', 'UUUUU'],
    ['---', { rise: 2, fall: 3 }, 'up', 'UUD'],
    ['----+-++', { rise: 2, fall: 3 }, 'up', 'UUDDDDDU'],
    ['+', { rise: 2, fall: 3 }, 'down', 'D'],
    ['++', { rise: 2, fall: 3 }, 'down', 'DU'],
    ['+-+-+-+-+-+-+-+-', { rise: 2, fall: 3 }, 'up', 'UUUUUUUUUUUUUUUU'],
    ['+-+-+-+-+-+-+-+-', { rise: 2, fall: 3 }, 'down', 'DDDDDDDDDDDDDDDD'],
    ['-', { rise: 1, fall: 1 }, 'up', 'D'],
    ['-+-+', { rise: 1, fall: 1 }, 'up', 'DUDU'],
    ['--++-', { rise: 2, fall: 2 }, 'up', 'UDDUU'],
  ])('%s with %o from %s → %s', (results, check, initial, expected) => {
    expect(run(results, check, initial as 'up' | 'down').trace).toBe(expected);
  });

  it('an alternating target never changes state (rise 2, fall 3), whichever way it starts', () => {
    for (const initial of ['up', 'down'] as const) {
      for (const pattern of ['+-', '-+']) {
        const { state } = run(pattern.repeat(50), { rise: 2, fall: 3 }, initial);
        expect(state.transitions).toBe(0);
        expect(state.up).toBe(initial === 'up');
      }
    }
  });

  it('counts runs, transitions and when the state last changed', () => {
    const { state } = run('---++');
    expect(state).toMatchObject({ up: true, consecutiveOk: 2, consecutiveFail: 0, transitions: 2, since: 5, probes: 5, lastCause: 'HTTP 200' });
    expect(run('----').state).toMatchObject({ up: false, consecutiveFail: 4, since: 3, transitions: 1 });
  });

  it('the initial state holds until the first verdict, with its own cause', () => {
    const s = initialState({ initialState: 'down' }, 1000);
    expect(s).toMatchObject({ up: false, since: 1000, lastCause: 'initial state', probes: 0 });
    expect(explainVerdict(s, { rise: 2, fall: 3 })).toBe('initial state');
  });

  it('explains a verdict the latest result disagrees with', () => {
    const check = { rise: 2, fall: 3 };
    expect(explainVerdict(run('++-').state, check)).toBe('HTTP 200 (last probe: HTTP 500 (expected 200), 1 of 3 to fall)');
    expect(explainVerdict(run('---').state, check)).toBe('HTTP 500 (expected 200)');
    expect(explainVerdict(run('---+').state, check)).toBe('HTTP 500 (expected 200) (last probe: HTTP 200, 1 of 2 to rise)');
    expect(explainVerdict(run('+').state, check)).toBe('HTTP 200');
  });
});
