// Configuration folders for loader tests: each call makes a fresh folder holding the files given,
// under one temporary root that is removed when the test file's tests are done.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** Call at the top of a test file; returns `dirWith(files)`, the path of a new folder with `files` (name → text) in it. */
export function configDirs(prefix: string): (files: Record<string, string>) => string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  return (files) => {
    const dir = join(root, String(n++));
    mkdirSync(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  };
}
