// The Grafana dashboard and Prometheus alert rules shipped in deploy/: the rules load in promtool,
// each alert says what to do, and every metric either of them names is one a running server exports.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { scrape } from '../helpers/fuzz.js';
import { REPO, startServer, type ServerProcess } from '../helpers/server-process.js';

const RULES = path.join(REPO, 'deploy/prometheus/regiondns-alerts.yml');
const DASHBOARD = path.join(REPO, 'deploy/grafana/regiondns-dashboard.json');

interface Rule { alert: string; expr: string; annotations?: Record<string, string> }
const rules = (): Rule[] => (parseYaml(fs.readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** Metric families named in a PromQL text (histogram series folded into their family). */
function metricNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/\bregiondns_[a-z0-9_]+/g)) out.add(m[0].replace(/_(bucket|sum|count)$/, ''));
  return out;
}

function dashboardExprs(): string[] {
  const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  return dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

describe('alert rules', () => {
  it('load in promtool, every one of them', () => {
    const out = execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(out).toContain(`SUCCESS: ${rules().length} rules found`);
  });

  it('each has a summary and a runbook line', () => {
    for (const r of rules()) {
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.runbook?.length ?? 0, r.alert).toBeGreaterThan(40);
    }
  });
});

describe('every metric the dashboard and the rules name is exported', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer(['--zones', 'test/e2e/steer-zones', '--no-geoip']);
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('the dashboard has panels with queries', () => {
    expect(dashboardExprs().length).toBeGreaterThan(20);
  });

  it('names only metrics that /metrics declares', async () => {
    const text = await scrape(server.httpPort);
    const declared = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const wanted = new Set([...metricNames(dashboardExprs().join('\n')), ...metricNames(rules().map((r) => r.expr).join('\n'))]);
    expect(wanted.size).toBeGreaterThan(15);
    const missing = [...wanted].filter((n) => !declared.has(n)).sort();
    expect(missing).toEqual([]);
  });
});
