// A flat zone crosses from the reload process to the serving process as one file: its typed arrays
// back to back (8-byte aligned), described by a small header sent by IPC. The serving side reads the
// file with the libuv thread pool and takes views of the one buffer: nothing to deserialize or copy
// on the thread that answers queries, no object per record.

import fs from 'node:fs';
import type { FlatZoneData } from '../../zone/flat-zone.js';

type ArrayKey = 'chars' | 'node' | 'wildcard' | 'slots' | 'rec' | 'rdata';
const ARRAYS: Record<ArrayKey, { new (b: ArrayBuffer, off: number, len: number): FlatZoneData[ArrayKey] }> = {
  chars: Uint16Array, node: Uint32Array, wildcard: Int32Array, slots: Int32Array, rec: Uint32Array, rdata: Uint8Array,
} as never;

export interface FlatZoneFile {
  path: string;
  meta: Omit<FlatZoneData, ArrayKey>;
  /** Byte offset and element count of each array in the file. */
  parts: Record<ArrayKey, { offset: number; length: number }>;
}

export function writeFlatZone(d: FlatZoneData, path: string): FlatZoneFile {
  const { chars, node, wildcard, slots, rec, rdata, ...meta } = d;
  const arrays = { chars, node, wildcard, slots, rec, rdata };
  const parts = {} as FlatZoneFile['parts'];
  const fd = fs.openSync(path, 'w', 0o600);
  try {
    let offset = 0;
    for (const key of Object.keys(ARRAYS) as ArrayKey[]) {
      const a = arrays[key];
      parts[key] = { offset, length: a.length };
      fs.writeSync(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength), 0, a.byteLength, offset);
      offset += Math.ceil(a.byteLength / 8) * 8;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { path, meta, parts };
}

/**
 * Reads the file (off the event loop) into shared memory, so the DNS worker threads take views of
 * the same arrays, and removes it.
 */
export async function readFlatZone(f: FlatZoneFile): Promise<FlatZoneData> {
  let bytes: Uint8Array;
  const fh = await fs.promises.open(f.path, 'r');
  try {
    const size = (await fh.stat()).size;
    // A SharedArrayBuffer of its own starts aligned for every array type.
    bytes = new Uint8Array(new SharedArrayBuffer(size));
    for (let at = 0; at < size;) {
      const { bytesRead } = await fh.read(bytes, at, size - at, at);
      if (bytesRead === 0) throw new Error(`${f.path}: shorter than its ${size} bytes`);
      at += bytesRead;
    }
  } finally {
    await fh.close();
    await fs.promises.rm(f.path, { force: true });
  }
  const out = { ...f.meta } as FlatZoneData;
  for (const key of Object.keys(ARRAYS) as ArrayKey[]) {
    const p = f.parts[key];
    (out as unknown as Record<ArrayKey, unknown>)[key] = new ARRAYS[key](bytes.buffer as ArrayBuffer, p.offset, p.length);
  }
  return out;
}
