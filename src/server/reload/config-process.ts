// The serving side of the reload process: one request at a time, answered by a LoadResponse. The
// process starts at the lowest CPU priority (`nice -n 19`, so all its threads, the collector's too,
// yield to serving) and with the server's Node flags (heap size); one that dies is started again on
// the next request, and its death fails the request in flight.

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LoadRequest, LoadResponse } from './protocol.js';

const ENTRY = fileURLToPath(new URL('./load-process.js', import.meta.url));
const NICE = ['/usr/bin/nice', '/bin/nice'].find((p) => existsSync(p));

export class ConfigProcess {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private pending: { id: number; resolve: (r: LoadResponse) => void; reject: (e: Error) => void } | null = null;

  private start(): ChildProcess {
    const args = [...process.execArgv, ENTRY];
    const opts: SpawnOptions = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' };
    const c = NICE ? spawn(NICE, ['-n', '19', process.execPath, ...args], opts) : spawn(process.execPath, args, opts);
    c.on('message', (res: LoadResponse) => {
      const p = this.pending;
      if (p && p.id === res.id) { this.pending = null; c.unref(); c.channel?.unref(); p.resolve(res); }
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

  async close(): Promise<void> {
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
