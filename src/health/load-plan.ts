// Loads the policy of a zones folder: steering from the steering loader, and the health checks
// written in the same files (under regions, and under pool endpoints) into a HealthPlan beside it.
// The checks are read where they are written, so their errors keep file:line and file order.

import type { ConfigError } from '../config/errors.js';
import type { Path, YamlFile } from '../config/yaml-source.js';
import type { RegionId } from '../core/region-id.js';
import { loadSteering, type CheckReader } from '../steering/load-policy.js';
import type { Endpoint, SteeringConfig } from '../steering/policy.js';
import { CheckError, parseChecks, type CheckConfig, type CheckId, type CheckSite } from './check-config.js';
import { EndpointCheckSet } from './endpoint-checks.js';
import type { HealthPlan } from './plan.js';

export interface LoadedPolicy {
  steering: SteeringConfig;
  health: HealthPlan;
  errors: ConfigError[];
  /** The tenants file, when its content was unchanged (not parsed again). */
  unchanged?: string[];
}

/** `loadSteering`'s arguments; the checks it meets are read into the plan. */
export function loadPolicy(
  dir: string,
  zoneOrigins: readonly string[],
  staticAddressNames: (fqdn: string) => boolean,
  failedOrigins: readonly string[] = [],
): LoadedPolicy {
  const reader = new PlanReader();
  const { config, errors, unchanged } = loadSteering(dir, zoneOrigins, staticAddressNames, failedOrigins, reader);
  return { steering: config, health: reader.plan(config), errors, ...(unchanged ? { unchanged } : {}) };
}

/** Collects checks as the steering loader meets them; `plan` keeps those of what loaded. */
class PlanReader implements CheckReader {
  private readonly byRegion = new Map<RegionId, CheckConfig[]>();
  private readonly byEndpoint = new Map<Endpoint, CheckId[]>();
  /** Identical endpoint checks of every file are one, probed once. */
  private readonly endpointChecks = new EndpointCheckSet();

  region(y: YamlFile, path: Path, region: RegionId, raw: readonly unknown[]): void {
    this.byRegion.set(region, parseChecks(region, raw, checkSite(y, path)));
  }

  endpoint(y: YamlFile, path: Path, region: RegionId, endpoint: Endpoint, raw: readonly unknown[]): void {
    const checks = parseChecks(region, raw, checkSite(y, path)).map((c) => this.endpointChecks.intern(c));
    if (checks.length > 0) this.byEndpoint.set(endpoint, checks.map((c) => c.id));
  }

  plan(steering: SteeringConfig): HealthPlan {
    const regions = new Map<RegionId, readonly CheckConfig[]>();
    for (const id of steering.regions.keys()) regions.set(id, this.byRegion.get(id) ?? []);
    const pools = new Map<string, Map<RegionId, Map<string, readonly CheckId[]>>>();
    for (const p of steering.hostnames.values()) {
      for (const [region, pool] of p.pools) {
        for (const e of pool.list ?? []) {
          const ids = this.byEndpoint.get(e);
          if (!ids) continue;
          let byRegion = pools.get(p.fqdn);
          if (!byRegion) pools.set(p.fqdn, (byRegion = new Map()));
          let byAddress = byRegion.get(region);
          if (!byAddress) byRegion.set(region, (byAddress = new Map()));
          byAddress.set(e.text, ids);
        }
      }
    }
    return { regions, endpointChecks: this.endpointChecks.all(), pools };
  }
}

/** The checks list at `path` of a file, for the health module's parser: this file's lines and error list. */
function checkSite(y: YamlFile, path: Path): CheckSite {
  return {
    file: y.file,
    line: (p) => y.line([...path, ...p]),
    error: (code, p, message) => y.error(code, [...path, ...p], message),
    shape: (schema, p) => y.check(schema, [...path, ...p], CheckError),
  };
}
