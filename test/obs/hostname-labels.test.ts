import { describe, expect, it } from 'vitest';
import { hostnameLabelsFor, OTHER_HOSTNAMES, parseHostnameLabels } from '../../src/obs/metrics.js';

describe('hostname labels of regiondns_steering_answers_total stay bounded', () => {
  const seen = ['c.gslb.example.com.', 'a.gslb.example.com.', 'b.gslb.example.com.'];

  it('auto: the first N by name keep their label, the rest are _other, whatever the order seen', () => {
    const m = hostnameLabelsFor(seen, { kind: 'auto', max: 2 });
    expect(m.get('a.gslb.example.com.')).toBe('a.gslb.example.com.');
    expect(m.get('b.gslb.example.com.')).toBe('b.gslb.example.com.');
    expect(m.get('c.gslb.example.com.')).toBe(OTHER_HOSTNAMES);
    expect(hostnameLabelsFor([...seen].reverse(), { kind: 'auto', max: 2 })).toEqual(m);
  });

  it('a list keeps exactly the hostnames named; none keeps no hostname', () => {
    const list = parseHostnameLabels('C.gslb.example.com, a.gslb.example.com.');
    const m = hostnameLabelsFor(seen, list);
    expect([...m.entries()].filter(([k, v]) => k === v).map(([k]) => k)).toEqual(['a.gslb.example.com.', 'c.gslb.example.com.']);
    expect(new Set(hostnameLabelsFor(seen, parseHostnameLabels('none')).values())).toEqual(new Set([OTHER_HOSTNAMES]));
  });

  it('parses all, none, a count, and refuses an empty list', () => {
    expect(parseHostnameLabels('all')).toEqual({ kind: 'auto', max: Number.POSITIVE_INFINITY });
    expect(parseHostnameLabels('250')).toEqual({ kind: 'auto', max: 250 });
    expect(() => parseHostnameLabels(',')).toThrow(/--metrics-hostnames/);
  });
});
