// The shapes of the API answers the console reads (a subset of each; see /v1/openapi.yaml).

export interface GeoPoint { lat: number; lon: number }

export interface RegionState {
  id: string;
  location: GeoPoint | null;
  health: { up: boolean; reason: string };
  drained: boolean;
  drain: { reason: string; by: string; at: number; hostnames: string[] | null } | null;
}

export interface RampState {
  set: string;
  steps: number[];
  step: number;
  everyMs: number;
  nextAt: number;
  state: 'running' | 'halted' | 'done';
  haltReason: string | null;
  by: string;
}

export interface HostnameState {
  fqdn: string;
  regions: string[];
  sets: { name: string; regions: string[]; fileWeight: number; weight: number; share: number }[];
  override: { weights: Record<string, number>; by: string; at: number } | null;
  ramp: RampState | null;
}

export interface EndpointDrainState { address: string; reason: string; by: string; at: number; hostnames: string[] | null }

export interface FleetState {
  version: number;
  endpointDrains?: EndpointDrainState[];
  instance: string;
  store: { connected: boolean; detail: string };
  regions: RegionState[];
  hostnames: HostnameState[];
}

export interface CheckReport {
  type: string;
  target: string;
  up: boolean;
  stale: boolean;
  cause: string;
  intervalMs: number;
}

export interface HealthReport {
  regions: Record<string, { operational: boolean; reason: string; stale: boolean; checks: Record<string, CheckReport> }>;
  /** Checks of pool endpoints, each with the "<region> <address>" endpoints that use it. */
  endpointChecks?: Record<string, CheckReport & { endpoints: string[] }>;
}

export interface RegionEndpoint { address: string; hostnames: string[] }

export interface StreamMessage { seq: number; state: FleetState; health: HealthReport | null; endpoints?: Record<string, RegionEndpoint[]> }

export interface Who { name: string | null; access: 'read' | 'write' | null; instance: string }

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  reason: string | null;
  before: unknown;
  after: unknown;
}

export interface TraceLatency { region: string; km: number | null; rttMs: number | null; source: string }

export interface Trace {
  hostname: string | null;
  tenant: { slug: string; home: string | null; verdict: string; regions: string[]; why: string[] } | null;
  client: { address: string; prefix: number; source: 'ecs' | 'resolver' } | null;
  location: { country: string | null; city: string | null; lat: number; lon: number; networkPrefix: number } | 'unknown' | null;
  draw: { method: string; chosen: string; sets: { name: string; weight: number }[]; weightsFrom: string } | null;
  health: { region: string; up: boolean; reason: string }[] | null;
  allDown: { policy: string; action: string } | null;
  sort: { method: string; why: string | null; entries: TraceLatency[] } | null;
  answer: { region: string; v4: string[]; v6: string[] }[] | null;
  outcome: string | null;
  ttl: number | null;
}

export interface Explanation {
  hostname: string;
  client: string;
  steered: boolean;
  rcode: string;
  answer: string[];
  ecsScope: number;
  summary: string;
  trace: Trace | null;
}

export interface TenantView {
  slug: string;
  region: string;
  source: 'file' | 'api';
  override: { region: string | null; by: string; at: number } | null;
  file: { path: string; region: string } | null;
  hostnames: string[];
}
