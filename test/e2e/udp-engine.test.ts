// The UDP engine of the real server: --udp-engine auto takes the addon `npm ci` built and says so;
// where the addon could not be built (no C compiler) the install step still succeeds and the server
// runs on node:dgram with a log line that says why; the addon built with AddressSanitizer serves a
// burst of hostile and every-length datagrams over IPv4 and IPv6 without one ASan report.
import { execFileSync, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/steering/rng.js';
import { dig } from '../helpers/dig.js';
import { buildQuery, udpExchange } from '../helpers/dns-client.js';
import { answersWww, hostilePacket, randomBytes } from '../helpers/fuzz.js';
import { freePort } from '../helpers/ports.js';
import { BIN, REPO, startServer } from '../helpers/server-process.js';

const ZONES = path.resolve(import.meta.dirname, 'zones');
const BUILD = path.join(REPO, 'src/dns/native/build.mjs');
const engineLine = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('UDP engine');

/** Runs the install-time build script into a temporary folder; returns its output and report. */
function build(env: NodeJS.ProcessEnv, extra: string[] = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-udp-batch-'));
  const out = path.join(dir, 'udp_batch.node');
  const r = spawnSync(process.execPath, [BUILD, '--out', out, ...extra], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'udp-batch.json'), 'utf8')) as { ok: boolean; reason?: string };
  return { status: r.status, stdout: r.stdout, out, report };
}

describe('UDP engine selection', () => {
  it('auto runs the batch engine when the addon is built, and says so', async () => {
    const server = await startServer(['--zones', ZONES, '--no-geoip', '--udp-engine', 'auto']);
    try {
      const line = server.logs.find(engineLine);
      expect(line).toMatchObject({ engine: 'batch', msg: 'UDP engine: batch' });
      expect(String(line?.reason)).toContain('udp_batch.node');
      expect(Number(line?.socketBuffer)).toBeGreaterThan(0);
      expect(dig(server.port, ['www.e2e.test', 'A']).answer.map((r) => r[4])).toEqual(['192.0.2.1']);
    } finally {
      await server.stop();
    }
  });

  it('without a C compiler: the build step exits 0, the server falls back to node:dgram and says why', async () => {
    const b = build({ CC: '/nonexistent/cc' });
    expect(b.status).toBe(0); // never fails `npm ci`
    expect(b.stdout).toContain('not built');
    expect(b.report).toMatchObject({ ok: false });
    expect(b.report.reason).toContain('/nonexistent/cc');
    expect(fs.existsSync(b.out)).toBe(false);

    const env = { REGIONDNS_UDP_BATCH_ADDON: b.out };
    const server = await startServer(['--zones', ZONES, '--no-geoip', '--udp-engine', 'auto'], { env });
    try {
      const line = server.logs.find(engineLine);
      expect(line).toMatchObject({ engine: 'dgram', msg: 'UDP engine: dgram' });
      expect(String(line?.reason)).toContain('/nonexistent/cc');
      expect(dig(server.port, ['www.e2e.test', 'A']).answer.map((r) => r[4])).toEqual(['192.0.2.1']);
      expect(dig(server.port, ['www.e2e.test', 'A', '+tcp']).answer.map((r) => r[4])).toEqual(['192.0.2.1']);
    } finally {
      await server.stop();
    }

    // Asked for by name, the batch engine without its addon is an error at start, not a silent fallback.
    const port = await freePort();
    const r = spawnSync(process.execPath, [BIN, 'serve', '--zones', ZONES, '--no-geoip', '--listen', `127.0.0.1:${port}`, '--http', 'off', '--workers', '1', '--state-dir', 'none', '--udp-engine', 'batch'],
      { cwd: REPO, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--udp-engine batch: the udp-batch addon is not built');
    expect(r.stderr).toContain('/nonexistent/cc');
  });

  it('rejects an unknown engine name', () => {
    const r = spawnSync(process.execPath, [BIN, 'serve', '--zones', ZONES, '--udp-engine', 'turbo'], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--udp-engine takes auto, batch, dgram; got "turbo"');
  });
});

describe('udp-batch under AddressSanitizer', () => {
  it('serves hostile datagrams of every size over IPv4 and IPv6 with no ASan report', async () => {
    const b = build({}, ['--asan']);
    expect(b.report, 'the ASan build').toMatchObject({ ok: true });
    // libasan must be loaded before everything else; node itself is not instrumented, so its
    // allocations are only tracked, and leak checking at exit (node keeps memory on purpose) is off.
    const libasan = execFileSync(process.env.CC || 'cc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
    expect(fs.existsSync(libasan), `libasan at ${libasan}`).toBe(true);
    const port6 = await freePort('::1');
    const server = await startServer(['--zones', ZONES, '--no-geoip', '--udp-engine', 'batch', '--listen', `[::1]:${port6}`], {
      env: { REGIONDNS_UDP_BATCH_ADDON: b.out, LD_PRELOAD: libasan, ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:halt_on_error=1' },
    });
    try {
      const maps = fs.readFileSync(`/proc/${server.proc.pid}/maps`, 'utf8');
      expect(maps).toContain('libasan');
      expect(maps).toContain(b.out);

      const rng = mulberry32(0xa5a5);
      for (const [type, host, port, max] of [['udp4', '127.0.0.1', server.port, 65507], ['udp6', '::1', port6, 65527]] as const) {
        const sock = dgram.createSocket({ type, sendBufferSize: 1 << 20 });
        sock.on('message', () => undefined);
        await new Promise<void>((r) => sock.bind(0, host, () => r()));
        const sizes = [...Array.from({ length: 600 }, (_, i) => i), 1232, 4096, 16384, 65535 - 28 - 1000, max];
        const packets = [...sizes.map((n) => randomBytes(rng, n)), ...Array.from({ length: 1500 }, () => hostilePacket(rng, rng() < 0.05 ? 8000 : 600))];
        for (let i = 0; i < packets.length; i += 50) {
          await Promise.all(packets.slice(i, i + 50).map((p) => new Promise((r) => sock.send(p, port, host, r))));
          const id = 0x7000 + i;
          // The server is alive and in step after each burst of 50.
          const reply = await udpExchange(port, buildQuery('www.e2e.test', 'A', { id }), host, 5000);
          expect(answersWww(reply, id)).toBe(true);
        }
        sock.close();
      }
      expect(server.proc.exitCode).toBe(null);
    } finally {
      const code = await server.stop();
      const stderr = server.stderr.join('');
      expect(stderr).not.toContain('AddressSanitizer');
      expect(code).toBe(0);
    }
  }, 120_000);
});
