// End to end: `regiondns serve` as a real process on a free loopback port, queried with a JS
// client (replies decoded by dns2) and with the real `dig`, over UDP and TCP.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { buildQuery, flagsOf, parse, tcpExchange, udpExchange, udpNoReply } from '../helpers/dns-client.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const ZONES = path.resolve(import.meta.dirname, 'zones');
let server: ServerProcess;
let zonesDir: string;

beforeAll(async () => {
  zonesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-e2e-'));
  fs.cpSync(ZONES, zonesDir, { recursive: true });
  server = await startServer(['--zones', zonesDir, '--no-geoip']);
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(zonesDir, { recursive: true, force: true });
});

describe('dig over UDP', () => {
  it('A: authoritative answer', () => {
    const r = dig(server.port, ['www.e2e.test', 'A']);
    expect(r.status).toBe('NOERROR');
    expect(r.flags).toContain('aa');
    expect(r.answer).toEqual([['www.e2e.test.', '300', 'IN', 'A', '192.0.2.1']]);
  });

  it('NXDOMAIN with the SOA at the negative TTL', () => {
    const r = dig(server.port, ['nope.e2e.test', 'A']);
    expect(r.status).toBe('NXDOMAIN');
    expect(r.flags).toContain('aa');
    expect(r.authority[0].slice(0, 4)).toEqual(['e2e.test.', '60', 'IN', 'SOA']);
  });

  it('NODATA', () => {
    const r = dig(server.port, ['www.e2e.test', 'MX']);
    expect(r.status).toBe('NOERROR');
    expect(r.answer).toEqual([]);
    expect(r.authority[0][3]).toBe('SOA');
  });

  it('REFUSED without AA outside our zones', () => {
    const r = dig(server.port, ['example.org', 'A']);
    expect(r.status).toBe('REFUSED');
    expect(r.flags).not.toContain('aa');
  });

  it('CNAME chased', () => {
    const r = dig(server.port, ['alias.e2e.test', 'A']);
    expect(r.answer).toEqual([
      ['alias.e2e.test.', '300', 'IN', 'CNAME', 'www.e2e.test.'],
      ['www.e2e.test.', '300', 'IN', 'A', '192.0.2.1'],
    ]);
  });

  it('wildcard', () => {
    const r = dig(server.port, ['anything.wild.e2e.test', 'A']);
    expect(r.answer).toEqual([['anything.wild.e2e.test.', '300', 'IN', 'A', '192.0.2.99']]);
  });

  it('referral: no AA, NS in authority, glue', () => {
    const r = dig(server.port, ['host.sub.e2e.test', 'A', '+norecurse']);
    expect(r.status).toBe('NOERROR');
    expect(r.flags).not.toContain('aa');
    expect(r.authority).toEqual([['sub.e2e.test.', '300', 'IN', 'NS', 'ns.sub.e2e.test.']]);
    expect(r.additional).toContainEqual(['ns.sub.e2e.test.', '300', 'IN', 'A', '192.0.2.53']);
  });

  it('the question case is preserved', () => {
    const r = dig(server.port, ['WwW.E2e.TeSt', 'A']);
    expect(r.raw).toContain(';WwW.E2e.TeSt.');
    expect(r.answer[0][0]).toBe('WwW.E2e.TeSt.');
  });

  it('a big answer is truncated over UDP and dig retries over TCP', () => {
    const udp = dig(server.port, ['big.e2e.test', 'TXT', '+ignore', '+bufsize=1232']);
    expect(udp.flags).toContain('tc');
    expect(udp.answer).toEqual([]);
    expect(udp.raw).toMatch(/OPT PSEUDOSECTION/); // the OPT survives truncation (RFC 6891 §7)
    const retried = dig(server.port, ['big.e2e.test', 'TXT', '+bufsize=1232']);
    expect(retried.flags).not.toContain('tc');
    expect(retried.answer.length).toBe(9);
    expect(retried.raw).toMatch(/\(TCP\)/);
  });

  it('BADVERS for EDNS version 1', () => {
    const r = dig(server.port, ['www.e2e.test', 'A', '+edns=1', '+noednsneg']);
    expect(r.status).toBe('BADVERS');
    expect(r.raw).toMatch(/EDNS: version: 0/);
  });

  it('an EDNS query gets an OPT; a plain one none', () => {
    expect(dig(server.port, ['www.e2e.test', 'A', '+edns=0']).raw).toMatch(/OPT PSEUDOSECTION/);
    expect(dig(server.port, ['www.e2e.test', 'A', '+noedns']).raw).not.toMatch(/OPT PSEUDOSECTION/);
  });

  it('dig over TCP', () => {
    const r = dig(server.port, ['www.e2e.test', 'AAAA', '+tcp']);
    expect(r.answer).toEqual([['www.e2e.test.', '300', 'IN', 'AAAA', '2001:db8::1']]);
  });
});

describe('kdig (Knot) as a second real client', () => {
  const kdig = (args: string[]) => execFileSync('kdig', ['@127.0.0.1', '-p', String(server.port), '+time=2', '+retry=0', ...args], { encoding: 'utf8' });

  it('two queries on one kept-open TCP connection', () => {
    const out = kdig(['+tcp', '+keepopen', 'www.e2e.test', 'A', 'alias.e2e.test', 'A']);
    expect(out.match(/status: NOERROR/g)?.length).toBe(2);
    expect(out).toMatch(/^www\.e2e\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.1$/m);
    expect(out).toMatch(/^alias\.e2e\.test\.\s+300\s+IN\s+CNAME\s+www\.e2e\.test\.$/m);
    expect(out.match(/\(TCP\)/g)?.length).toBe(2);
  });

  it('ECS on a static name is echoed with scope 0', () => {
    expect(kdig(['+subnet=193.0.0.0/24', 'www.e2e.test', 'A'])).toMatch(/CLIENT-SUBNET: 193\.0\.0\.0\/24\/0/);
  });
});

describe('JS client over UDP and TCP', () => {
  it('UDP A', async () => {
    const reply = parse(await udpExchange(server.port, buildQuery('www.e2e.test', 'A', { id: 4242 })));
    expect(reply.header.id).toBe(4242);
    expect(reply.header.aa).toBe(1);
    expect(reply.answers.map((a: { address: string }) => a.address)).toEqual(['192.0.2.1']);
  });

  it('pipelined TCP: several queries in one write, every reply with its id', async () => {
    const names = ['www.e2e.test', 'alias.e2e.test', 'nope.e2e.test', 'x.wild.e2e.test', 'example.org'];
    const replies = await tcpExchange(server.port, names.map((n, i) => buildQuery(n, 'A', { id: 100 + i })));
    const byId = new Map(replies.map((r) => [r.readUInt16BE(0), flagsOf(r).rcode]));
    expect([...byId.entries()].sort()).toEqual([[100, 0], [101, 0], [102, 3], [103, 0], [104, 5]]);
  });

  it('a response packet (QR=1) gets no reply', async () => {
    const q = buildQuery('www.e2e.test', 'A');
    q[2] |= 0x80;
    expect(await udpNoReply(server.port, q)).toBe(true);
  });

  it('opcode other than QUERY → NOTIMP; QDCOUNT 2 → FORMERR', async () => {
    const notify = buildQuery('www.e2e.test', 'SOA');
    notify[2] = (notify[2] & 0x87) | (4 << 3);
    expect(flagsOf(await udpExchange(server.port, notify)).rcode).toBe(4);
    const two = buildQuery('www.e2e.test', 'A');
    two.writeUInt16BE(2, 4);
    expect(flagsOf(await udpExchange(server.port, two)).rcode).toBe(1);
  });

  it('counts malformed packets in /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    expect(text).toMatch(/regiondns_malformed_packets_total\{kind="response_bit"\} [1-9]/);
    expect(text).toMatch(/regiondns_queries_total\{transport="udp",qtype="A",rcode="NOERROR"\} [1-9]/);
    expect(text).toMatch(/regiondns_queries_total\{transport="tcp",qtype="A",rcode="NXDOMAIN"\} [1-9]/);
  });

  it('/healthz and /readyz', async () => {
    expect((await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${server.httpPort}/readyz`);
    expect(ready.status).toBe(200);
  });
});

describe('SIGHUP reload', () => {
  it('applies a good change, and keeps serving the old zone when the new file is broken', async () => {
    const file = path.join(zonesDir, 'e2e.test.zone');
    const original = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, original.replace('www      IN A   192.0.2.1', 'www      IN A   192.0.2.111'));
    const reloaded = server.waitForLog((l) => l.msg === 'zones reloaded');
    server.proc.kill('SIGHUP');
    await reloaded;
    expect(dig(server.port, ['www.e2e.test', 'A']).answer[0][4]).toBe('192.0.2.111');

    fs.writeFileSync(file, original.replace('www      IN A   192.0.2.1', 'www      IN A   192.0.2.999').replace('$TTL 300', '$TTL 300\nbroken IN MX'));
    const failed = server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('reload failed'));
    server.proc.kill('SIGHUP');
    const line = await failed;
    expect(String(line.error)).toMatch(/e2e\.test\.zone:\d+: /);
    expect(dig(server.port, ['www.e2e.test', 'A']).answer[0][4]).toBe('192.0.2.111');
    fs.writeFileSync(file, original);
  });
});
