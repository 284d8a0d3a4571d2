// The state directory of an instance without Redis (`--state-dir`): the SQLite database of its
// overrides and audit, and a note of which process holds it. Created when missing, mode 0700: it
// holds who drained what and why.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OtherConfigError } from '../config/error-codes.js';

export const DEFAULT_STATE_DIR = '.regiondns';
export const DB_FILE = 'regiondns.db';
/** Who holds the directory: for the message a second instance gets, not the lock itself. */
export const HOLDER_FILE = 'holder.json';
/** The JSON file earlier versions kept; imported once, then renamed. */
export const LEGACY_STATE_FILE = 'state.json';

export class StateDirError extends Error {
  readonly code = OtherConfigError.STATE_DIR;
  constructor(
    readonly dir: string,
    what: string,
    options?: ErrorOptions,
  ) {
    super(`state directory ${dir}: ${what}`, options);
  }
}

export interface Holder {
  pid: number;
  host: string;
  instanceId: string;
  since: string;
}

/** Creates the directory (and its parents) when missing; returns its absolute path. */
export function prepareStateDir(dir: string): string {
  const abs = path.resolve(dir);
  try {
    fs.mkdirSync(abs, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StateDirError(abs, `cannot create it: ${(err as Error).message}`, { cause: err });
  }
  if (!fs.statSync(abs).isDirectory()) throw new StateDirError(abs, 'exists and is not a directory');
  return abs;
}

export function writeHolder(dir: string, instanceId: string): void {
  const holder: Holder = { pid: process.pid, host: os.hostname(), instanceId, since: new Date().toISOString() };
  fs.writeFileSync(path.join(dir, HOLDER_FILE), `${JSON.stringify(holder)}\n`, { mode: 0o600 });
}

export function readHolder(dir: string): Holder | null {
  try {
    const h = JSON.parse(fs.readFileSync(path.join(dir, HOLDER_FILE), 'utf8')) as Partial<Holder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? (h as Holder) : null;
  } catch {
    return null;
  }
}

/** Removes the holder note on a clean stop, if it is still ours. */
export function removeHolder(dir: string): void {
  if (readHolder(dir)?.pid === process.pid) fs.rmSync(path.join(dir, HOLDER_FILE), { force: true });
}

export function describeHolder(h: Holder | null): string {
  return h ? `pid ${h.pid} on host ${h.host} (instance ${h.instanceId}, since ${h.since})` : 'a process that left no note of itself';
}

/**
 * An earlier version's state file in the state directory: the old default (`.regiondns/state.json`)
 * is in the default state directory, and the Docker volume holds both. A file elsewhere is never
 * looked for: an instance given its own --state-dir must not pick up another one's overrides.
 */
export function legacyStateFile(dir: string): string | null {
  const file = path.join(dir, LEGACY_STATE_FILE);
  return fs.existsSync(file) ? file : null;
}

/** `state.json.imported-20260105T101500Z`: kept for reference, never read again. */
export function importedName(file: string, at: Date): string {
  return `${file}.imported-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}
