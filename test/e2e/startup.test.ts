// Start-up fails loudly: a listener that cannot bind (DNS over UDP or TCP, or HTTP), in a single
// process or in the workers of a multi-core one, ends the process with a non-zero exit within 5 s
// and one log line naming the flag, the address and the cause. Real sockets hold the ports.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { BIN, REPO, startServer } from '../helpers/server-process.js';

const ZONES = path.resolve(import.meta.dirname, 'zones');
/**
 * From the server's first log line (its options parsed) to its exit. Node's own start on a loaded
 * machine is not counted: it is the same for any program.
 */
const EXIT_WITHIN_MS = 5_000;

interface Exit { code: number | null; ms: number; logs: Record<string, unknown>[]; stderr: string }

/** Runs `regiondns serve` until it exits (killed after 15 s: a server that does not exit fails the test). */
function serveUntilExit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Exit> {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-startup-'));
  const started = Date.now();
  const proc = spawn(process.execPath, [BIN, 'serve', '--zones', ZONES, '--no-geoip', '--state-dir', state, ...args], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => { out += c; });
  proc.stderr.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const kill = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  return new Promise((resolve) => proc.once('exit', (code) => {
    clearTimeout(kill);
    const logs = out.split('\n').filter(Boolean).flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } });
    const first = typeof logs[0]?.time === 'number' ? (logs[0].time as number) : started;
    resolve({ code, ms: Date.now() - first, logs, stderr: err });
  }));
}

const holders: { close(): void }[] = [];
afterEach(() => { for (const h of holders.splice(0)) h.close(); });

async function holdUdp(port: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(port, '127.0.0.1', resolve));
  holders.push({ close: () => s.close() });
}
async function holdTcp(port: number): Promise<void> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
  holders.push({ close: () => s.close() });
}

/** The one fatal line, and that no other line repeats its message. */
function expectOneLine(exit: Exit, message: string): void {
  expect(exit.code, `stderr: ${exit.stderr}`).toBe(1);
  expect(exit.ms).toBeLessThan(EXIT_WITHIN_MS);
  const lines = exit.logs.filter((l) => typeof l.msg === 'string' && (l.msg as string).includes(message));
  expect(lines.map((l) => l.msg)).toEqual([message]);
  expect(lines[0].level).toBe(60);
  expect(exit.logs.some((l) => l.msg === 'listening')).toBe(false);
}

describe.each([1, 2])('--workers %i: a listener that cannot bind ends start-up', (workers) => {
  const base = ['--workers', String(workers)];

  it('DNS over UDP', async () => {
    const port = await freePort();
    const httpPort = await freePort();
    await holdUdp(port);
    const exit = await serveUntilExit([...base, '--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`]);
    expectOneLine(exit, `--listen 127.0.0.1:${port} (udp): address already in use`);
  });

  it('DNS over TCP (UDP free)', async () => {
    const port = await freePort();
    const httpPort = await freePort();
    await holdTcp(port);
    const exit = await serveUntilExit([...base, '--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`]);
    expectOneLine(exit, `--listen 127.0.0.1:${port} (tcp): address already in use`);
  });

  it('the second of two --listen addresses', async () => {
    const ok = await freePort();
    const taken = await freePort();
    const httpPort = await freePort();
    await holdUdp(taken);
    const exit = await serveUntilExit([...base, '--listen', `127.0.0.1:${ok}`, '--listen', `127.0.0.1:${taken}`, '--http', `127.0.0.1:${httpPort}`]);
    expectOneLine(exit, `--listen 127.0.0.1:${taken} (udp): address already in use`);
  });

  it('HTTP', async () => {
    const port = await freePort();
    const httpPort = await freePort();
    await holdTcp(httpPort);
    const exit = await serveUntilExit([...base, '--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`]);
    expectOneLine(exit, `--http 127.0.0.1:${httpPort}: address already in use`);
  });
});

it('--workers 2 (and --reuse-port, accepted from older command lines): a port held without SO_REUSEPORT ends start-up', async () => {
  const port = await freePort();
  const httpPort = await freePort();
  await holdUdp(port);
  const exit = await serveUntilExit(['--workers', '2', '--reuse-port', '--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`]);
  expectOneLine(exit, `--listen 127.0.0.1:${port} (udp): address already in use`);
});

it('--workers 2: a second instance on the ports of a running one ends start-up, instead of joining its SO_REUSEPORT group', async () => {
  // Workers bind with SO_REUSEPORT, which lets any process of the same user share the port: without
  // the check, the second instance would start and silently take a share of the first one's queries.
  const first = await startServer(['--workers', '2']);
  try {
    const httpPort = await freePort();
    const exit = await serveUntilExit(['--workers', '2', '--listen', `127.0.0.1:${first.port}`, '--http', `127.0.0.1:${httpPort}`]);
    expectOneLine(exit, `--listen 127.0.0.1:${first.port} (udp): address already in use`);
    expect(first.proc.exitCode).toBeNull(); // the first one serves on
  } finally {
    await first.stop();
  }
});

it('--workers 2: workers that keep dying before they serve are not restarted forever', async () => {
  // A preload that ends every worker thread at once (the primary has no worker index).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-crash-'));
  const crash = path.join(dir, 'crash.mjs');
  fs.writeFileSync(crash, 'if (process.env.REGIONDNS_WORKER_INDEX !== undefined) process.exit(3);\n');
  const port = await freePort();
  const httpPort = await freePort();
  const exit = await serveUntilExit(['--workers', '2', '--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`], { NODE_OPTIONS: `--import=${crash}` });
  expect(exit.code, exit.stderr).toBe(1);
  const fatal = exit.logs.filter((l) => l.level === 60);
  expect(fatal).toHaveLength(1);
  expect(fatal[0].msg).toMatch(/^worker \d died 3 times in a row before serving \(last exit: code 3\): giving up$/);
  expect(exit.logs.filter((l) => l.msg === 'worker died: starting a new one').length).toBeLessThan(3);
});
