// Starts `regiondns serve` as a real child process on free loopback ports and reads its JSON logs.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(REPO, 'bin/regiondns.js');

export interface ServerProcess {
  port: number;
  httpPort: number;
  proc: ChildProcess;
  logs: Record<string, unknown>[];
  stderr: string[];
  /** Resolves with the first log line (new since the call) that matches. */
  waitForLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<number | null>;
}

export async function startServer(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<ServerProcess> {
  const port = await freePort();
  const httpPort = await freePort();
  // Each server gets its own state file unless the test chooses one (or Redis).
  const stateArgs = args.includes('--state-file') || args.includes('--redis')
    ? []
    : ['--state-file', path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-state-')), 'state.json')];
  // One process unless the test asks for workers: most tests are about behaviour, not cores.
  if (!args.includes('--workers')) stateArgs.push('--workers', '1');
  const proc = spawn(process.execPath, [BIN, 'serve', '--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`, ...stateArgs, ...args], {
    cwd: REPO,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void; from: number }[] = [];
  let pending = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        const obj = JSON.parse(line) as Record<string, unknown>;
        logs.push(obj);
        for (const w of [...waiters]) if (w.pred(obj)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(obj); }
      } catch { /* not a log line */ }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => stderr.push(c));

  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`log line not seen; stderr: ${stderr.join('')}; logs: ${JSON.stringify(logs.slice(-5))}`)), timeoutMs);
      waiters.push({ pred, from: logs.length, resolve: (l) => { clearTimeout(timer); resolve(l); } });
    });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const started = waitForLog((l) => l.msg === 'listening', 15_000);
  const early = exited.then((code) => { throw new Error(`server exited with ${code}: ${stderr.join('')}`); });
  try {
    await Promise.race([started, early]);
  } finally {
    early.catch(() => undefined); // a later exit is the test's business, not an unhandled rejection
  }
  return {
    port,
    httpPort,
    proc,
    logs,
    stderr,
    waitForLog,
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** Starts several servers at once; if one fails, stops those that started and throws its error. */
export async function startServers(argsOf: readonly string[][]): Promise<ServerProcess[]> {
  const started = await Promise.allSettled(argsOf.map((args) => startServer([...args])));
  const ok = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.allSettled(ok.map((s) => s.stop()));
    throw failed.reason;
  }
  return ok;
}
