// A private redis-server per test file: its own loopback port and temp dir, AOF on so data survives
// down()/up() and restart(). Never touches 6379 or anyone else's Redis.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export interface TestRedis {
  port: number;
  url: string;
  /** Final stop: the process ends and its data dir is removed. */
  stop(): Promise<void>;
  /** Stops the process, keeping its data (AOF) for up(). */
  down(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  up(): Promise<void>;
  /** down() then up(). */
  restart(): Promise<void>;
  /** SIGSTOP: the port stays open but nothing answers (a hung server, a black-holed network). */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** Its data directory (dump.rdb lands here after SAVE). */
  dir: string;
  /**
   * Restarts it on the same port with its data replaced: nothing (a restart that lost everything),
   * or an RDB file (a restore from an older snapshot; loaded, then kept in a new AOF).
   */
  restartWith(data: { rdb: string } | 'empty'): Promise<void>;
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
// Whatever happens to the test, no redis-server (or its data dir) outlives the test process.
process.once('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'regiondns-redis-'));
  dirs.add(dir);
  let port = 0;
  let proc: ChildProcess | null = null;
  let frozen = false;
  let output = '';

  const spawnOnce = async (p: number, appendonly = 'yes'): Promise<void> => {
    output = '';
    const child = spawn(
      'redis-server',
      ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', appendonly, '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    live.add(child);
    child.once('exit', () => live.delete(child));
    const keep = (c: Buffer) => {
      output = (output + c.toString()).slice(-4_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`))));
    exited.catch(() => undefined);
    proc = child;
    await Promise.race([waitForPing(p, 10_000), exited]);
  };

  const kill = async (): Promise<void> => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    if (frozen) p.kill('SIGCONT'); // a stopped process would not act on SIGTERM
    frozen = false;
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  };

  // The port may be taken between freePort() and the spawn: try a few.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await spawnOnce(port);
      break;
    } catch (err) {
      await kill();
      if (attempt >= 4) {
        rmSync(dir, { recursive: true, force: true });
        dirs.delete(dir);
        throw err;
      }
    }
  }

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
    down: kill,
    async up() {
      if (proc) return;
      await spawnOnce(port);
    },
    async restart() {
      await kill();
      await spawnOnce(port);
    },
    freeze() {
      if (proc && !frozen) {
        proc.kill('SIGSTOP');
        frozen = true;
      }
    },
    thaw() {
      if (proc && frozen) {
        proc.kill('SIGCONT');
        frozen = false;
      }
    },
    dir,
    async restartWith(data) {
      await kill();
      for (const f of readdirSync(dir)) rmSync(path.join(dir, f), { recursive: true, force: true });
      if (data === 'empty') return spawnOnce(port);
      // Redis with AOF on and no AOF starts empty: load the RDB without AOF, then turn AOF on (as a restore does).
      copyFileSync(data.rdb, path.join(dir, 'dump.rdb'));
      await spawnOnce(port, 'no');
      await command(port, 'CONFIG SET appendonly yes');
    },
  };
}

/** Sends one inline command and resolves with the first reply line. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    s.setTimeout(5_000, () => { s.destroy(); reject(new Error(`${line}: no reply`)); });
    s.once('error', reject);
    s.once('connect', () => s.write(`${line}\r\n`));
    s.on('data', (c) => {
      buf += c.toString();
      if (buf.includes('\r\n')) { s.destroy(); resolve(buf.split('\r\n')[0]); }
    });
  });
}

/** Resolves once the server answers PING (and has loaded its data). */
async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await ping(port)) return;
    if (Date.now() > until) throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    // "-LOADING …" while the AOF is read: not ready yet.
    s.on('data', (c) => {
      buf += c.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}
