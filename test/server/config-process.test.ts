// The reload process: answers a load, then, idle, is ended (its heap after a large load is not
// carried by an instance at rest); the next load starts a new one. Runs the built process (dist/).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigProcess } from '../../dist/server/reload/config-process.js';
import { REPO } from '../helpers/server-process.js';

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const ZONES = path.join(REPO, 'zones');
let proc: ConfigProcess | null = null;
afterEach(async () => { await proc?.close(); proc = null; });

describe('ConfigProcess', () => {
  it('ends the reload process once idle, and starts a new one for the next load', async () => {
    proc = new ConfigProcess(200);
    const req = { zonesDir: ZONES, keysDir: null, maxFileBytes: 64 << 20, have: [] };
    const first = await proc.load(req);
    expect(first.errors).toEqual([]);
    expect(first.zones.length).toBeGreaterThan(0);
    const pid = proc.pid!;
    expect(alive(pid)).toBe(true);
    const deadline = Date.now() + 5_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);
    expect(proc.pid).toBeUndefined();
    const second = await proc.load({ ...req, have: first.zones.map((z) => z.key) });
    expect(second.errors).toEqual([]);
    expect(proc.pid).not.toBe(pid);
    for (const z of [...first.zones, ...second.zones]) if (z.data) fs.rmSync(z.data.path, { force: true });
  });
});
