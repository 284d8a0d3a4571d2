// Multi-core servers in tests: which worker answered (NSID, RFC 5001), "every worker answers X", and
// failing a worker thread until its replacement serves.
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildQuery, ecsOption, parse } from './dns-client.js';
import type { ServerProcess } from './server-process.js';

/** The A answer and the NSID of one reply, from a fresh socket (so the kernel may pick any worker). */
export async function askWithNsid(port: number, name: string, subnet: string): Promise<{ nsid: string; answer: string[] }> {
  const nsidOpt = Buffer.from([0, 3, 0, 0]);
  const msg = buildQuery(name, 'A', { edns: { options: [ecsOption(subnet), nsidOpt] } });
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => { s.close(); reject(new Error('timeout')); }, 1000);
    s.once('message', (m) => { clearTimeout(t); s.close(); resolve(m); });
    s.send(msg, port, '127.0.0.1');
  });
  const at = reply.lastIndexOf(Buffer.from([0, 3]));
  const nsid = at > 0 ? reply.subarray(at + 4, at + 4 + reply.readUInt16BE(at + 2)).toString() : '';
  return { nsid, answer: parse(reply).answers.map((a: { address: string }) => a.address) };
}

/** Asks until `workers` workers have answered `expected` (bounded: 2,000 queries or 10 s), and returns the workers seen. */
export async function untilEveryWorker(port: number, workers: number, name: string, subnet: string, expected: string[]): Promise<Set<string>> {
  const good = new Set<string>();
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < 2000 && good.size < workers && Date.now() < deadline; i++) {
    if (i > 0 && i % 20 === 0) await new Promise((r) => setTimeout(r, 25));
    const r = await askWithNsid(port, name, subnet);
    if (JSON.stringify(r.answer) === JSON.stringify(expected)) good.add(r.nsid);
    else good.delete(r.nsid);
  }
  return good;
}

/** Environment for a server whose worker threads can be made to fail (worker-fault.mjs), and its fault folder. */
export function workerFaultEnv(): NodeJS.ProcessEnv & { REGIONDNS_TEST_FAULT_DIR: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-fault-'));
  const injector = path.join(import.meta.dirname, 'worker-fault.mjs');
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${injector}`.trim(), REGIONDNS_TEST_FAULT_DIR: dir };
}

/**
 * Makes worker `index` throw an uncaught error, or loop forever (`stall`), the server having been
 * started with workerFaultEnv(), and waits until its replacement serves; returns the failed thread's id.
 */
export async function killWorker(server: ServerProcess, faultDir: string, index: number, fault: 'crash' | 'stall' = 'crash'): Promise<number> {
  const serving = server.logs.filter((l) => l.msg === 'worker serving' && l.worker === index);
  const thread = Number(serving[serving.length - 1].thread);
  const replaced = server.waitForLog((l) => l.msg === 'worker serving' && l.worker === index && l.thread !== thread, 15_000);
  fs.writeFileSync(path.join(faultDir, `${fault}-${index}`), '');
  await replaced;
  return thread;
}
