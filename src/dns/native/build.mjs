#!/usr/bin/env node
// Compiles the udp-batch addon (udp_batch.c) with the machine's C compiler: run by `npm ci`
// (the package's install script) and by `npm run build:native`.
//
// A direct `cc` call rather than node-gyp: one C file needs no gyp project, python or make, and
// node-gyp would download Node's headers unless told where they are. The Node-API headers come from
// the node-api-headers npm package, libuv's from the running Node's own installation (the
// include/node folder node-gyp's --nodedir points at). Nothing is downloaded.
//
// This script never fails the install: without a compiler or headers it writes why into
// build/udp-batch.json, prints one line, exits 0, and the server runs on node:dgram.
//
// Options: --out FILE (default build/udp_batch.node), --asan (AddressSanitizer build, for tests).
// Environment: CC (default cc), CFLAGS (appended), REGIONDNS_NODEDIR (a Node installation whose
// include/node holds uv.h; also npm_config_nodedir, as node-gyp reads it).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const args = process.argv.slice(2);
const asan = args.includes('--asan');
const outArg = args.indexOf('--out');
const out = path.resolve(outArg >= 0 ? args[outArg + 1] : path.join(root, 'build/udp_batch.node'));
const report = path.join(path.dirname(out), path.basename(out, '.node') === 'udp_batch' ? 'udp-batch.json' : `${path.basename(out, '.node')}.json`);

/** The Node-API headers of the node-api-headers package. */
function napiInclude() {
  try {
    const dir = createRequire(path.join(root, 'package.json'))('node-api-headers').include_dir;
    return fs.existsSync(path.join(dir, 'node_api.h')) ? dir : null;
  } catch {
    return null;
  }
}

/**
 * libuv's headers from the running Node's installation. An npm-installed Node (the `node`
 * package) links bin/node from a platform package, so that one is looked at too. The headers must
 * be libuv 1.x no newer than the running libuv: 1.x keeps its ABI, an older header is safe.
 */
function uvInclude() {
  const exe = process.execPath;
  const dirs = [process.env.REGIONDNS_NODEDIR, process.env.npm_config_nodedir].filter(Boolean).map((d) => path.join(d, 'include/node'));
  for (const e of new Set([exe, safeRealpath(exe)])) {
    const prefix = path.resolve(path.dirname(e), '..');
    dirs.push(path.join(prefix, 'include/node'));
    dirs.push(path.join(prefix, 'node_modules', `node-${process.platform}-${process.arch}`, 'include/node'));
  }
  const [major, minor] = process.versions.uv.split('.').map(Number);
  const tried = [];
  for (const dir of dirs) {
    const version = path.join(dir, 'uv/version.h');
    if (!fs.existsSync(path.join(dir, 'uv.h')) || !fs.existsSync(version)) { tried.push(dir); continue; }
    const text = fs.readFileSync(version, 'utf8');
    const hMajor = Number(/#define UV_VERSION_MAJOR (\d+)/.exec(text)?.[1]);
    const hMinor = Number(/#define UV_VERSION_MINOR (\d+)/.exec(text)?.[1]);
    if (hMajor === major && hMinor <= minor) return { dir };
    tried.push(`${dir} (libuv ${hMajor}.${hMinor}, Node runs ${process.versions.uv})`);
  }
  return { dir: null, tried };
}

function safeRealpath(p) {
  try { return fs.realpathSync(p); } catch { return p; }
}

function write(result) {
  try {
    fs.mkdirSync(path.dirname(report), { recursive: true });
    fs.writeFileSync(report, JSON.stringify({ ...result, node: process.version, napiVersion: process.versions.napi, at: new Date().toISOString() }, null, 2) + '\n');
  } catch { /* the server then says "not built", which is still true */ }
}

function main() {
  if (process.platform !== 'linux') return { ok: false, reason: `recvmmsg/sendmmsg are Linux system calls; this is ${process.platform}` };
  const napi = napiInclude();
  if (!napi) return { ok: false, reason: 'the node-api-headers package is not installed' };
  const uv = uvInclude();
  if (!uv.dir) return { ok: false, reason: `no libuv headers of the running Node (looked in ${uv.tried.join(', ')}; set REGIONDNS_NODEDIR to a Node installation)` };
  const cc = process.env.CC || 'cc';
  const flags = asan
    ? ['-O1', '-g', '-fsanitize=address', '-fno-omit-frame-pointer']
    : ['-O2'];
  const cmd = [
    ...flags, '-std=gnu11', '-Wall', '-Wextra', '-Werror=implicit-function-declaration', '-fPIC', '-shared', '-fvisibility=hidden',
    '-DNAPI_VERSION=8', '-I', napi, '-I', uv.dir,
    ...(process.env.CFLAGS ? process.env.CFLAGS.split(/\s+/).filter(Boolean) : []),
    '-o', `${out}.tmp`, path.join(here, 'udp_batch.c'),
  ];
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const r = spawnSync(cc, cmd, { encoding: 'utf8', timeout: 120_000 });
  if (r.error) return { ok: false, reason: `C compiler "${cc}" not usable: ${r.error.code ?? r.error.message}` };
  if (r.status !== 0) return { ok: false, reason: `${cc} failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(0, 6).join(' | ')}` };
  fs.renameSync(`${out}.tmp`, out);
  return { ok: true, file: out, cc, asan };
}

let result;
try {
  result = main();
} catch (err) {
  result = { ok: false, reason: `build script error: ${err instanceof Error ? err.message : String(err)}` };
}
if (!result.ok) {
  // A failed build must not leave an older addon behind that no longer matches the source.
  try { fs.rmSync(out, { force: true }); } catch { /* nothing to remove */ }
}
write(result);
console.log(result.ok ? `udp-batch: built ${path.relative(process.cwd(), out)}` : `udp-batch: not built (${result.reason}); the server will use node:dgram`);
process.exitCode = 0;
