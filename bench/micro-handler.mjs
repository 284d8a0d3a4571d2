// In-process cost of the whole query path (decode → answer → encode) on bench/zones, no sockets:
//   npm run build && node bench/micro-handler.mjs
import { loadConfig } from '../dist/config/load-config.js';
import { buildSnapshot } from '../dist/state/snapshot.js';
import { QueryHandler } from '../dist/server/query-handler.js';
import { openGeoDatabases, defaultGeoDatabasePaths } from '../dist/geo/locator.js';
import { createLogger } from '../dist/obs/logger.js';
const cfg = loadConfig(new URL('./zones', import.meta.url).pathname);
if (cfg.errors.length) { console.log(cfg.errors); process.exit(1); }
const geo = openGeoDatabases(defaultGeoDatabasePaths());
const snap = buildSnapshot({ version: 1, zones: cfg.zones, steering: cfg.steering, geo, latencyTable: null });
const h = new QueryHandler(() => snap, { udpLimit: 1232, rng: Math.random, log: createLogger({level:'error'}) });
function q(name, type, ecs) {
  const labels = name.split('.');
  const parts = [Buffer.from([0x12,0x34,1,0,0,1,0,0,0,0,0,ecs===undefined?0:1])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l));
  parts.push(Buffer.from([0, 0, type, 0, 1]));
  if (ecs !== undefined) parts.push(Buffer.from([0,0,41,4,208,0,0,0,0,0,11,0,8,0,7,0,1,24,0,193,0,0]));
  return Buffer.concat(parts);
}
const LOCAL = Uint8Array.of(127, 0, 0, 1); // the resolver's address, as the socket edge hands it over
const cases = { static: q('static.gslb.test', 1), steered: q('www.gslb.test', 1), steeredEcs: q('www.gslb.test', 1, true), nx: q('nx1.gslb.test', 1) };
for (const [name, msg] of Object.entries(cases)) {
  const out = h.handle(msg, LOCAL, 'udp', Date.now());
  if (!out) throw new Error('no reply');
  const N = 400000;
  for (let i = 0; i < 50000; i++) h.handle(msg, LOCAL, 'udp', Date.now());
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) h.handle(msg, LOCAL, 'udp', Date.now());
  const ns = Number(process.hrtime.bigint() - t) / N;
  console.log(name.padEnd(12), (ns|0) + ' ns/query', Math.round(1e9/ns).toLocaleString() + '/s');
}
