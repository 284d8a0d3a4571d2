// Which UDP engine serves: the batched one (the udp-batch addon: recvmmsg/sendmmsg, one call into
// JavaScript per batch) or node:dgram. `auto` takes the addon when it was built at install and loads;
// the reason for the choice is kept for the start-up log line.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const UDP_ENGINES = ['auto', 'batch', 'dgram'] as const;
export type UdpEngineChoice = (typeof UDP_ENGINES)[number];

/** The addon's functions (src/dns/native/udp_batch.c documents the slab layout). */
export interface UdpBatchAddon {
  open(host: string, port: number, family: 4 | 6, reusePort: boolean, rcvbuf: number,
    input: ArrayBuffer, output: ArrayBuffer, meta: ArrayBuffer, addr: ArrayBuffer, onBatch: (n: number) => void): UdpBatchHandle;
  close(h: UdpBatchHandle): void;
  address(h: UdpBatchHandle): { address: string; port: number; family: string };
  stats(h: UdpBatchHandle): { received: number; sent: number; dropped: number; batches: number; rcvbuf: number };
  readonly BATCH: number;
  readonly SLOT: number;
  readonly META: number;
}
declare const handleBrand: unique symbol;
export type UdpBatchHandle = { readonly [handleBrand]: true };

export type UdpEngine =
  | { kind: 'batch'; reason: string; addon: UdpBatchAddon }
  | { kind: 'dgram'; reason: string; addon: null };

export class UdpEngineError extends Error {
  readonly code = 'REGIONDNS_ERR_UDP_ENGINE';
}

/** Where the install script puts the addon; REGIONDNS_UDP_BATCH_ADDON points elsewhere (the ASan build in tests). */
export function addonPath(): string {
  return process.env.REGIONDNS_UDP_BATCH_ADDON || fileURLToPath(new URL('../../build/udp_batch.node', import.meta.url));
}

let loaded: { addon: UdpBatchAddon; file: string } | { addon: null; why: string } | undefined;

function load(): typeof loaded & object {
  if (loaded) return loaded;
  const file = addonPath();
  if (process.platform !== 'linux') return (loaded = { addon: null, why: `recvmmsg/sendmmsg are Linux system calls; this is ${process.platform}` });
  if (!fs.existsSync(file)) return (loaded = { addon: null, why: `the udp-batch addon is not built: ${buildReport(file)}` });
  try {
    return (loaded = { addon: createRequire(import.meta.url)(file) as UdpBatchAddon, file });
  } catch (err) {
    return (loaded = { addon: null, why: `the udp-batch addon did not load: ${(err as Error).message}` });
  }
}

/** What the install script wrote about the build (build/udp-batch.json), as a reason a user can act on. */
function buildReport(file: string): string {
  const report = file.replace(/udp_batch\.node$/, 'udp-batch.json');
  try {
    const r = JSON.parse(fs.readFileSync(report, 'utf8')) as { ok?: boolean; reason?: string };
    if (r.ok === false && r.reason) return `${r.reason} (npm run build:native retries)`;
  } catch { /* no report: the install script did not run */ }
  return `${file} is missing (installed with --ignore-scripts? npm run build:native builds it)`;
}

/** The engine for `choice`; throws UdpEngineError when `batch` is asked for and cannot run. */
export function resolveUdpEngine(choice: UdpEngineChoice = 'auto'): UdpEngine {
  if (choice === 'dgram') return { kind: 'dgram', reason: '--udp-engine dgram', addon: null };
  const l = load();
  if (l.addon) return { kind: 'batch', reason: choice === 'batch' ? '--udp-engine batch' : `the udp-batch addon is built (${l.file})`, addon: l.addon };
  if (choice === 'batch') throw new UdpEngineError(`--udp-engine batch: ${l.why}`);
  return { kind: 'dgram', reason: l.why, addon: null };
}

export function parseUdpEngine(text: string): UdpEngineChoice {
  if ((UDP_ENGINES as readonly string[]).includes(text)) return text as UdpEngineChoice;
  throw new UdpEngineError(`--udp-engine takes ${UDP_ENGINES.join(', ')}; got "${text}"`);
}
