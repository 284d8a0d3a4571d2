// A fleet-wide reload (POST /v1/reload): every instance reloads its zones from its own files and
// reports, through its presence, the reload's outcome and what it now serves. The answer waits
// (bounded) until every instance live when the reload was asked has reported, and names those that
// did not in time.

import type { FleetPresence, Presence } from '../state/fleet-presence.js';

export const DEFAULT_RELOAD_WAIT_MS = 10_000;
const POLL_MS = 150;

/** How a reload reaches the fleet: its presence, through which every instance is asked and reports. */
export interface FleetReloader {
  presence: FleetPresence;
  newId(): string;
  waitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface InstanceReloadResult {
  id: string;
  ok: boolean;
  hash: string;
  serials: Record<string, number | null>;
  /** The reload's errors with file:line (the instance keeps serving what it served before). */
  error: string | null;
}

export interface FleetReloadReport {
  reload: string;
  /** Every instance reloaded. */
  ok: boolean;
  instances: InstanceReloadResult[];
  /** Instances live when it was asked that had not reported it when the wait ended. */
  notReported: string[];
  /** Why other instances could not be asked or listed (Redis unreachable), or null. */
  error: string | null;
}

/** Asks every live instance to reload and waits for their reports. */
export async function fleetReload(r: FleetReloader, id: string): Promise<FleetReloadReport> {
  const now = r.now ?? Date.now;
  const sleep = r.sleep ?? ((ms: number) => new Promise<void>((res) => setTimeout(res, ms)));
  const before = await r.presence.instances();
  const expected = before.instances.map((p) => p.id);
  let error = before.error;
  try {
    await r.presence.requestReload(id);
  } catch (err) {
    error = `the other instances could not be asked: redis: ${(err as Error).message}`;
  }
  const deadline = now() + (r.waitMs ?? DEFAULT_RELOAD_WAIT_MS);
  let seen = new Map<string, Presence>();
  for (;;) {
    const list = await r.presence.instances();
    if (list.error) error ??= list.error;
    seen = new Map(list.instances.map((p) => [p.id, p]));
    const done = expected.every((i) => seen.get(i)?.lastReload?.id === id);
    if (done || now() >= deadline) break;
    await sleep(POLL_MS);
  }
  const instances: InstanceReloadResult[] = [];
  const notReported: string[] = [];
  for (const i of expected) {
    const p = seen.get(i);
    if (!p || p.lastReload?.id !== id) {
      notReported.push(i);
      continue;
    }
    instances.push({ id: i, ok: p.lastReload.ok, hash: p.hash, serials: p.serials, error: p.lastReload.ok ? null : p.lastReload.error ?? 'reload failed' });
  }
  return { reload: id, ok: notReported.length === 0 && instances.every((x) => x.ok), instances, notReported, error };
}
