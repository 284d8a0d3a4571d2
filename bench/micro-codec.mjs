// Micro-benchmark of the query-path wire codec on a steered answer, with dns2 alongside for scale.
// Run: npx tsc -p . && node bench/micro-codec.mjs
import dns2 from 'dns2';
import { decodeQuery } from '../dist/dns/decode-query.js';
import { encodeResponse } from '../dist/dns/encode-response.js';
import { nameToWire } from '../dist/dns/name.js';

const { Packet } = dns2;

// The steered query: one question, EDNS (4096) with ECS 198.51.100.0/24, mixed case (0x20).
const p = new Packet();
p.header.id = 0x1234;
p.header.rd = 1;
p.questions.push({ name: 'wWw.GsLb.ExAmPle.CoM', type: 1, class: 1 });
p.additionals.push(Packet.Resource.EDNS([Packet.Resource.EDNS.ECS('198.51.100.0/24')]));
const req = p.toBuffer();

const decoded = decodeQuery(req);
if (decoded.kind !== 'query') throw new Error('bench query did not decode');
const query = decoded.query;
const a = (ip) => ({ owner: query.qname, ownerWire: nameToWire(query.qname), type: 1, klass: 1, ttl: 30, rdata: Uint8Array.from(ip) });
const answer = { rcode: 0, aa: true, answer: [a([192, 0, 2, 1]), a([192, 0, 2, 2])], authority: [], additional: [], ecsScope: 24 };

function bench(name, fn, iterations) {
  let sink = 0;
  for (let i = 0; i < iterations / 10; i++) sink += fn(); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += fn();
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  console.log(`${name.padEnd(44)} ${ns.toFixed(0).padStart(6)} ns/op  ${(1e9 / ns / 1e6).toFixed(2).padStart(6)} M/s`);
  return sink;
}

const N = Number(process.argv[2] ?? 2_000_000);
bench('decodeQuery (EDNS+ECS)', () => (decodeQuery(req).kind === 'query' ? 1 : 0), N);
bench('encodeResponse (2 A, OPT+ECS)', () => encodeResponse(req, query, answer, 1232).length, N);
bench('decode + encode', () => {
  const r = decodeQuery(req);
  return r.kind === 'query' ? encodeResponse(req, r.query, answer, r.query.edns ? Math.min(r.query.edns.udpSize, 1232) : 512).length : 0;
}, N);
const four = { ...answer, answer: [...answer.answer, ...answer.answer] };
bench('encodeResponse (4 A, OPT+ECS)', () => encodeResponse(req, query, four, 1232).length, N);

// dns2 for scale (fewer iterations: it is much slower).
const ref = Packet.parse(req);
const res = Packet.createResponseFromRequest(ref);
for (const ip of ['192.0.2.1', '192.0.2.2']) res.answers.push({ name: ref.questions[0].name, type: 1, class: 1, ttl: 30, address: ip });
res.additionals.push(Packet.Resource.EDNS([{ ...Packet.Resource.EDNS.ECS('198.51.100.0/24'), scopePrefixLength: 24 }]));
bench('dns2 Packet.parse', () => Packet.parse(req).questions.length, N / 20);
bench('dns2 toBuffer (same answer)', () => res.toBuffer().length, N / 20);
