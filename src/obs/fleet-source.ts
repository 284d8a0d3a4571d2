// The fleet-state gauges' view of a running server: read at scrape time, never on the query path.

import type { FleetStore } from '../state/fleet-store.js';
import type { Snapshot } from '../state/snapshot.js';
import type { FleetMetricsSource } from './metrics.js';

export function fleetMetricsSource(store: FleetStore, snapshot: () => Snapshot, ready: () => boolean): FleetMetricsSource {
  return {
    ready,
    storeConnected: () => store.status().connected,
    storeVersion: () => store.version(),
    drainedRegions: () => snapshot().drains.keys(),
    regions: () => snapshot().steering.regions.keys(),
    *ramps() {
      for (const r of store.get('ramp').values()) {
        const percent = r.steps[r.step];
        if (typeof percent === 'number') yield { fqdn: r.fqdn, percent, state: r.state };
      }
    },
  };
}
