// Health checks in regions.yaml, loaded through loadPolicy: values, defaults, ids, and every
// error with its file:line and REGIONDNS_ERR_CHECK_* code.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatConfigError } from '../../src/config/errors.js';
import { checkTarget, parseHostPort, sameCheck, type CheckConfig } from '../../src/health/check-config.js';
import { loadPolicy } from '../../src/health/load-plan.js';

const root = mkdtempSync(join(tmpdir(), 'regiondns-checks-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function load(regionsYaml: string) {
  const dir = join(root, String(n++));
  mkdirSync(dir);
  writeFileSync(join(dir, 'regions.yaml'), regionsYaml);
  const r = loadPolicy(dir, [], () => false);
  return { config: r.steering, health: r.health, errors: r.errors.map((e) => ({ ...e, file: e.file.slice(dir.length + 1) })) };
}

/** regions.yaml with one region "eu-central" whose checks list is `lines` (indented under it). */
function withChecks(...lines: string[]): string {
  return ['regions:', '  eu-central:', '    location: { lat: 50.11, lon: 8.68 }', '    checks:', ...lines.map((l) => `      ${l}`), ''].join('\n');
}

const checksOf = (r: ReturnType<typeof load>, region = 'eu-central'): readonly CheckConfig[] => r.health.regions.get(region) ?? [];

describe('checks in regions.yaml: values', () => {
  it('loads the documented example', () => {
    const r = load(withChecks(
      '- { type: http, url: "https://lb.eu.example.net/healthz", expect: 200, body: "ok", headers: { Host: api.example.com }, tls-verify: true, interval: 5s, timeout: 2s, rise: 2, fall: 3 }',
      '- { type: tcp, address: "10.1.0.10:443", interval: 5s, timeout: 1s, rise: 2, fall: 3 }',
    ));
    expect(r.errors).toEqual([]);
    expect(checksOf(r)).toEqual([
      {
        id: 'eu-central/http#0', region: 'eu-central', name: 'http#0', type: 'http',
        url: 'https://lb.eu.example.net/healthz', method: 'GET', expect: [200], body: 'ok', headers: { Host: 'api.example.com' }, tlsVerify: true,
        intervalMs: 5000, timeoutMs: 2000, rise: 2, fall: 3, jitter: 0.1, initialState: 'up', file: expect.stringMatching(/regions\.yaml$/), line: 5,
      },
      {
        id: 'eu-central/tcp#1', region: 'eu-central', name: 'tcp#1', type: 'tcp', host: '10.1.0.10', port: 443,
        intervalMs: 5000, timeoutMs: 1000, rise: 2, fall: 3, jitter: 0.1, initialState: 'up', file: expect.stringMatching(/regions\.yaml$/), line: 6,
      },
    ]);
  });

  it('fills in defaults', () => {
    const r = load(withChecks('- { type: tcp, address: "[2001:db8::10]:443" }', '- { type: http, url: "http://10.0.0.1/" }'));
    expect(r.errors).toEqual([]);
    const [tcp, http] = checksOf(r);
    expect(tcp).toMatchObject({ host: '2001:db8::10', port: 443, intervalMs: 5000, timeoutMs: 2000, rise: 2, fall: 3, initialState: 'up', jitter: 0.1 });
    expect(http).toMatchObject({ method: 'GET', expect: [200], body: null, headers: {}, tlsVerify: true });
  });

  it('takes names, status lists, methods, durations, initial state and tls-verify', () => {
    const r = load(withChecks(
      '- name: warm-caches',
      '  type: http',
      '  url: https://10.1.0.10:8443/ready',
      '  method: head',
      '  expect: [200, 204]',
      '  tls-verify: false',
      '  initial-state: down',
      '  interval: 1m',
      '  timeout: 1.5s',
      '  rise: 1',
      '  fall: 1',
      '- { type: tcp, address: "db.eu.example.net:5432", interval: 500ms }',
    ));
    expect(r.errors).toEqual([]);
    expect(checksOf(r)[0]).toMatchObject({
      id: 'eu-central/warm-caches', name: 'warm-caches', method: 'HEAD', expect: [200, 204], tlsVerify: false, initialState: 'down',
      intervalMs: 60_000, timeoutMs: 1500, rise: 1, fall: 1,
    });
    // With a short interval and no timeout written, the timeout shrinks to half the interval.
    expect(checksOf(r)[1]).toMatchObject({ id: 'eu-central/tcp#1', host: 'db.eu.example.net', port: 5432, intervalMs: 500, timeoutMs: 250 });
  });

  it('ids and configs are stable across reloads; moving a check in the file does not change it', () => {
    const a = checksOf(load(withChecks('- { type: tcp, address: "10.1.0.10:443" }')));
    const b = checksOf(load(withChecks('- { type: tcp, address: "10.1.0.10:443" }')));
    expect(a.map((c) => ({ ...c, file: '' }))).toEqual(b.map((c) => ({ ...c, file: '' })));
    expect(a[0].id).toBe('eu-central/tcp#0');
    const moved = checksOf(load(['# a comment', '', withChecks('- type: tcp', '  address: "10.1.0.10:443"')].join('\n')));
    expect(moved[0].line).not.toBe(a[0].line);
    expect(sameCheck(a[0], moved[0])).toBe(true);
    const changed = checksOf(load(withChecks('- { type: tcp, address: "10.1.0.10:443", rise: 3 }')));
    expect(sameCheck(a[0], changed[0])).toBe(false);
  });

  it('a region without checks has an empty list', () => {
    const r = load('regions:\n  us-east: { location: { lat: 1, lon: 2 } }\n');
    expect(r.errors).toEqual([]);
    expect(checksOf(r, 'us-east')).toEqual([]);
  });

  it('targets in reports never show credentials or headers', () => {
    const [c] = checksOf(load(withChecks('- { type: http, url: "https://user:secret@lb.example.net/h", headers: { Authorization: "Bearer x" } }')));
    expect(checkTarget(c)).toBe('GET https://lb.example.net/h');
  });
});

describe('checks in regions.yaml: every error names file:line and a stable code', () => {
  type Case = [name: string, checks: string[], code: string, line: number, message?: RegExp];
  const cases: Case[] = [
    ['a check that is not a mapping', ['- https://x/health'], 'TYPE', 5, /"regions.eu-central.checks\[0\]" must be a mapping/],
    ['no type', ['- { url: "https://x/" }'], 'MISSING_KEY', 5, /"regions.eu-central.checks\[0\]" needs a "type" key/],
    ['unknown type', ['- { type: icmp, address: "10.0.0.1:1" }'], 'BAD_VALUE', 5, /check type "icmp" must be one of "http", "tcp"/],
    ['type is a number', ['- { type: 7, address: "10.0.0.1:1" }'], 'TYPE', 5, /"regions.eu-central.checks\[0\].type" must be text/],
    ['unknown key (the old free-form shape)', ['- { type: http, url: "https://x/", every: 5s }'], 'UNKNOWN_KEY', 5, /unknown key "every" in "regions.eu-central.checks\[0\]"; allowed keys: type, name, interval/],
    ['a tcp key on an http check', ['- type: http', '  url: https://x/', '  address: "10.0.0.1:1"'], 'UNKNOWN_KEY', 7],
    ['http without url', ['- { type: http }'], 'MISSING_KEY', 5, /needs a "url" key/],
    ['tcp without address', ['- { type: tcp }'], 'MISSING_KEY', 5],
    ['duration without unit', ['- type: tcp', '  address: "10.0.0.1:1"', '  interval: 5'], 'DURATION', 7, /check eu-central\/tcp#0: interval "5" has no unit: write 5s, 5m or 5ms/],
    ['duration with a bad unit', ['- type: tcp', '  address: "10.0.0.1:1"', '  timeout: 2h'], 'DURATION', 7],
    ['interval too short', ['- { type: tcp, address: "10.0.0.1:1", interval: 10ms }'], 'DURATION', 5, /from 100 ms/],
    ['timeout not shorter than interval', ['- type: http', '  url: https://x/', '  interval: 2s', '  timeout: 2s'], 'TIMEOUT', 8, /timeout 2000 ms must be shorter than interval 2000 ms/],
    ['rise 0', ['- type: tcp', '  address: "10.0.0.1:1"', '  rise: 0'], 'THRESHOLD', 7, /rise 0 must be a whole number of probes from 1 to 100/],
    ['fall 1.5', ['- type: tcp', '  address: "10.0.0.1:1"', '  fall: 1.5'], 'THRESHOLD', 7],
    ['rise is text', ['- type: tcp', '  address: "10.0.0.1:1"', '  rise: two'], 'TYPE', 7, /must be a number, not the text "two"/],
    ['status out of range', ['- type: http', '  url: https://x/', '  expect: [200, 700]'], 'STATUS', 7, /has 700/],
    ['status as text', ['- type: http', '  url: https://x/', '  expect: "200"'], 'STATUS', 7],
    ['empty status list', ['- type: http', '  url: https://x/', '  expect: []'], 'STATUS', 7, /empty list/],
    ['ftp url', ['- { type: http, url: "ftp://x/health" }'], 'URL', 5, /must be an absolute http:\/\/ or https:\/\/ URL/],
    ['relative url', ['- type: http', '  url: /healthz'], 'URL', 6],
    ['address without port', ['- type: tcp', '  address: 10.1.0.10'], 'ADDRESS', 6, /must be host:port/],
    ['port out of range', ['- { type: tcp, address: "10.1.0.10:70000" }'], 'ADDRESS', 5],
    ['IPv6 address without brackets', ['- { type: tcp, address: "2001:db8::1:443" }'], 'ADDRESS', 5],
    ['header name with a space', ['- type: http', '  url: https://x/', '  headers:', '    X-Ok: 1', '    "Bad Header": x'], 'HEADER', 9],
    ['header value with a line break', ['- type: http', '  url: https://x/', '  headers: { X-A: "a\\r\\nX-B: b" }'], 'HEADER', 7, /line breaks/],
    ['headers as a list', ['- type: http', '  url: https://x/', '  headers: [Host]'], 'TYPE', 7, /must be a mapping/],
    ['bad method', ['- { type: http, url: "https://x/", method: "GE T" }'], 'METHOD', 5],
    ['tls-verify as text', ['- type: http', '  url: https://x/', '  tls-verify: "no"'], 'TYPE', 7, /must be a boolean/],
    ['empty body', ['- type: http', '  url: https://x/', '  body: ""'], 'BAD_VALUE', 7, /matches anything/],
    ['initial state', ['- type: tcp', '  address: "10.0.0.1:1"', '  initial-state: unknown'], 'BAD_VALUE', 7, /must be one of "up", "down"/],
    ['name with a slash', ['- type: tcp', '  name: eu/db', '  address: "10.0.0.1:1"'], 'BAD_NAME', 6],
    ['name like an automatic id', ['- { type: tcp, name: "tcp#1", address: "10.0.0.1:1" }'], 'BAD_NAME', 5],
    ['two checks, one name', ['- { type: tcp, name: db, address: "10.0.0.1:1" }', '- { type: tcp, name: db, address: "10.0.0.2:1" }'], 'DUPLICATE', 6, /check id eu-central\/db is used twice \(first at line 5\)/],
  ];

  it.each(cases)('%s', (_name, lines, code, line, message) => {
    const { errors } = load(withChecks(...lines));
    const hit = errors.find((e) => e.code === `REGIONDNS_ERR_CHECK_${code}`);
    expect(hit, JSON.stringify(errors, null, 2)).toBeDefined();
    expect({ file: hit!.file, line: hit!.line }).toEqual({ file: 'regions.yaml', line });
    if (message) expect(hit!.message).toMatch(message);
  });

  it('reports every bad check, and keeps the good ones', () => {
    const { errors, health } = load(withChecks(
      '- { type: tcp, address: "10.0.0.1:1", rise: 0 }',
      '- { type: tcp, address: "10.0.0.2:1" }',
      '- { type: http, url: "gopher://x/", expect: 999 }',
    ));
    expect(errors.map((e) => [e.code, e.line])).toEqual([
      ['REGIONDNS_ERR_CHECK_THRESHOLD', 5],
      ['REGIONDNS_ERR_CHECK_URL', 7],
      ['REGIONDNS_ERR_CHECK_STATUS', 7],
    ]);
    expect(health.regions.get('eu-central')!.map((c) => c.id)).toEqual(['eu-central/tcp#1']);
    expect(formatConfigError(errors[0])).toMatch(/^regions\.yaml:5: check eu-central\/tcp#0: rise 0 .* \[REGIONDNS_ERR_CHECK_THRESHOLD\]$/);
  });

  it('checks that are not a list stay a steering TYPE error', () => {
    const { errors } = load('regions:\n  us-east:\n    location: { lat: 1, lon: 1 }\n    checks: { http: x }\n');
    expect(errors).toMatchObject([{ code: 'REGIONDNS_ERR_STEER_TYPE', line: 4 }]);
  });
});

describe('parsers', () => {
  it.each([
    ['10.1.0.10:443', { host: '10.1.0.10', port: 443 }], ['[::1]:80', { host: '::1', port: 80 }], ['lb.example.net:8080', { host: 'lb.example.net', port: 8080 }],
    ['10.1.0.10', null], ['::1:80', null], ['x:0', null], ['x:65536', null], [':80', null], ['a b:80', null],
  ])('host:port %j → %j', (text, hp) => expect(parseHostPort(text)).toEqual(hp));
});
