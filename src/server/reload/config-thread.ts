// The serving side of the reload thread: one request at a time, answered by a LoadResponse. A
// thread that dies is started again on the next request; its death fails the request in flight.

import { Worker } from 'node:worker_threads';
import type { LoadRequest, LoadResponse } from './protocol.js';

export class ConfigThread {
  private worker: Worker | null = null;
  private nextId = 1;
  private pending: { id: number; resolve: (r: LoadResponse) => void; reject: (e: Error) => void } | null = null;

  private start(): Worker {
    const w = new Worker(new URL('./load-thread.js', import.meta.url));
    // An idle reload thread never keeps the process alive: serving does (a load in flight does).
    w.unref();
    w.on('message', (res: LoadResponse) => {
      const p = this.pending;
      if (p && p.id === res.id) { this.pending = null; w.unref(); p.resolve(res); }
    });
    const fail = (err: Error) => {
      if (this.worker === w) this.worker = null;
      const p = this.pending;
      this.pending = null;
      p?.reject(err);
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the reload thread exited (code ${code})`)));
    return w;
  }

  load(req: Omit<LoadRequest, 'id'>): Promise<LoadResponse> {
    if (this.pending) return Promise.reject(new Error('a load is already running'));
    this.worker ??= this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending = { id, resolve, reject };
      this.worker!.ref();
      this.worker!.postMessage({ ...req, id } satisfies LoadRequest);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
