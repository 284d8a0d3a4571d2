#!/usr/bin/env node
// The TypeScript is compiled to dist/ by `npm run build` (run by `npm ci` through `prepare`).
// Checked before anything else loads: on an older Node the server would fail in obscure ways.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`regiondns needs Node.js 22 or newer; this is ${process.version} (${process.execPath}).\n` +
    'Install Node.js 24 (https://nodejs.org, your distribution, or `npm install -g node@24`) and run it again.');
  process.exit(1);
}
const { main } = await import('../dist/cli.js');

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(err instanceof Error ? err.message : err); process.exitCode = 1; },
);
