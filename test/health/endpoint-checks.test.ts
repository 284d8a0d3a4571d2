// Endpoint checks: identity (one check however often written), quorum over them, and the bounded
// per-endpoint metrics.
import { describe, expect, it } from 'vitest';
import { endpointCheck, EndpointCheckSet, poolEndpoints } from '../../src/health/endpoint-checks.js';
import { evaluateHealth } from '../../src/health/quorum.js';
import { recordEndpointMetrics } from '../../src/health/report.js';
import { registry } from '../../src/obs/metrics.js';
import type { Verdict } from '../../src/health/verdict.js';
import { httpCheck, tcpCheck } from './fixtures.js';

describe('endpoint check identity', () => {
  it('the id is the target and a hash of every probe parameter: region, name and place written do not count', () => {
    const a = endpointCheck(tcpCheck('10.0.0.1', 443, { region: 'eu-central', name: 'lb', file: 'a.steer.yaml', line: 3 }));
    const b = endpointCheck(tcpCheck('10.0.0.1', 443, { region: 'us-east', name: 'tcp#0', file: 'b.steer.yaml', line: 9 }));
    expect(a.id).toMatch(/^tcp 10\.0\.0\.1:443 \[[0-9a-f]{8}\]$/);
    expect(b.id).toBe(a.id);
    expect(a).toMatchObject({ region: '', name: a.id, endpoint: true });
    expect(endpointCheck(tcpCheck('10.0.0.1', 443, { fall: 5 })).id).not.toBe(a.id);
    expect(endpointCheck(httpCheck('http://10.0.0.1/healthz', { headers: { Host: 'x' } })).id)
      .not.toBe(endpointCheck(httpCheck('http://10.0.0.1/healthz')).id);
  });

  it('a set interns: the first copy of an identity is shared', () => {
    const set = new EndpointCheckSet();
    const first = set.intern(tcpCheck('10.0.0.1', 443, { line: 1 }));
    expect(set.intern(tcpCheck('10.0.0.1', 443, { line: 2, region: 'us-east' }))).toBe(first);
    expect(set.size).toBe(1);
  });
});

const check = endpointCheck(tcpCheck('10.0.0.1', 443, { intervalMs: 1000 }));
const verdict = (prober: string, up: boolean, at = 1000): Verdict => ({ checkId: check.id, prober, up, cause: up ? 'connected' : 'connection refused', at, intervalMs: 1000 });

describe('quorum over endpoint checks', () => {
  it('judged like region checks (majority of fresh verdicts), into the checks only', () => {
    const view = evaluateHealth({ checks: new Map(), endpointChecks: [check], verdicts: [verdict('p1', false), verdict('p2', false), verdict('p3', true)], now: 1500, previous: null });
    expect(view.regions.size).toBe(0);
    expect(view.checks.get(check.id)).toMatchObject({ up: false, stale: false, cause: 'connection refused (2 of 3 probers)' });
    const one = evaluateHealth({ checks: new Map(), endpointChecks: [check], verdicts: [verdict('p1', false), verdict('p2', true), verdict('p3', true)], now: 1500, previous: view });
    expect(one.checks.get(check.id)!.up).toBe(true);
  });

  it('stale verdicts do not vote: the last state holds', () => {
    const down = evaluateHealth({ checks: new Map(), endpointChecks: [check], verdicts: [verdict('p1', false)], now: 1500, previous: null });
    const later = evaluateHealth({ checks: new Map(), endpointChecks: [check], verdicts: [verdict('p1', true)], now: 1000 + 3001, previous: down });
    expect(later.checks.get(check.id)).toMatchObject({ up: false, stale: true });
  });
});

describe('per-endpoint metrics', () => {
  const pool = (...texts: string[]) => new Map([['eu-central', new Map(texts.map((t) => [t, [check.id]]))]]);
  const steering = {
    pools: new Map([['a.', pool('198.51.100.1', '198.51.100.2')], ['b.', pool('198.51.100.1')]]),
    endpointChecks: new Map([[check.id, check]]),
  };
  const view = (up: boolean) => evaluateHealth({ checks: new Map(), endpointChecks: [check], verdicts: [verdict('p1', up, 0)], now: 1, previous: null });
  const text = () => registry.metrics();

  it('one series per (region, endpoint) however many hostnames list it, and transitions', async () => {
    expect(poolEndpoints(steering).map((e) => [e.key, e.hostnames])).toEqual([['eu-central 198.51.100.1', ['a.', 'b.']], ['eu-central 198.51.100.2', ['a.']]]);
    recordEndpointMetrics(view(true), steering, 10);
    recordEndpointMetrics(view(false), steering, 10);
    const m = await text();
    expect(m).toMatch(/^regiondns_endpoint_up\{region="eu-central",endpoint="198\.51\.100\.1"\} 0$/m);
    expect(m).toMatch(/^regiondns_endpoint_transitions_total\{region="eu-central",endpoint="198\.51\.100\.2",to="down"\} 1$/m);
    expect(m).toMatch(/^regiondns_endpoints\{region="eu-central",state="down"\} 2$/m);
  });

  it('above the limit: no per-endpoint gauge, transitions under endpoint="*", counts remain', async () => {
    recordEndpointMetrics(view(false), steering, 1);
    recordEndpointMetrics(view(true), steering, 1);
    const m = await text();
    expect(m).not.toMatch(/^regiondns_endpoint_up\{/m);
    expect(m).toMatch(/^regiondns_endpoint_transitions_total\{region="eu-central",endpoint="\*",to="up"\} 2$/m);
    expect(m).toMatch(/^regiondns_endpoints\{region="eu-central",state="up"\} 2$/m);
  });
});
