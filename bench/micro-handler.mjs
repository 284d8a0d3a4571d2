// In-process cost of the whole query path (decode → answer → encode into a reply slot) on bench/zones, no sockets:
//   npm run build && node bench/micro-handler.mjs
import { loadConfig } from '../dist/server/load-config.js';
import { buildSnapshot } from '../dist/state/snapshot.js';
import { QueryHandler } from '../dist/server/query-handler.js';
import { openGeoDatabases, defaultGeoDatabasePaths } from '../dist/geo/locator.js';
import { createLogger } from '../dist/obs/logger.js';
import { ecsV4, encodeQuery } from './lib/dns-query.mjs';
const cfg = loadConfig(new URL('./zones', import.meta.url).pathname);
if (cfg.errors.length) { console.log(cfg.errors); process.exit(1); }
const geo = openGeoDatabases(defaultGeoDatabasePaths());
const snap = buildSnapshot({ version: 1, zones: cfg.zones, steering: cfg.steering, geo, latencyTable: null });
const h = new QueryHandler(() => snap, { udpLimit: 1232, rng: Math.random, log: createLogger({level:'error'}) });
// RD set, as a resolver sends it; with ECS 193.0.0.0/24 when `ecs`.
const q = (name, type, ecs) => encodeQuery({ id: 0x1234, flags: 0x0100, name, type, options: ecs ? [ecsV4([193, 0, 0, 0], 24)] : null });
const LOCAL = Uint8Array.of(127, 0, 0, 1); // the resolver's address, as the socket edge hands it over
const cases = { static: q('static.gslb.test', 1), steered: q('www.gslb.test', 1), steeredEcs: q('www.gslb.test', 1, true), nx: q('nx1.gslb.test', 1) };
// As the batched UDP engine calls it: the query in a 64 KiB input slot, the reply written into an output slot.
const SLOT = 65536;
const slotIn = new Uint8Array(SLOT);
const slotOut = new Uint8Array(SLOT);
for (const [name, msg] of Object.entries(cases)) {
  slotIn.set(msg);
  const now = Date.now();
  if (h.handleInto(slotIn, msg.length, LOCAL, 'udp', now, slotOut) === 0) throw new Error('no reply');
  const N = 400000;
  for (let i = 0; i < 50000; i++) h.handleInto(slotIn, msg.length, LOCAL, 'udp', now, slotOut);
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) h.handleInto(slotIn, msg.length, LOCAL, 'udp', now, slotOut);
  const ns = Number(process.hrtime.bigint() - t) / N;
  console.log(name.padEnd(12), (ns|0) + ' ns/query', Math.round(1e9/ns).toLocaleString() + '/s');
}
