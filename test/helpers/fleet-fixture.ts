// The fleet fixture (test/e2e/fleet-zones): its names, the client subnets that pick its regions, and
// the address each region answers with. Shared by the fleet e2e test and the fault suite.
import path from 'node:path';
import { REPO } from './server-process.js';

export const FLEET_ZONES = path.join(REPO, 'test/e2e/fleet-zones');
export const GEOIP = path.join(REPO, 'geo/fixtures/world-geoip2.mmdb');
export const API = 'api.fleet.test.';
export const SOLO = 'solo.fleet.test.';
export const AMSTERDAM = '193.0.0.0/24'; // nearest eu-central, then us-east
export const INDIA = '49.44.0.0/24'; // nearest ap-south (canary set only), then eu-central

export const IP = {
  api: { 'us-east': '192.0.2.10', 'eu-central': '198.51.100.10', 'ap-south': '203.0.113.10' },
  solo: { 'us-east': '192.0.2.20', 'eu-central': '198.51.100.20' },
} as const;
