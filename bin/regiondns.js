#!/usr/bin/env node
// The TypeScript is compiled to dist/ by `npm run build` (run by `npm ci` through `prepare`).
// Checked before anything else loads: on an older Node the server would fail in obscure ways.
// 22.13 is the first Node with node:sqlite unflagged (the local state store).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  console.error(`regiondns needs Node.js 22.13 or newer; this is ${process.version} (${process.execPath}).\n` +
    'Install Node.js 24 (https://nodejs.org, your distribution, or `npm install -g node@24`) and run it again.');
  process.exit(1);
}
const { main } = await import('../dist/cli.js');

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(err instanceof Error ? err.message : err); process.exitCode = 1; },
);
