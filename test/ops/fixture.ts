// A small fleet for the ops API tests: a zones folder in a temp dir (three regions, three steered
// hostnames), the real MemoryStore with a state directory, a real Coordinator with a health source the
// test can flip, and a fastify app with the ops routes.
//
//   api.gslb.example.com.  stable 99.9 [us-east, eu-central], canary 0.1 [ap-south]
//   web.gslb.example.com.  one set "all" [us-east, eu-central]
//   eu.gslb.example.com.   one set "all" [eu-central]
// With `tenants: true`, also *.app.gslb.example.com. [us-east, eu-central] routing tenants, with
// acme → eu-central in tenants.csv.

import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { loadConfig, type LoadedConfig } from '../../src/server/load-config.js';
import { createLogger } from '../../src/obs/logger.js';
import { parseTokens, type TokenSet } from '../../src/ops/auth.js';
import type { OpsDeps } from '../../src/ops/route-kit.js';
import { registerOpsRoutes } from '../../src/ops/routes.js';
import { configIdentity } from '../../src/server/config-identity.js';
import { zoneSerial } from '../../src/zone/serial.js';
import { Coordinator } from '../../src/state/coordinator.js';
import { LocalPresence } from '../../src/state/fleet-presence.js';
import { MemoryStore } from '../../src/state/memory-store.js';
import type { RegionHealth } from '../../src/state/snapshot.js';
import type { RegionId } from '../../src/steering/policy.js';

export const WRITE_TOKEN = 'w'.repeat(40);
export const READ_TOKEN = 'r'.repeat(40);
export const TOKENS_TEXT = `# test tokens\nalice:${WRITE_TOKEN}\ngrafana:${READ_TOKEN}:read\n`;
export const WRITE = { authorization: `Bearer ${WRITE_TOKEN}` };
export const READ = { authorization: `Bearer ${READ_TOKEN}` };

export const API = 'api.gslb.example.com.';
export const WEB = 'web.gslb.example.com.';
export const EU = 'eu.gslb.example.com.';

const ZONE = `$ORIGIN gslb.example.com.
$TTL 300
@    SOA ns1 hostmaster 1 3600 600 86400 60
@    NS  ns1
ns1  A   127.0.0.1
www  A   192.0.2.80
`;

const REGIONS = `regions:
  us-east:    { location: { lat: 39.04, lon: -77.49 } }
  eu-central: { location: { lat: 50.11, lon: 8.68 } }
  ap-south:   { location: { lat: 19.08, lon: 72.88 } }
`;

const STEER = `hostnames:
  api:
    pools:
      us-east: [192.0.2.10]
      eu-central: [198.51.100.10]
      ap-south: [203.0.113.10]
    split:
      - { name: stable, weight: 99.9, regions: [us-east, eu-central] }
      - { name: canary, weight: 0.1, regions: [ap-south] }
  web:
    pools:
      us-east: [192.0.2.20]
      eu-central: [198.51.100.20]
  eu:
    pools:
      eu-central: [198.51.100.30]
`;

const TENANTS = `  "*.app":
    pools:
      us-east: [192.0.2.40]
      eu-central: [198.51.100.40]
    tenants:
      source: tenants.csv
      residency: { eu-central: [] }
`;

export function writeZones(dir: string, tenants = false): LoadedConfig {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'gslb.example.com.zone'), ZONE);
  writeFileSync(path.join(dir, 'regions.yaml'), REGIONS);
  writeFileSync(path.join(dir, 'gslb.example.com.steer.yaml'), tenants ? STEER + TENANTS : STEER);
  if (tenants) writeFileSync(path.join(dir, 'tenants.csv'), 'acme,eu-central\n');
  const cfg = loadConfig(dir);
  expect(cfg.errors).toEqual([]);
  return cfg;
}

export interface Fleet {
  dir: string;
  stateDir: string;
  cfg: LoadedConfig;
  store: MemoryStore;
  coordinator: Coordinator;
  /** Region health as the probes would say; call setHealth to change it (refreshes the coordinator). */
  health: Map<RegionId, RegionHealth>;
  setHealth(region: RegionId, h: RegionHealth | null): void;
  app: FastifyInstance;
  deps: OpsDeps;
  close(): Promise<void>;
}

export interface FleetOptions {
  tokens?: TokenSet;
  openReads?: boolean;
  now?: () => number;
  healthReport?: () => unknown;
  dir?: string;
  /** Add a hostname that routes tenants (see the top of this file). */
  tenants?: boolean;
}

export const log = createLogger({ level: 'silent' });

export function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'regiondns-ops-'));
}

let reloads = 0;

function fleetOfOne(cfg: LoadedConfig): LocalPresence {
  const identity = configIdentity(cfg.zones.map((z) => ({ origin: z.origin, hash: z.hash ?? '', serial: zoneSerial(z.records) })), cfg.steering, cfg.health);
  const presence: LocalPresence = new LocalPresence({
    instanceId: 'test-1', identity: () => identity, reload: (id) => presence.reloaded({ id, ok: true, at: Date.now() }),
  });
  return presence;
}

export async function startFleet(opts: FleetOptions = {}): Promise<Fleet> {
  const dir = opts.dir ?? tempDir();
  const cfg = writeZones(path.join(dir, 'zones'), opts.tenants);
  const stateDir = path.join(dir, 'state');
  const store = new MemoryStore({ stateDir, now: opts.now });
  await store.start();
  const health = new Map<RegionId, RegionHealth>();
  const coordinator = new Coordinator(
    { zones: cfg.zones, steering: cfg.steering, endpointCheckIds: cfg.health.pools, geo: null, latencyTable: null },
    { store, log, health: () => new Map(health), now: opts.now, tickMs: 60_000 },
  );
  coordinator.start();
  const app = Fastify({ logger: false });
  const deps: OpsDeps = {
    store,
    snapshot: () => coordinator.snapshot(),
    tokens: opts.tokens ?? parseTokens(TOKENS_TEXT, 'tokens.txt'),
    openReads: opts.openReads ?? false,
    now: opts.now ?? Date.now,
    instanceId: 'test-1',
    healthReport: opts.healthReport,
    // POST /v1/reload on a fleet of one whose reloads always succeed (e2e tests reload real files).
    reloader: { presence: fleetOfOne(cfg), newId: () => `reload-${++reloads}` },
  };
  registerOpsRoutes(app, deps);
  await app.ready();
  return {
    dir, stateDir, cfg, store, coordinator, health, app, deps,
    setHealth(region, h) {
      if (h) health.set(region, h);
      else health.delete(region);
      coordinator.refresh('health');
    },
    async close() {
      coordinator.stop();
      await app.close();
      await store.close();
    },
  };
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
