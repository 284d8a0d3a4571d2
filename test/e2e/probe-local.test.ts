// A prober's own failures are not verdicts. The server runs under a low `ulimit -n`; the test takes
// its last descriptors with idle DNS-over-TCP connections (the caps are raised past the limit on
// purpose), so its health probes fail with EMFILE. The region must stay up (fall: 3 — three counted
// failures would take it out of the answers), the skips are counted by reason and logged.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { metricValue, scrape } from '../helpers/fuzz.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { GEOIP_FIXTURE, zonesWithHealthyTarget } from '../helpers/steer-zones.js';
import { askWithNsid } from '../helpers/workers.js';

const EU = '198.51.100.10'; // api.steer.test for Amsterdam while eu-central is up
const NOFILE = 64;
let server: ServerProcess;
let target: http.Server;
let zones: string;

beforeAll(async () => {
  ({ target, zones } = await zonesWithHealthyTarget('regiondns-probe-local-'));
  server = await startServer(['--zones', zones, '--geoip', GEOIP_FIXTURE,
    '--tcp-max-connections', '500', '--tcp-max-connections-per-client', '500', '--http-max-connections', '4'], { ulimitNofile: NOFILE });
});
afterAll(async () => {
  await server?.stop();
  target?.close();
  if (zones) fs.rmSync(zones, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('probes failing with EMFILE leave the region up, are counted and logged', async () => {
  expect((await askWithNsid(server.port, 'api.steer.test', '193.0.0.0/24')).answer).toEqual([EU]);
  expect(server.logs.some((l) => l.reason === 'emfile')).toBe(false); // at rest, the limit is enough
  const emfile = (l: Record<string, unknown>) => l.reason === 'emfile' && typeof l.msg === 'string' && l.msg.includes('failed on this instance');
  const held: net.Socket[] = [];
  try {
    // More connections than the limit leaves, until a probe meets EMFILE (bounded: 400 sockets, 20 s).
    const deadline = Date.now() + 20_000;
    while (!server.logs.some(emfile) && Date.now() < deadline) {
      for (let i = 0; i < 16 && held.length < 400; i++) {
        const s = net.connect(server.port, '127.0.0.1');
        s.on('error', () => undefined);
        held.push(s);
      }
      await sleep(200);
    }
    expect(server.logs.some(emfile)).toBe(true);
    // Several probe rounds without descriptors; UDP still answers, eu-central first.
    for (let i = 0; i < 6; i++) {
      expect((await askWithNsid(server.port, 'api.steer.test', '193.0.0.0/24')).answer).toEqual([EU]);
      await sleep(200);
    }
  } finally {
    for (const s of held) s.destroy();
  }
  // Descriptors back: the metrics tell what happened.
  let text = '';
  for (let i = 0; i < 50; i++) {
    try { text = await scrape(server.httpPort); break; } catch { await sleep(100); }
  }
  expect(metricValue(text, 'regiondns_probes_skipped_total', '{region="eu-central",check="http#0",reason="emfile"}')).toBeGreaterThan(0);
  expect(metricValue(text, 'regiondns_check_transitions_total', '{region="eu-central",check="http#0",to="down"}')).toBe(0);
  expect(metricValue(text, 'regiondns_check_up', '{region="eu-central",check="http#0"}')).toBe(1);
  expect((await askWithNsid(server.port, 'api.steer.test', '193.0.0.0/24')).answer).toEqual([EU]);
  for (let i = 0; i < 100 && !server.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('run again on this instance')); i++) await sleep(100);
  expect(server.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('run again on this instance'))).toBe(true);
});
