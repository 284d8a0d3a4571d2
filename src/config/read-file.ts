// Reads a file of the zones folder (zone files, $INCLUDEs, policies, the tenants file) safely: only
// a regular file is read, so a FIFO, a socket or a device named like a zone can never block the
// process or have effects on open; and no more than a bounded number of bytes (`--max-file-size`).

import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';

export const DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024;

let maxFileBytes = DEFAULT_MAX_FILE_BYTES;

/** Sets the size bound for every config file read afterwards in this thread (the `--max-file-size` flag). */
export function setMaxConfigFileBytes(bytes: number): void {
  maxFileBytes = bytes;
}

export function maxConfigFileBytes(): number {
  return maxFileBytes;
}

/** What a directory entry is, in words a user recognises; null for a regular file. */
export function notRegular(st: Stats): string | null {
  if (st.isFile()) return null;
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isDirectory()) return 'a folder';
  return 'not a regular file';
}

function refuseUnless(st: Stats, limit: number): void {
  const kind = notRegular(st);
  if (kind) throw new Error(`${kind}, not a regular file: only regular files are read from the zones folder`);
  if (st.size > limit) throw new Error(`${st.size} bytes, more than the limit of ${limit} (raise --max-file-size to read it)`);
}

/**
 * The file's bytes, or an Error saying why not (fs errors keep their message). Stat before open (a
 * device is never opened), open with O_NONBLOCK (a FIFO swapped in between cannot block), stat again.
 */
export function readConfigBytes(path: string, limit = maxFileBytes): Buffer {
  refuseUnless(statSync(path), limit);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    refuseUnless(st, limit);
    // The file may grow while it is read: read one byte past the bound to notice.
    let buf = Buffer.allocUnsafe(Math.min(limit + 1, Math.max(st.size + 1, 4096)));
    let used = 0;
    for (;;) {
      if (used === buf.length) {
        if (buf.length > limit) throw new Error(`more than the limit of ${limit} bytes (raise --max-file-size to read it)`);
        const bigger = Buffer.allocUnsafe(Math.min(limit + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, used);
        buf = bigger;
      }
      const n = readSync(fd, buf, used, buf.length - used, null);
      if (n === 0) break;
      used += n;
    }
    return buf.subarray(0, used);
  } finally {
    closeSync(fd);
  }
}

export function readConfigFile(path: string, limit = maxFileBytes): string {
  return readConfigBytes(path, limit).toString('utf8');
}
