// The operator console in a real browser (Debian's Chromium driven by playwright-core): sign in
// with a read token and with a write token, drain a region from the page and see DNS and the audit
// log change, see a health change arrive through the event stream without reloading, run an
// explain, and see the page say when it lost the stream. Screenshots of each view go to
// test-output/console/ (ignored by git).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { REPO, startServer, type ServerProcess } from '../helpers/server-process.js';

const TEMPLATE = path.resolve(import.meta.dirname, 'health-zones');
const GEOIP = path.join(REPO, 'geo/fixtures/world-geoip2.mmdb');
const SHOTS = path.join(REPO, 'test-output/console');
const HOST = 'api.health.test';
const AMSTERDAM = '193.0.0.0/24';
const READ_TOKEN = 'console-read-token-0123456789';
const WRITE_TOKEN = 'console-write-token-0123456789';
const CHROMIUM = process.env.REGIONDNS_CHROMIUM ?? '/usr/bin/chromium';

/** A health target the test turns healthy or failing (HTTP 500). */
class Target {
  ok = true;
  private readonly server = http.createServer((_req, res) => (this.ok ? res.end('ok\n') : res.writeHead(500).end('failing\n')));
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/healthz`;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function until<T>(what: string, read: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

const answerFor = (port: number): string | undefined => dig(port, [HOST, 'A', `+subnet=${AMSTERDAM}`]).answer[0]?.[4];

describe('operator console in a browser', () => {
  const targets = { us: new Target(), eu: new Target(), ap: new Target() };
  let server: ServerProcess;
  let browser: Browser;
  let dir: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regiondns-console-'));
    const urls = { us: await targets.us.start(), eu: await targets.eu.start(), ap: await targets.ap.start() };
    for (const f of fs.readdirSync(TEMPLATE)) if (f !== 'regions.yaml.template') fs.copyFileSync(path.join(TEMPLATE, f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, 'regions.yaml'), fs.readFileSync(path.join(TEMPLATE, 'regions.yaml.template'), 'utf8')
      .replaceAll('@US_URL@', urls.us).replaceAll('@EU_URL@', urls.eu).replaceAll('@AP_URL@', urls.ap)
      .replaceAll('@INTERVAL@', '300ms').replaceAll('@TIMEOUT@', '200ms'));
    const tokens = path.join(dir, 'tokens');
    fs.writeFileSync(tokens, `operator:${WRITE_TOKEN}\nviewer:${READ_TOKEN}:read\n`);
    server = await startServer(['--zones', dir, '--geoip', GEOIP, '--ops-tokens', tokens]);
    fs.mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // No sandbox as root; no background traffic: the browser talks to loopback only.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await Promise.all(Object.values(targets).map((t) => t.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function signIn(token: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
    await page.goto(`http://127.0.0.1:${server.httpPort}/ui/`);
    await page.fill('#token', token);
    await page.click('#signin');
    await page.waitForSelector('#stream.live');
    await page.waitForSelector('.region-btn');
    return page;
  }

  const regionState = (page: Page, region: string) => page.textContent(`.region-btn[data-region="${region}"]`);

  it('serves the page with a strict Content-Security-Policy and no inline script', async () => {
    const res = await fetch(`http://127.0.0.1:${server.httpPort}/ui/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(await res.text()).not.toMatch(/<script>(?!<\/script>)|<script(?![^>]*\bsrc=)[^>]*>/);
  });

  it('a read token sees every region on the map and no action', async () => {
    const page = await signIn(READ_TOKEN);
    expect(await page.textContent('#who')).toContain('read-only');
    for (const r of ['us-east', 'eu-central', 'ap-south']) expect(await regionState(page, r)).toBe(`${r}: up`);
    expect(await page.locator('svg.map g.region').count()).toBe(3);
    await page.click('.region-btn[data-region="eu-central"]');
    await page.waitForSelector('#region-panel');
    expect(await page.locator('#drain').count()).toBe(0);
    // The region's pool endpoints, with the hostnames that serve them and their state.
    const endpoint = page.locator('#region-panel tr[data-endpoint="198.51.100.10"]');
    expect(await endpoint.textContent()).toMatch(/198\.51\.100\.10\s*up\s*no checks of its own\s*api\.health\.test\./);
    await page.screenshot({ path: path.join(SHOTS, 'map.png') });
    await page.click('#tab-hostnames');
    await page.waitForSelector(`.hostname[data-hostname="${HOST}."]`);
    expect(await page.locator('.hostname button').count()).toBe(0);
    await page.screenshot({ path: path.join(SHOTS, 'hostnames.png') });
    await page.close();
  });

  it('a write token drains a region from the page: DNS moves, the audit shows who and why', async () => {
    expect(answerFor(server.port)).toBe('198.51.100.10'); // eu-central, nearest to Amsterdam
    const page = await signIn(WRITE_TOKEN);
    await page.click('.region-btn[data-region="eu-central"]');
    await page.fill('#drain-reason', 'console test: eu-central maintenance');
    await page.click('#drain');
    await page.waitForSelector('.notice');
    await until('the page shows eu-central drained', () => regionState(page, 'eu-central'), (t) => t === 'eu-central: drained');
    await until('dig answers from the next region', () => answerFor(server.port), (a) => a === '192.0.2.10');
    await page.click('#tab-map');
    await page.screenshot({ path: path.join(SHOTS, 'map-drained.png') });
    await page.click('#tab-audit');
    const row = page.locator('table.audit tr[data-action="drain"]').first();
    await row.waitFor();
    const text = await row.textContent();
    expect(text).toContain('operator');
    expect(text).toContain('console test: eu-central maintenance');
    await page.fill('#audit-filter', 'maintenance');
    expect(await page.locator('table.audit tbody tr').count()).toBe(1);
    await page.screenshot({ path: path.join(SHOTS, 'audit.png') });
    await page.close();
  });

  it('the last-region guard is shown in words, and force needs a second click', async () => {
    const page = await signIn(WRITE_TOKEN);
    await page.click('.region-btn[data-region="us-east"]');
    await page.fill('#drain-reason', 'console test: us-east too');
    await page.click('#drain');
    await until('us-east drained', () => regionState(page, 'us-east'), (t) => t === 'us-east: drained');
    await page.click('.region-btn[data-region="ap-south"]');
    await page.fill('#drain-reason', 'console test: the last one');
    await page.click('#drain');
    const dialog = page.locator('.confirm');
    await dialog.waitFor();
    expect(await dialog.textContent()).toMatch(/no operational region/);
    expect(await page.locator('#drain-force').count()).toBe(1);
    expect(await regionState(page, 'ap-south')).toBe('ap-south: up');
    expect(answerFor(server.port)).toBe('203.0.113.10');
    // Undrain both again through the page.
    for (const r of ['us-east', 'eu-central']) {
      await page.click(`.region-btn[data-region="${r}"]`);
      await page.click('#undrain');
      await until(`${r} undrained`, () => regionState(page, r), (t) => t === `${r}: up`);
    }
    await page.close();
  });

  it('a health change arrives through the stream, without reloading the page', async () => {
    const page = await signIn(READ_TOKEN);
    let navigations = 0;
    page.on('framenavigated', () => navigations++);
    targets.ap.ok = false;
    await until('ap-south shown down', () => regionState(page, 'ap-south'), (t) => t === 'ap-south: down');
    expect(await page.getAttribute('.map g.region[data-region="ap-south"]', 'class')).toContain('down');
    targets.ap.ok = true;
    await until('ap-south shown up again', () => regionState(page, 'ap-south'), (t) => t === 'ap-south: up');
    expect(navigations).toBe(0);
    await page.close();
  });

  it('explains an answer, with the client and the chosen region on the map', async () => {
    const page = await signIn(READ_TOKEN);
    await page.click('#tab-explain');
    await page.fill('#explain-hostname', HOST);
    await page.fill('#explain-client', AMSTERDAM);
    await page.click('#explain-run');
    const result = page.locator('#explain-result');
    await result.waitFor();
    const text = (await result.textContent()) ?? '';
    expect(text).toContain('198.51.100.10');
    expect(text).toContain('Amsterdam');
    expect(await page.locator('#explain-result tr.chosen').textContent()).toContain('eu-central');
    expect(await page.locator('#explain-result svg .client').count()).toBe(1);
    expect(await page.locator('#explain-result svg .route').count()).toBe(1);
    await page.screenshot({ path: path.join(SHOTS, 'explain.png'), fullPage: true });
    await page.close();
  });

  it('looks a tenant up: its home region and where it comes from', async () => {
    const tenants = await startServer(['--zones', path.resolve(import.meta.dirname, 'tenant-zones'), '--geoip', GEOIP, '--ops-tokens', path.join(dir, 'tokens')]);
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${tenants.httpPort}/ui/`);
      await page.fill('#token', READ_TOKEN);
      await page.click('#signin');
      await page.click('#tab-tenants');
      await page.fill('#tenant-slug', 'acme');
      await page.press('#tenant-slug', 'Enter');
      const result = page.locator('#tenant-result');
      await result.waitFor();
      expect(await result.textContent()).toMatch(/acme → eu-central.*tenants file/s);
      await page.fill('#tenant-slug', 'nobody');
      await page.press('#tenant-slug', 'Enter');
      await page.locator('.error').waitFor();
      expect(await page.textContent('.error')).toContain('not in the tenant map');
      await page.screenshot({ path: path.join(SHOTS, 'tenants.png') });
      await page.close();
    } finally {
      await tenants.stop();
    }
  });

  it('says so when it loses the stream', async () => {
    const page = await signIn(READ_TOKEN);
    await server.stop();
    await page.waitForSelector('#stream.lost', { timeout: 10_000 });
    expect(await page.textContent('#stream')).toContain('stream lost');
    await page.close();
    expect(pageErrors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED|Failed to fetch/.test(e))).toEqual([]);
  });
});
