// Reloads off the query path, through a real server process and real sockets: a large zone reloads
// under a query stream with nothing lost; a FIFO or an oversized file in the zones folder (also by
// $INCLUDE) fails the reload with a clear error while DNS and HTTP keep answering from the old
// zones; unchanged files are skipped; /readyz and /metrics show the last reload's result.
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { buildQuery } from '../helpers/dns-client.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-reload-'));
  tempDirs.push(d);
  return d;
}

function smallZone(serial: number, extra = ''): string {
  return `$ORIGIN small.test.\n$TTL 300\n@ SOA ns1 hostmaster ${serial} 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\nwww A 192.0.2.1\n${extra}`;
}

/** Writes aside and renames in, as an operator's deploy does: a reload never reads half a file. */
function writeZone(dir: string, name: string, body: string | ((w: (s: string) => void) => void)): void {
  const tmp = path.join(dir, `.${name}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  if (typeof body === 'string') fs.writeSync(fd, body);
  else body((s) => fs.writeSync(fd, s));
  fs.closeSync(fd);
  fs.renameSync(tmp, path.join(dir, name));
}

async function readyz(s: ServerProcess): Promise<{ status: number; body: any }> {
  const r = await fetch(`http://127.0.0.1:${s.httpPort}/readyz`, { signal: AbortSignal.timeout(5_000) });
  return { status: r.status, body: await r.json() };
}

async function metrics(s: ServerProcess): Promise<string> {
  return (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

function reloadFailed(s: ServerProcess, match: RegExp): Promise<Record<string, unknown>> {
  return s.waitForLog((l) => l.msg === 'reload failed: keeping the previous zones' && match.test(String(l.error)), 60_000);
}

describe('reload of a large zone under a query stream', () => {
  const RECORDS = 200_000;
  let dir: string;
  let server: ServerProcess;

  const bigZone = (serial: number) => (w: (s: string) => void) => {
    w(`$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster ${serial} 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n`);
    let buf = '';
    for (let i = 0; i < RECORDS - 3; i++) {
      buf += `h${i} A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}\n`;
      if (buf.length > 1 << 20) { w(buf); buf = ''; }
    }
    w(buf);
  };

  beforeAll(async () => {
    dir = tempDir();
    writeZone(dir, 'big.test.zone', bigZone(1));
    server = await startServer(['--zones', dir, '--no-geoip', '--no-probe'], { startTimeoutMs: 120_000 });
  }, 150_000);
  afterAll(async () => { await server?.stop(); });

  it('answers every query while the zone reloads twice', async () => {
    const sock = dgram.createSocket('udp4');
    const waiting = new Map<number, { i: number; resolve: (ok: boolean) => void }>();
    sock.on('message', (m) => {
      const w = waiting.get(m.readUInt16BE(0));
      if (!w) return;
      waiting.delete(m.readUInt16BE(0));
      // NOERROR with one answer whose address is the name's own: h<i> → 10.x.y.z
      const i = w.i;
      const ok = (m[3] & 0x0f) === 0 && m.readUInt16BE(6) === 1
        && m.subarray(m.length - 4).equals(Buffer.from([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]));
      w.resolve(ok);
    });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const results: Promise<boolean>[] = [];
    let id = 0;
    let streaming = true;
    // Paced: 200 queries a second, bounded by the test's time; each waits up to 10 s for its answer.
    const stream = (async () => {
      while (streaming && results.length < 40_000) {
        for (let k = 0; k < 4; k++) {
          const qid = (id = (id + 1) & 0xffff);
          const i = Math.floor(Math.random() * (RECORDS - 3));
          results.push(new Promise<boolean>((resolve) => {
            const t = setTimeout(() => { waiting.delete(qid); resolve(false); }, 10_000);
            waiting.set(qid, { i, resolve: (ok) => { clearTimeout(t); resolve(ok); } });
          }));
          sock.send(buildQuery(`h${i}.big.test`, 'A', { id: qid }), server.port, '127.0.0.1');
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      for (const serial of [2, 3]) {
        writeZone(dir, 'big.test.zone', bigZone(serial));
        const reloaded = server.waitForLog((l) => l.msg === 'zones reloaded' && (l.zones as { serial: number }[])[0]?.serial === serial, 120_000);
        server.proc.kill('SIGHUP');
        await reloaded;
      }
    } finally {
      streaming = false;
      await stream;
    }
    const answers = await Promise.all(results);
    sock.close();
    expect(answers.length).toBeGreaterThan(100);
    expect(answers.filter((ok) => !ok).length).toBe(0);
    expect(dig(server.port, ['big.test', 'SOA']).answer[0].slice(4).join(' ')).toMatch(/ 3 3600 600 86400 60$/);
  }, 300_000);
});

describe('files that are not regular, or too large', () => {
  let dir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    dir = tempDir();
    fs.mkdirSync(path.join(dir, 'parts'));
    writeZone(dir, 'small.test.zone', smallZone(1));
    server = await startServer(['--zones', dir, '--no-geoip', '--no-probe', '--max-file-size', '4K']);
  });
  afterAll(async () => { await server?.stop(); });

  /** DNS answers from the old zone and HTTP answers at once: nothing blocked. */
  async function stillServing(): Promise<void> {
    const started = Date.now();
    const r = await readyz(server);
    expect(r.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(dig(server.port, ['www.small.test', 'A']).answer[0][4]).toBe('192.0.2.1');
  }

  it('a FIFO named like a zone file: clear error, old zones keep serving, /readyz shows the failure', async () => {
    const fifo = path.join(dir, 'evil.test.zone');
    execFileSync('mkfifo', [fifo]);
    try {
      const failed = reloadFailed(server, /evil\.test\.zone:0: .*FIFO \(named pipe\), not a regular file/);
      server.proc.kill('SIGHUP');
      await failed;
      await stillServing();
      const r = await readyz(server);
      expect(r.body.reload.last).toMatchObject({ ok: false, errorCount: 1 });
      expect(r.body.reload.last.errors[0]).toMatch(/evil\.test\.zone:0: cannot read zone file: a FIFO/);
      expect(r.body.reload.last.zones[0]).toMatchObject({ origin: 'small.test.', serial: 1 });
      expect(typeof r.body.reload.lastSuccessAt).toBe('string');
      const m = await metrics(server);
      expect(metric(m, 'regiondns_zone_reloads_total{result="error"}')).toBeGreaterThanOrEqual(1);
      expect(metric(m, 'regiondns_zone_reload_last_success_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 600);
      expect(metric(m, 'regiondns_zone_reload_last_failure_timestamp_seconds')).toBeGreaterThan(0);
    } finally {
      fs.rmSync(fifo);
    }
  });

  it('a FIFO by $INCLUDE: the error names the including line, nothing blocks', async () => {
    const fifo = path.join(dir, 'parts', 'pipe.inc');
    execFileSync('mkfifo', [fifo]);
    writeZone(dir, 'small.test.zone', smallZone(2, '$INCLUDE parts/pipe.inc\n'));
    try {
      const failed = reloadFailed(server, /small\.test\.zone:7: cannot read \$INCLUDE file "parts\/pipe\.inc": a FIFO/);
      server.proc.kill('SIGHUP');
      await failed;
      await stillServing();
    } finally {
      fs.rmSync(fifo);
      writeZone(dir, 'small.test.zone', smallZone(1));
    }
  });

  it('a file over --max-file-size, directly or by $INCLUDE: clear error naming the limit', async () => {
    const big = 'x'.repeat(5000);
    writeZone(dir, 'small.test.zone', smallZone(3, `; ${big}\n`));
    let failed = reloadFailed(server, /small\.test\.zone:0: cannot read zone file: \d+ bytes, more than the limit of 4096 \(raise --max-file-size/);
    server.proc.kill('SIGHUP');
    await failed;
    await stillServing();

    fs.writeFileSync(path.join(dir, 'parts', 'big.inc'), `; ${big}\n`);
    writeZone(dir, 'small.test.zone', smallZone(3, '$INCLUDE parts/big.inc\n'));
    failed = reloadFailed(server, /small\.test\.zone:7: cannot read \$INCLUDE file "parts\/big\.inc": \d+ bytes, more than the limit of 4096/);
    server.proc.kill('SIGHUP');
    await failed;
    await stillServing();
    fs.rmSync(path.join(dir, 'parts', 'big.inc'));
    writeZone(dir, 'small.test.zone', smallZone(1));
  });
});

describe('unchanged files', () => {
  let dir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    dir = tempDir();
    fs.mkdirSync(path.join(dir, 'parts'));
    writeZone(dir, 'small.test.zone', smallZone(1, '$INCLUDE parts/more.inc\n'));
    fs.writeFileSync(path.join(dir, 'parts', 'more.inc'), 'api A 192.0.2.7\n');
    writeZone(dir, 'other.test.zone', '$ORIGIN other.test.\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n');
    server = await startServer(['--zones', dir, '--no-geoip', '--no-probe']);
  });
  afterAll(async () => { await server?.stop(); });

  it('are not parsed again; a changed file, or a changed $INCLUDE, is', async () => {
    const small = path.join(dir, 'small.test.zone');
    const other = path.join(dir, 'other.test.zone');
    let reloaded = server.waitForLog((l) => l.msg === 'zones reloaded', 30_000);
    server.proc.kill('SIGHUP');
    expect((await reloaded).unchanged).toEqual([other, small]);
    expect(metric(await metrics(server), 'regiondns_zone_files_unchanged_total')).toBe(2);

    // Same size, same mtime would not fool it either: it hashes the content.
    fs.writeFileSync(path.join(dir, 'parts', 'more.inc'), 'api A 192.0.2.8\n');
    reloaded = server.waitForLog((l) => l.msg === 'zones reloaded', 30_000);
    server.proc.kill('SIGHUP');
    expect((await reloaded).unchanged).toEqual([other]);
    expect(dig(server.port, ['api.small.test', 'A']).answer[0][4]).toBe('192.0.2.8');
  });
});
