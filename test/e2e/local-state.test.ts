// The quick start in a fresh directory: `regiondns serve` with no state flag creates ./.regiondns
// (mode 0700, its SQLite database inside), and the README's `ctl drain` succeeds and steers answers.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { answerOf, until } from '../helpers/instance.js';
import { BIN, REPO, startServer, type ServerProcess } from '../helpers/server-process.js';

const TOKEN = 'w-1f2e3d4c5b6a79880f1e2d3c4b5a6978';
const EU = '198.51.100.10';
const FRANKFURT = '193.0.0.0/24';
const GEOIP = path.join(REPO, 'geo/fixtures/world-geoip2.mmdb');

describe('a fresh directory', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'regiondns-fresh-'));
  let server: ServerProcess | null = null;
  afterAll(async () => {
    await server?.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('serve, then the README\'s ctl drain succeeds and is kept in ./.regiondns', async () => {
    expect(existsSync(path.join(cwd, '.regiondns'))).toBe(false);
    const tokens = path.join(cwd, 'tokens');
    writeFileSync(tokens, `ops:${TOKEN}\n`);
    server = await startServer(['--zones', path.join(REPO, 'zones'), '--geoip', GEOIP, '--no-probe', '--ops-tokens', tokens], { cwd, defaultStateDir: true });
    expect(statSync(path.join(cwd, '.regiondns')).mode & 0o777).toBe(0o700);
    expect(existsSync(path.join(cwd, '.regiondns', 'regiondns.db'))).toBe(true);
    expect((await answerOf(server.port, 'api.gslb.example.com', FRANKFURT)).addresses).toEqual([EU]);

    const ctl = spawnSync(process.execPath, [BIN, 'ctl', 'drain', 'eu-central', '--reason', 'db failover'], {
      cwd, encoding: 'utf8', timeout: 30_000,
      env: { ...process.env, REGIONDNS_SERVER: `http://127.0.0.1:${server.httpPort}`, REGIONDNS_TOKEN: TOKEN },
    });
    expect(ctl.stderr).toBe('');
    expect(ctl.status).toBe(0);
    expect(ctl.stdout).toMatch(/eu-central drained/);
    await until('eu-central out of the answers', async () => {
      const a = await answerOf(server!.port, 'api.gslb.example.com', FRANKFURT);
      return a.rcode === 0 && a.addresses.length > 0 && !a.addresses.includes(EU) ? a : undefined;
    }, 15_000);
  });
});

describe('a server started by hand, with no tokens configured', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'regiondns-newcomer-'));
  let server: ServerProcess | null = null;
  afterAll(async () => {
    await server?.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('keeps a local write token in ./.regiondns/ops-token (0600) that ctl in that directory uses; a remote server never gets it', async () => {
    server = await startServer(['--zones', path.join(REPO, 'zones'), '--geoip', GEOIP, '--no-probe'], { cwd, defaultStateDir: true, env: { REGIONDNS_OPS_TOKENS: '' } });
    const file = path.join(cwd, '.regiondns', 'ops-token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(server.logs.some((l) => String(l.msg).includes('local write token'))).toBe(true);
    const env = { ...process.env, REGIONDNS_SERVER: `http://127.0.0.1:${server.httpPort}` };
    delete env.REGIONDNS_TOKEN;
    const drain = spawnSync(process.execPath, [BIN, 'ctl', 'drain', 'eu-central', '--reason', 'trying it'], { cwd, env, encoding: 'utf8', timeout: 30_000 });
    expect(drain.stderr).toBe('');
    expect(drain.stdout).toMatch(/eu-central drained/);
    await until('eu-central out of the answers', async () => ((await answerOf(server!.port, 'api.gslb.example.com', FRANKFURT)).addresses[0] !== EU ? true : undefined));
    // From another directory there is no local token: the server asks for one.
    const elsewhere = spawnSync(process.execPath, [BIN, 'ctl', 'undrain', 'eu-central'], { cwd: os.tmpdir(), env, encoding: 'utf8', timeout: 30_000 });
    expect(elsewhere.status).toBe(1);
    expect(elsewhere.stderr).toMatch(/wants a token/);
  });
});
