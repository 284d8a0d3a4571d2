// The serving side of the reload process: one request at a time, answered by a LoadResponse. The
// process starts at the lowest CPU priority (`nice -n 19`, so all its threads, the collector's too,
// yield to serving) and with the server's Node flags (heap size); one that dies is started again on
// the next request, and its death fails the request in flight. Idle for IDLE_EXIT_MS, it is ended:
// after parsing a million records its heap stays at ~600 MB, which an instance at rest should not
// carry (it keeps no state between loads; starting one costs ~0.1 s of a reload's seconds).

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LoadRequest, LoadResponse } from './protocol.js';

const ENTRY = fileURLToPath(new URL('./load-process.js', import.meta.url));
const NICE = ['/usr/bin/nice', '/bin/nice'].find((p) => existsSync(p));
/** A burst of reloads (SIGHUPs in a row) reuses one process; then it goes. */
export const IDLE_EXIT_MS = 5_000;

export class ConfigProcess {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private pending: { id: number; resolve: (r: LoadResponse) => void; reject: (e: Error) => void } | null = null;
  private idle: NodeJS.Timeout | null = null;

  constructor(private readonly idleExitMs = IDLE_EXIT_MS) {}

  /** The reload process's pid while one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private start(): ChildProcess {
    const args = [...process.execArgv, ENTRY];
    const opts: SpawnOptions = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' };
    const c = NICE ? spawn(NICE, ['-n', '19', process.execPath, ...args], opts) : spawn(process.execPath, args, opts);
    c.on('message', (res: LoadResponse) => {
      const p = this.pending;
      if (p && p.id === res.id) {
        this.pending = null;
        c.unref();
        c.channel?.unref();
        this.idle = setTimeout(() => this.end(c), this.idleExitMs).unref();
        p.resolve(res);
      }
    });
    const fail = (err: Error) => {
      if (this.child === c) this.child = null;
      const p = this.pending;
      this.pending = null;
      p?.reject(err);
    };
    c.on('error', fail);
    c.on('exit', (code, signal) => fail(new Error(`the reload process exited (${signal ?? `code ${code}`})`)));
    return c;
  }

  load(req: Omit<LoadRequest, 'id'>): Promise<LoadResponse> {
    if (this.pending) return Promise.reject(new Error('a load is already running'));
    if (this.idle) { clearTimeout(this.idle); this.idle = null; }
    const c = (this.child ??= this.start());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending = { id, resolve, reject };
      // Idle, the reload process never keeps the server alive; a load in flight does.
      c.ref();
      c.channel?.ref();
      c.send({ ...req, id } satisfies LoadRequest);
    });
  }

  /** Ends an idle process (the next load starts a new one). */
  private end(c: ChildProcess): void {
    this.idle = null;
    if (this.child !== c || this.pending) return;
    this.child = null;
    c.kill('SIGTERM');
  }

  async close(): Promise<void> {
    if (this.idle) { clearTimeout(this.idle); this.idle = null; }
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    // Idle, the process was unref'd: hold the loop until it is gone, or an exit waiting on this
    // close would find an empty event loop and end the server with status 0.
    c.ref();
    c.kill('SIGTERM');
    await exited;
  }
}
