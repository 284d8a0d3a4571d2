// npm run bench:faults — runs the fault suite (test/faults/, real redis-server, three real instances
// from dist/) and prints, per scenario, what became of the changes the API acknowledged and how long
// the fleet took to answer from one state again. Build first (npm run build); the suite fails if any
// acknowledged change is lost or an instance takes more than 5 s.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'regiondns-bench-faults-'));
const file = path.join(dir, 'report.jsonl');
const run = spawnSync(process.execPath, [path.join(repo, 'node_modules/vitest/vitest.mjs'), 'run', 'test/faults'], {
  cwd: repo,
  env: { ...process.env, REGIONDNS_FAULT_REPORT: file },
  stdio: ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
});
let rows = [];
try {
  rows = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
} catch {
  /* no scenario reported */
}
rmSync(dir, { recursive: true, force: true });

const table = [['scenario', 'acknowledged', 'kept', 'lost', 'converged', 'in'], ...rows.map((r) => [
  r.scenario, String(r.acknowledged), String(r.kept), String(r.acknowledged - r.kept),
  r.converged ? 'yes' : 'no', r.convergedMs === null ? '-' : `${(r.convergedMs / 1000).toFixed(2)} s`,
])];
const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
const line = (row) => `| ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(line(table[0]));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of table.slice(1)) console.log(line(row));
const lost = rows.reduce((n, r) => n + r.acknowledged - r.kept, 0);
console.log(`\n${rows.length} scenarios, ${lost} acknowledged changes lost; suite ${run.status === 0 ? 'passed' : 'FAILED'}`);
if (run.status !== 0) {
  console.log(run.stdout.split('\n').filter((l) => /FAIL|Error|expected|×/.test(l)).slice(0, 30).join('\n'));
  process.exit(1);
}
