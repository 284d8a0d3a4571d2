import { describe, expect, it } from 'vitest';
import type { CheckConfig } from '../../src/health/check-config.js';
import type { LocalCheckStatus } from '../../src/health/prober.js';
import { evaluateHealth } from '../../src/health/quorum.js';
import { healthReport, recordHealthMetrics } from '../../src/health/report.js';
import { initialState, next } from '../../src/health/rise-fall.js';
import { registry } from '../../src/obs/metrics.js';
import type { Verdict } from '../../src/health/verdict.js';
import { httpCheck, tcpCheck } from './fixtures.js';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);
const HTTP = httpCheck('https://u:p@lb.eu.example.net/healthz', { region: 'eu-central', name: 'http#0', headers: { Authorization: 'Bearer secret' } });
const TCP = tcpCheck('10.1.0.10', 443, { region: 'eu-central', name: 'db' });
const CHECKS = new Map<string, readonly CheckConfig[]>([['eu-central', [HTTP, TCP]], ['us-east', []]]);

describe('healthReport', () => {
  const verdicts: Verdict[] = [
    { checkId: HTTP.id, prober: 'fra-1', up: false, cause: 'HTTP 500 (expected 200)', at: NOW - 1000, intervalMs: 5000 },
    { checkId: HTTP.id, prober: 'iad-1', up: false, cause: 'HTTP 500 (expected 200)', at: NOW - 2000, intervalMs: 5000 },
    { checkId: HTTP.id, prober: 'bom-1', up: true, cause: 'HTTP 200', at: NOW - 500, intervalMs: 5000 },
  ];
  const view = evaluateHealth({ checks: CHECKS, verdicts, now: NOW, previous: null });

  let state = initialState(HTTP, NOW - 20_000);
  const recent = [];
  for (let i = 0; i < 3; i++) {
    const at = NOW - 15_000 + i * 5000;
    state = next(state, { ok: false, cause: 'HTTP 500 (expected 200)' }, HTTP, at);
    recent.push({ at, ok: false, cause: 'HTTP 500 (expected 200)', durationMs: 3.2 });
  }
  const local: LocalCheckStatus = { check: HTTP, state, recent, skipped: 0 };

  it('shows every region and check with the fleet verdict, the votes and this instance\'s recent results', () => {
    const report = healthReport({ view, checks: CHECKS, local: { proberId: 'fra-1', states: new Map([[HTTP.id, local]]) } });
    expect(report.at).toBe('2026-01-02T03:04:05.000Z');
    expect(report.prober).toBe('fra-1');
    expect(Object.keys(report.regions)).toEqual(['eu-central', 'us-east']);
    expect(report.regions['us-east']).toEqual({ operational: true, reason: 'up', stale: false, checks: {} });

    const eu = report.regions['eu-central'];
    expect(eu).toMatchObject({ operational: false, reason: 'down: eu-central/http#0 HTTP 500 (expected 200) (2 of 3 probers)', stale: true });
    expect(Object.keys(eu.checks)).toEqual(['http#0', 'db']);
    expect(eu.checks['http#0']).toMatchObject({
      id: 'eu-central/http#0', type: 'http', target: 'GET https://lb.eu.example.net/healthz', up: false, stale: false,
      intervalMs: 5000, timeoutMs: 2000, rise: 2, fall: 3,
      voters: [
        { prober: 'bom-1', up: true, ageMs: 500, fresh: true },
        { prober: 'fra-1', up: false, ageMs: 1000, fresh: true },
        { prober: 'iad-1', up: false, ageMs: 2000, fresh: true },
      ],
      local: {
        up: false, since: new Date(NOW - 5000).toISOString(), consecutiveFail: 3, transitions: 1,
        recent: [
          { at: new Date(NOW - 5000).toISOString(), ok: false, cause: 'HTTP 500 (expected 200)', durationMs: 3.2 },
          expect.anything(), expect.anything(),
        ],
      },
    });
    expect(eu.checks.db).toMatchObject({ target: 'tcp 10.1.0.10:443', up: true, stale: true, cause: 'initial state, no verdict yet', voters: [], local: null });
    // Headers and URL credentials never leave the process.
    const json = JSON.stringify(report);
    expect(json).not.toContain('secret');
    expect(json).not.toContain('u:p@');
  });

  it('works for an instance that does not probe', () => {
    const report = healthReport({ view, checks: CHECKS, local: null });
    expect(report.prober).toBeNull();
    expect(report.regions['eu-central'].checks['http#0'].local).toBeNull();
  });

  it('sets the fleet gauges; regions and checks gone from the config lose their series', async () => {
    recordHealthMetrics(view);
    let text = await registry.metrics();
    expect(text).toContain('regiondns_region_operational{region="eu-central"} 0');
    expect(text).toContain('regiondns_region_operational{region="us-east"} 1');
    expect(text).toContain('regiondns_check_stale{region="eu-central",check="http#0"} 0');
    expect(text).toContain('regiondns_check_stale{region="eu-central",check="db"} 1');
    recordHealthMetrics(evaluateHealth({ checks: new Map([['us-east', []]]), verdicts: [], now: NOW, previous: null }));
    text = await registry.metrics();
    expect(text).not.toContain('regiondns_region_operational{region="eu-central"}');
    expect(text).not.toContain('regiondns_check_stale{region="eu-central"');
  });
});
