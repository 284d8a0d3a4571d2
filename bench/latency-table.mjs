// Cost of the measured-latency table on the query path, in process, no sockets:
//   npm run build && node bench/latency-table.mjs
//
// 1. table.lookup(address, country, region) with ROWS network rows (IPv4 /8../28 and IPv6 /32../64,
//    spread over the bench's three regions), for addresses that hit and miss;
// 2. a steered A query with ECS through the whole handler, with that table loaded, so the steering
//    memo's part shows (clients of one /24, cycled over 256 networks).
// Goal: a lookup well under 1 µs at 10,000 rows, and a steered query with a table within 1.5x of one
// without (bench/micro-handler.mjs "steeredEcs").
import { loadConfig } from '../dist/server/load-config.js';
import { buildSnapshot } from '../dist/state/snapshot.js';
import { QueryHandler } from '../dist/server/query-handler.js';
import { openGeoDatabases, defaultGeoDatabasePaths } from '../dist/geo/locator.js';
import { createLogger } from '../dist/obs/logger.js';
import { parseLatencyTable } from '../dist/geo/latency-table.js';
import { mulberry32 } from '../dist/steering/rng.js';
const LOCAL = Uint8Array.of(127, 0, 0, 1); // the resolver's address, as the socket edge hands it over

const ROWS = Number(process.argv[2] ?? 10_000);
const REGIONS = ['us-east', 'eu-central', 'ap-south'];
const rng = mulberry32(7);
const int = (n) => Math.floor(rng() * n);

const lines = ['key,region,ms', 'NL,eu-central,7'];
const seen = new Set();
while (lines.length < ROWS + 2) {
  let key;
  if (rng() < 0.8) {
    const p = 8 + int(21);
    const v = (int(256) << 24 | int(256) << 16 | int(256) << 8 | int(256)) >>> 0;
    const m = p === 0 ? 0 : (v >>> (32 - p)) << (32 - p) >>> 0;
    key = `${m >>> 24}.${(m >>> 16) & 255}.${(m >>> 8) & 255}.${m & 255}/${p}`;
  } else {
    const p = 32 + 8 * int(5);
    const g = Array.from({ length: p / 16 }, () => int(65536).toString(16));
    if (p % 16) g.push((int(256) << 8).toString(16));
    key = `${g.join(':')}::/${p}`;
  }
  const region = REGIONS[int(3)];
  if (seen.has(`${key} ${region}`)) continue;
  seen.add(`${key} ${region}`);
  lines.push(`${key},${region},${1 + int(200)}`);
}
// The handler's clients (193.0.0.0/16) get a row of their own, so the table decides their order.
lines.push('193.0.0.0/16,ap-south,1');
const { table, errors } = parseLatencyTable(lines.join('\n'), 'bench.csv');
if (errors.length) { console.log(errors.slice(0, 3)); process.exit(1); }

const addrs = Array.from({ length: 4096 }, (_, i) => i % 4 === 3
  ? Uint8Array.from({ length: 16 }, () => int(256))
  : Uint8Array.from([int(256), int(256), int(256), int(256)]));
let sink = 0;
const N = 2_000_000;
for (let i = 0; i < 200_000; i++) sink += table.lookup(addrs[i & 4095], 'NL', REGIONS[i % 3]) ? 1 : 0;
let t = process.hrtime.bigint();
for (let i = 0; i < N; i++) sink += table.lookup(addrs[i & 4095], 'NL', REGIONS[i % 3]) ? 1 : 0;
const lookupNs = Number(process.hrtime.bigint() - t) / N;
console.log(`lookup       ${lookupNs.toFixed(0).padStart(6)} ns  (${table.size} rows, ${((sink / (N + 200_000)) * 100).toFixed(0)}% hit)`);

const cfg = loadConfig(new URL('./zones', import.meta.url).pathname);
if (cfg.errors.length) { console.log(cfg.errors); process.exit(1); }
const geo = openGeoDatabases(defaultGeoDatabasePaths());
const log = createLogger({ level: 'error' });
function query(third) {
  const head = Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
  const qname = Buffer.from([3, 119, 119, 119, 4, 103, 115, 108, 98, 4, 116, 101, 115, 116, 0, 0, 1, 0, 1]);
  const opt = Buffer.from([0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, 193, 0, third]);
  return Buffer.concat([head, qname, opt]);
}
const msgs = Array.from({ length: 256 }, (_, i) => query(i));
for (const [name, latencyTable] of [['steeredEcs', null], ['+table', table]]) {
  const snap = buildSnapshot({ version: 1, zones: cfg.zones, steering: cfg.steering, geo, latencyTable });
  const h = new QueryHandler(() => snap, { udpLimit: 1232, rng: Math.random, log });
  const M = 300_000;
  for (let i = 0; i < 50_000; i++) h.handle(msgs[i & 255], LOCAL, 'udp', Date.now());
  t = process.hrtime.bigint();
  for (let i = 0; i < M; i++) h.handle(msgs[i & 255], LOCAL, 'udp', Date.now());
  const ns = Number(process.hrtime.bigint() - t) / M;
  console.log(`${name.padEnd(12)} ${ns.toFixed(0).padStart(6)} ns/query`);
}
