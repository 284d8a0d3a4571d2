// What a worker accepts from its primary: good messages pass as they are, bad ones are skipped and
// counted (namespace "worker"), so a broken message can never reach a worker's snapshot.
import { describe, expect, it } from 'vitest';
import { fleetStoreBadEntries } from '../../src/obs/metrics.js';
import { parseWorkerMessage } from '../../src/server/worker-messages.js';
import { EntryGate } from '../../src/state/schemas.js';

const drain = { region: 'eu-central', reason: 'x', hostnames: null, by: 'a', at: 1 };
const state = { type: 'state', version: 3, regionHealth: [['us-east', { up: false, reason: 'HTTP 500' }]], drains: [['eu-central', drain]], weightOverrides: [['api.example.', [99, 1]]], endpointHealth: [['192.0.2.1', { up: false, reason: 'HTTP 500' }]], endpointDrains: [['192.0.2.2', { address: '192.0.2.2', reason: 'maintenance', hostnames: null, by: 'alice', at: 1 }]] };
const tenants = { type: 'tenants', seq: 2, full: false, set: [['acme', 'eu-central'], ['gone', null]], removed: ['old'] };

async function badWorker(): Promise<number> {
  return (await fleetStoreBadEntries.get()).values.find((v) => v.labels.namespace === 'worker')?.value ?? 0;
}

describe('parseWorkerMessage', () => {
  const gate = new EntryGate();

  it('passes good messages unchanged', () => {
    expect(parseWorkerMessage(state, gate)).toEqual(state);
    expect(parseWorkerMessage(tenants, gate)).toEqual(tenants);
    const config = { type: 'config', config: { zones: [{ key: 'k', origin: 'example.', data: { chars: new Uint16Array(2) } }], steering: { regions: new Map() }, latencyTable: null } };
    expect(parseWorkerMessage(config, gate)).toBe(config);
    expect(parseWorkerMessage({ type: 'stop' }, gate)).toEqual({ type: 'stop' });
    expect(parseWorkerMessage({ type: 'metrics', id: 4 }, gate)).toEqual({ type: 'metrics', id: 4 });
  });

  it('skips and counts a drain without hostnames, a drain under another region, bad weights, bad tenant pairs, unknown types', async () => {
    const before = await badWorker();
    const bad = [
      { ...state, drains: [['eu-central', { region: 'eu-central', reason: 'x', by: 'a', at: 1 }]] },
      { ...state, drains: [['us-east', drain]] },
      { ...state, weightOverrides: [['api.example.', [Number.NaN]]] },
      { ...state, regionHealth: [['us-east', { up: 'no' }]] },
      { ...tenants, set: [['acme', 7]] },
      { ...tenants, set: [['acme']] },
      { ...tenants, seq: 'two' },
      { type: 'explode' },
      { type: 'reload' }, // workers are handed configurations now, they do not load one
      { type: 'config', config: { zones: [{ origin: 'example.' }], steering: {} } },
      { type: 'config' },
      null,
      'state',
    ];
    for (const m of bad) expect(parseWorkerMessage(m, gate), JSON.stringify(m)).toBeUndefined();
    expect((await badWorker()) - before).toBe(bad.length);
  });
});
