// Starts `regiondns serve` as a real child process on free loopback ports and reads its JSON logs.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(REPO, 'bin/regiondns.js');
/** The UDP engine every test server uses unless the test picks one; unset: the server's default (auto). */
export const TEST_UDP_ENGINE = process.env.REGIONDNS_TEST_UDP_ENGINE || undefined;

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

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Working directory (default: the repository). */
  cwd?: string;
  /** Leave the state directory to the server's default (./.regiondns in cwd). */
  defaultStateDir?: boolean;
  /** Run under `ulimit -n N` (through sh), to meet EMFILE for real. */
  ulimitNofile?: number;
  /** How long to wait for the 'listening' line (default 15 s; a million-record zone takes longer). */
  startTimeoutMs?: number;
}

export async function startServer(args: string[], opts: StartOptions = {}): Promise<ServerProcess> {
  const port = await freePort();
  const httpPort = await freePort();
  // Each server gets its own state directory unless the test chooses one (or Redis).
  const stateArgs = args.includes('--state-dir') || args.includes('--redis') || opts.defaultStateDir
    ? []
    : ['--state-dir', fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-state-'))];
  // One process unless the test asks for workers: most tests are about behaviour, not cores.
  if (!args.includes('--workers')) stateArgs.push('--workers', '1');
  // CI runs the DNS tests once per UDP engine (.ci/run): REGIONDNS_TEST_UDP_ENGINE=batch|dgram.
  if (!args.includes('--udp-engine') && TEST_UDP_ENGINE) stateArgs.push('--udp-engine', TEST_UDP_ENGINE);
  const argv = [BIN, 'serve', '--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`, ...stateArgs, ...args];
  const [cmd, cmdArgs] = opts.ulimitNofile === undefined
    ? [process.execPath, argv]
    : ['sh', ['-c', `ulimit -n ${opts.ulimitNofile} && exec "$0" "$@"`, process.execPath, ...argv]];
  const proc = spawn(cmd, cmdArgs, {
    cwd: opts.cwd ?? REPO,
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
  const started = waitForLog((l) => l.msg === 'listening', opts.startTimeoutMs ?? 15_000);
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
