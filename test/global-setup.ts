// Runs once before any test file: makes dist/ match src/, so tests that spawn the compiled server
// (test/e2e, the CLI tests) can never exercise stale code, however vitest was started.
//
// It runs `npm run build` (the one definition of the build) unless a stamp written after the last
// build here is newer than every input: src/, tsconfig.json, package.json. A build started by hand
// writes no stamp, so the next test run rebuilds once to be sure.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const STAMP = path.join(ROOT, 'dist/.built-for-tests');

function newestInput(): number {
  let newest = 0;
  const visit = (p: string): void => {
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
    else if (st.mtimeMs > newest) newest = st.mtimeMs;
  };
  for (const p of ['src', 'tsconfig.json', 'package.json']) visit(path.join(ROOT, p));
  return newest;
}

export default function setup(): void {
  const stamp = fs.existsSync(STAMP) ? fs.statSync(STAMP).mtimeMs : -1;
  if (stamp > newestInput()) return;
  const started = Date.now();
  try {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`npm run build failed, so the tests would run stale dist/:\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? e.message}`);
  }
  fs.writeFileSync(STAMP, `built for the tests at ${new Date().toISOString()}\n`);
  console.log(`[global-setup] built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
