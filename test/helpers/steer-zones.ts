// test/e2e/steer-zones copied to a temporary folder, with eu-central health-checked over HTTP: the
// zones of the end-to-end tests that watch a region go up or down (api.steer.test answers
// 198.51.100.10 for Amsterdam while eu-central is operational, 192.0.2.10 otherwise).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './server-process.js';

export const GEOIP_FIXTURE = path.join(REPO, 'geo/fixtures/world-geoip2.mmdb');

/** The folder; `check` is the check's settings after its url (interval, timeout, rise, fall). */
export function steerZonesWithCheck(prefix: string, url: string, check: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.cpSync(path.join(REPO, 'test/e2e/steer-zones'), dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'regions.yaml'), `regions:
  us-east:    { location: { lat: 39.04, lon: -77.49 } }
  eu-central:
    location: { lat: 50.11, lon: 8.68 }
    checks:
      - { type: http, url: "${url}", ${check} }
  ap-south:   { location: { lat: 19.08, lon: 72.88 } }
`);
  return dir;
}

/**
 * A loopback HTTP target that always answers 200, and steer zones whose eu-central check probes it
 * every 200 ms with fall 3: three failed probes in a row (600 ms) take eu-central out of the answers.
 */
export async function zonesWithHealthyTarget(prefix: string): Promise<{ target: http.Server; zones: string }> {
  const target = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/`;
  return { target, zones: steerZonesWithCheck(prefix, url, 'interval: 200ms, timeout: 180ms, rise: 1, fall: 3') };
}
