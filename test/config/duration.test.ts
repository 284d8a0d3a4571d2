import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

describe('one duration syntax', () => {
  it.each([
    ['500ms', 500], ['30s', 30_000], ['5m', 300_000], ['1h30m', 5_400_000], ['1d', 86_400_000], ['1w2d', 777_600_000],
    ['1.5s', 1500], ['1.5h', 5_400_000], [' 2s ', 2000], ['1h0m5s', 3_605_000], ['2m30s500ms', 150_500],
  ] as const)('%j is %d ms', (text, ms) => {
    expect(parseDuration(text, null)).toEqual({ ok: true, ms });
  });

  it.each([
    ['soon', 'not a duration'], ['-1s', 'not a duration'], ['', 'not a duration'], ['10 m', 'not a duration'], ['1m1h', 'largest first'],
    ['1s1s', 'largest first'], ['1.5h30m', 'fraction only on a single part'], ['0.5ms', 'whole number of milliseconds'], ['5sec', 'not a duration'],
  ])('%j is refused (%s)', (text, why) => {
    const r = parseDuration(text, null);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain(why);
  });

  it('a bare number needs a unit unless the caller says which it is', () => {
    const r = parseDuration('10', null);
    expect(r).toEqual({ ok: false, message: '"10" has no unit: write 10s, 10m or 10ms' });
    expect(parseDuration('30', 's')).toEqual({ ok: true, ms: 30_000 });
    expect(parseDuration(2500, 'ms')).toEqual({ ok: true, ms: 2500 });
  });

  it.each([[600_000, '10m'], [5_400_000, '1h30m'], [1500, '1.5s'], [200, '200ms'], [90_061_000, '1d1h1m1s']])('formats %d as %s, which reads back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text, null)).toEqual({ ok: true, ms });
  });
});
