// commitChecked: a change is prepared on the version it commits on; another write in between makes it
// prepare again, and a state that never stops moving ends in 503 STORE_CONTENDED with nothing changed.
import { describe, expect, it } from 'vitest';
import { OpsError } from '../../src/ops/errors.js';
import { commitChecked } from '../../src/ops/route-kit.js';
import type { AuditInput } from '../../src/state/fleet-store.js';
import { MemoryStore } from '../../src/state/memory-store.js';

const audit: AuditInput = { actor: 't', action: 'drain', target: 'x', reason: null, before: null, after: null };
const drain = (region: string) => ({ region, reason: 'r', hostnames: null, by: 't', at: 1 });

describe('commitChecked', () => {
  it('prepares again when another write lands between the check and the commit', async () => {
    const store = new MemoryStore({ stateDir: null });
    let prepared = 0;
    const seen: number[] = [];
    const result = await commitChecked(store, () => {
      prepared++;
      seen.push(store.get('drain').size);
      // The first time, another writer gets in first.
      if (prepared === 1) void store.write([{ ns: 'drain', key: 'us-east', value: drain('us-east') }], audit);
      return { changes: [{ ns: 'drain', key: 'eu-west', value: drain('eu-west') }], audit, answer: (v) => v };
    });
    expect(prepared).toBe(2);
    expect(seen).toEqual([0, 1]); // the second check saw the other write
    expect(result).toBe(2);
  });

  it('gives up with 503 STORE_CONTENDED when the state keeps moving; its own change is not written', async () => {
    const store = new MemoryStore({ stateDir: null });
    const err = await commitChecked(store, () => {
      void store.write([{ ns: 'drain', key: `r${store.version()}`, value: drain(`r${store.version()}`) }], audit);
      return { changes: [{ ns: 'drain', key: 'mine', value: drain('mine') }], audit, answer: (v) => v };
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpsError);
    expect(err).toMatchObject({ code: 'REGIONDNS_ERR_STORE_CONTENDED', status: 503 });
    expect(store.get('drain').has('mine')).toBe(false);
  });
});
