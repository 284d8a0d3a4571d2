// No import cycle in src/: a module and everything it imports must be loadable, testable and
// understandable without the modules that import it (gdnsd keeps resolvers apart from monitors the
// same way). Type-only imports count too: `import type` vanishes at runtime, but it still couples the
// two modules' vocabularies, and the cycles this test was written to remove were mostly of that kind.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const src = join(root, 'src');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

// `import … from 'x'`, `export … from 'x'`, side-effect `import 'x'`, and `import('x')`.
const SPEC = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"\\])\/\/.*$/gm, '$1');
}

function resolveSpec(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined; // packages and node: builtins are not ours
  const base = resolve(dirname(from), spec);
  for (const c of [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')]) {
    if (c.endsWith('.ts') && existsSync(c)) return c;
  }
  return undefined;
}

export function importGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of tsFiles(src)) {
    const deps = new Set<string>();
    for (const m of stripComments(readFileSync(file, 'utf8')).matchAll(SPEC)) {
      const target = resolveSpec(file, m[1] ?? m[2]!);
      if (target !== undefined) deps.add(target);
    }
    graph.set(file, deps);
  }
  return graph;
}

/** Strongly connected components with more than one module (or a module importing itself). */
export function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v)) out.push(scc.map((f) => relative(root, f)).sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

describe('src/ import graph', () => {
  it('parses imports (sanity: the graph is not empty)', () => {
    const g = importGraph();
    expect(g.size).toBeGreaterThan(50);
    const edges = [...g.values()].reduce((n, s) => n + s.size, 0);
    expect(edges).toBeGreaterThan(100);
  });

  it('finds a cycle when there is one (sanity: the check can fail)', () => {
    const g = new Map([[join(src, 'a.ts'), new Set([join(src, 'b.ts')])], [join(src, 'b.ts'), new Set([join(src, 'a.ts')])], [join(src, 'c.ts'), new Set([join(src, 'c.ts')])]]);
    expect(cycles(g)).toEqual([['src/a.ts', 'src/b.ts'], ['src/c.ts']]);
  });

  it('has no import cycle', () => {
    const found = cycles(importGraph());
    expect(found, `import cycles:\n${found.map((c) => `  ${c.join(' ↔ ')}`).join('\n')}`).toEqual([]);
  });

  // Leaves: what every layer may import, so they import nothing of ours outside their own folder.
  // src/config/ (errors, codes, durations, file reading, identity types) and src/core/ (ids).
  it.each(['src/config', 'src/core'])('%s imports nothing outside itself', (leaf) => {
    expect(importsFrom(importGraph(), leaf, (to) => !to.startsWith(`${leaf}/`))).toEqual([]);
  });

  // Layers kept apart (gdnsd keeps resolvers from monitors): steering's vocabulary names no check (the
  // health plan sits beside it, src/health/plan.ts), and the snapshot knows nothing of answering.
  it.each([
    ['src/steering', 'src/health'],
    ['src/state', 'src/query'],
  ])('%s does not import %s', (from, to) => {
    expect(importsFrom(importGraph(), from, (target) => target.startsWith(`${to}/`))).toEqual([]);
  });

  it('finds an import between folders (sanity: the check can fail)', () => {
    const g = new Map([[join(src, 'steering/a.ts'), new Set([join(src, 'health/b.ts'), join(src, 'core/c.ts')])]]);
    expect(importsFrom(g, 'src/steering', (to) => to.startsWith('src/health/'))).toEqual(['src/steering/a.ts → src/health/b.ts']);
  });
});

/** Edges "a → b" (paths from the repository root) from a module under folder `from` to a module `to` accepts. */
function importsFrom(graph: Map<string, Set<string>>, from: string, to: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (const [file, deps] of graph) {
    const a = relative(root, file);
    if (!a.startsWith(`${from}/`)) continue;
    for (const d of deps) {
      const b = relative(root, d);
      if (to(b)) out.push(`${a} → ${b}`);
    }
  }
  return out;
}
