// Connection caps derived from ulimit -n: descriptors are kept for the process and for probes, the
// HTTP listener gets the smallest share, explicit flags are kept (with a warning when they do not fit).
import { describe, expect, it } from 'vitest';
import { openFileLimit, PER_PROBE, PER_WORKER, planCaps, PROCESS_RESERVE } from '../../src/server/fd-budget.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            256                  524288               files
Max locked memory         8388608              8388608              bytes
`;
const DEFAULTS = { httpMaxConnections: 256, tcpMaxConnections: 1000, tcpMaxConnectionsPerClient: 100 };

describe('openFileLimit', () => {
  it('reads the soft limit from /proc/self/limits text', () => {
    expect(openFileLimit(LIMITS)).toBe(256);
    expect(openFileLimit(LIMITS.replace('256   ', 'unlimited'))).toBeNull();
    expect(openFileLimit('nothing here')).toBeNull();
  });

  it('reads this process on Linux', () => {
    const n = openFileLimit();
    expect(n === null || n > 0).toBe(true);
  });
});

describe('planCaps', () => {
  it('keeps the defaults when the limit is high or unknown', () => {
    expect(planCaps(1_048_576, DEFAULTS, {}, 32)).toEqual({ ...DEFAULTS, warnings: [] });
    expect(planCaps(null, DEFAULTS, {}, 32)).toEqual({ ...DEFAULTS, warnings: [] });
  });

  it('under ulimit -n 256, keeps descriptors for the process and probes; HTTP gets the smallest share', () => {
    const plan = planCaps(256, DEFAULTS, {}, 32);
    const room = 256 - PROCESS_RESERVE - PER_PROBE * 32;
    expect(plan.httpMaxConnections + plan.tcpMaxConnections).toBeLessThanOrEqual(room);
    expect(plan.httpMaxConnections).toBeLessThan(plan.tcpMaxConnections);
    expect(plan.httpMaxConnections).toBeGreaterThan(0);
    expect(plan.tcpMaxConnectionsPerClient).toBeLessThanOrEqual(plan.tcpMaxConnections);
    expect(plan.warnings).toEqual([]);
  });

  it('keeps explicit caps, and warns when they do not fit', () => {
    const plan = planCaps(256, DEFAULTS, { tcpMaxConnections: 500, httpMaxConnections: 8 }, 32);
    expect(plan).toMatchObject({ tcpMaxConnections: 500, httpMaxConnections: 8, tcpMaxConnectionsPerClient: 100 });
    expect(plan.warnings).toHaveLength(1);
    expect(plan.warnings[0]).toMatch(/^ulimit -n is 256: .*--http-max-connections 8 plus --tcp-max-connections 500.*Raise ulimit -n/);
  });

  it('a per-client cap is never above the global one unless asked', () => {
    expect(planCaps(null, DEFAULTS, { tcpMaxConnections: 5 }, 32).tcpMaxConnectionsPerClient).toBe(5);
    expect(planCaps(null, DEFAULTS, { tcpMaxConnections: 5, tcpMaxConnectionsPerClient: 9 }, 32).tcpMaxConnectionsPerClient).toBe(9);
  });

  it('shares one limit among the worker threads: each gets its TCP cap, all of them fit', () => {
    const limit = 1024;
    const plan = planCaps(limit, DEFAULTS, {}, 32, 4);
    const room = limit - PROCESS_RESERVE - PER_PROBE * 32 - PER_WORKER * 4;
    expect(plan.httpMaxConnections + 4 * plan.tcpMaxConnections).toBeLessThanOrEqual(room);
    expect(plan.tcpMaxConnections).toBeGreaterThan(plan.httpMaxConnections);
    expect(plan.warnings).toEqual([]);
    // One worker gets it all; the limit is high enough for the defaults in every worker: unchanged.
    expect(planCaps(limit, DEFAULTS, {}, 32, 1).tcpMaxConnections).toBeGreaterThan(2 * plan.tcpMaxConnections);
    expect(planCaps(1_048_576, DEFAULTS, {}, 32, 4)).toEqual({ ...DEFAULTS, warnings: [] });
    const tight = planCaps(limit, DEFAULTS, { tcpMaxConnections: 500 }, 32, 4);
    expect(tight.warnings[0]).toMatch(/4 workers × --tcp-max-connections 500/);
  });
});
