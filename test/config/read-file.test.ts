// Only regular files are read from the zones folder, never more than the bound: a FIFO, a socket or
// a device is refused at once (never opened to wait on), with a message that says what it is.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../src/config/read-file.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-read-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('readConfigFile', () => {
  it('reads a regular file whole, up to and including the bound', () => {
    const f = path.join(dir, 'ok.zone');
    fs.writeFileSync(f, 'é'.repeat(3000)); // 6000 bytes, multi-byte text
    expect(readConfigFile(f, 6000)).toBe('é'.repeat(3000));
  });

  it('refuses a file over the bound, saying how to raise it', () => {
    const f = path.join(dir, 'big.zone');
    fs.writeFileSync(f, 'x'.repeat(6001));
    expect(() => readConfigFile(f, 6000)).toThrow(/6001 bytes, more than the limit of 6000 \(raise --max-file-size/);
  });

  it('refuses a FIFO at once, without waiting for a writer', () => {
    const f = path.join(dir, 'pipe.zone');
    execFileSync('mkfifo', [f]);
    const t0 = Date.now();
    expect(() => readConfigFile(f)).toThrow(/a FIFO \(named pipe\), not a regular file/);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('refuses a device and a socket', async () => {
    expect(() => readConfigFile('/dev/zero')).toThrow(/a device, not a regular file/);
    const sock = path.join(dir, 's.zone');
    const srv = net.createServer().listen(sock);
    await new Promise((r) => srv.once('listening', r));
    try {
      expect(() => readConfigFile(sock)).toThrow(/a socket, not a regular file/);
    } finally {
      srv.close();
    }
  });

  it('keeps the file system error of a missing file', () => {
    expect(() => readConfigFile(path.join(dir, 'missing.zone'))).toThrow(/ENOENT/);
  });
});
