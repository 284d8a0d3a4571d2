// Every configuration error code is listed once in the README's "Error codes" section, and the list
// names no code the server cannot produce.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_ERROR_CODES } from '../../src/config/error-codes.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('\n## Error codes\n'), readme.indexOf('\n## ', readme.indexOf('\n## Error codes\n') + 1));
/** The codes the section lists: one list item each, "- `CODE`: what it means …". */
const listed = [...section.matchAll(/^- `(REGIONDNS_(?:ERR|WARN)_[A-Z0-9_]+)`: \S/gm)].map((m) => m[1]!);

describe('config error codes', () => {
  it('are unique', () => {
    expect(new Set(CONFIG_ERROR_CODES).size).toBe(CONFIG_ERROR_CODES.length);
  });

  it('each appears in the README list, and the list has no other', () => {
    expect(section.length).toBeGreaterThan(100);
    expect([...listed].sort()).toEqual([...CONFIG_ERROR_CODES].sort());
  });
});
