// Builds the operator console into dist/ui: one script bundle (Preact, d3-geo and the Natural Earth
// map from world-atlas inside it, so the page needs no CDN and works offline), the page and its styles.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const here = import.meta.dirname;
const out = path.join(here, '../../dist/ui');
fs.mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(here, 'main.ts')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2022',
  outfile: path.join(out, 'app.js'),
  legalComments: 'linked',
  logLevel: 'warning',
});
for (const f of ['index.html', 'style.css']) fs.copyFileSync(path.join(here, f), path.join(out, f));
