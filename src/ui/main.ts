// The operator console: a small Preact app (htm templates, no build-time JSX) over the ops API.
// State comes from the server's event stream; actions are plain API calls whose results arrive
// back through the same stream, so what the page shows is always what the server holds.

import { h, render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import htm from 'htm';
import { api, ApiError, followEvents, saveToken, savedToken, type StreamStatus } from './api.js';
import { arc, BASEMAP, MAP_HEIGHT, MAP_WIDTH, project } from './map.js';
import type { AuditEntry, Explanation, FleetState, HealthReport, HostnameState, RegionEndpoint, RegionState, StreamMessage, TenantView, Who } from './types.js';

const html = htm.bind(h);
type View = 'map' | 'hostnames' | 'audit' | 'explain' | 'tenants';
const VIEWS: { id: View; label: string }[] = [
  { id: 'map', label: 'Map' },
  { id: 'hostnames', label: 'Hostnames' },
  { id: 'audit', label: 'Audit' },
  { id: 'explain', label: 'Explain' },
  { id: 'tenants', label: 'Tenants' },
];

type RegionLook = 'up' | 'down' | 'drained' | 'stale';

function regionLook(r: RegionState, health: HealthReport | null): RegionLook {
  if (r.drained) return 'drained';
  if (!r.health.up) return 'down';
  if (health?.regions[r.id]?.stale) return 'stale';
  return 'up';
}

const when = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// ---- sign-in ---------------------------------------------------------------------------------

function SignIn({ onSignedIn, error }: { onSignedIn: (w: Who) => void; error: string | null }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string | null>(error);
  const submit = async (e: Event) => {
    e.preventDefault();
    saveToken(token.trim());
    try {
      onSignedIn(await api<Who>('GET', '/whoami'));
    } catch (err) {
      saveToken('');
      setProblem(message(err));
    }
  };
  return html`<form class="signin" onSubmit=${submit}>
    <h2>Sign in</h2>
    <p>Paste an ops API token. A read token shows everything; a write token can also drain, split and ramp.
      The token stays in this tab only.</p>
    <input id="token" type="password" autocomplete="off" placeholder="token" value=${token}
      onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} />
    <button type="submit" id="signin">Sign in</button>
    ${problem && html`<p class="error" role="alert">${problem}</p>`}
  </form>`;
}

// ---- map -------------------------------------------------------------------------------------

function WorldMap({ state, health, client, chosen, onPick }: {
  state: FleetState; health: HealthReport | null; client?: { lat: number; lon: number } | null; chosen?: string | null; onPick?: (id: string) => void;
}) {
  const target = chosen ? state.regions.find((r) => r.id === chosen)?.location ?? null : null;
  const clientXY = client ? project(client) : null;
  return html`<svg class="map" viewBox="0 0 ${MAP_WIDTH} ${MAP_HEIGHT}" role="img" aria-label="regions on a world map">
    <path class="sphere" d=${BASEMAP.sphere} />
    <path class="graticule" d=${BASEMAP.graticule} />
    ${BASEMAP.countries.map((d) => html`<path class="country" d=${d} />`)}
    ${client && target && html`<path class="route" d=${arc(client, target)} />`}
    ${state.regions.map((r) => {
      const xy = r.location ? project(r.location) : null;
      if (!xy) return null;
      const look = regionLook(r, health);
      return html`<g class=${`region ${look}`} data-region=${r.id} transform=${`translate(${xy[0]},${xy[1]})`} onClick=${() => onPick?.(r.id)}>
        <circle r=${chosen === r.id ? 11 : 8} />
        <text x="12" y="4">${r.id}</text>
        <title>${r.id}: ${look}${r.drain ? ` (drained by ${r.drain.by}: ${r.drain.reason})` : ` (${r.health.reason})`}</title>
      </g>`;
    })}
    ${clientXY && html`<g class="client" transform=${`translate(${clientXY[0]},${clientXY[1]})`}><rect x="-5" y="-5" width="10" height="10" /><text x="9" y="4">client</text></g>`}
  </svg>`;
}

/** An endpoint's state as the map shows it: drained beats its checks (as in answers); no checks: always in. */
function endpointState(region: string, e: RegionEndpoint, state: FleetState, health: HealthReport | null): { look: RegionLook; why: string } {
  const drain = state.endpointDrains?.find((d) => d.address === e.address);
  if (drain) return { look: 'drained', why: `drained by ${drain.by}: ${drain.reason}` };
  const checks = Object.values(health?.endpointChecks ?? {}).filter((c) => c.endpoints.includes(`${region} ${e.address}`));
  if (checks.length === 0) return { look: 'up', why: 'no checks of its own' };
  const down = checks.find((c) => !c.up);
  if (down) return { look: 'down', why: `${down.target}: ${down.cause}` };
  if (checks.some((c) => c.stale)) return { look: 'stale', why: 'no fresh verdict' };
  return { look: 'up', why: checks.map((c) => c.cause).join('; ') };
}

function RegionPanel({ region, state, health, endpoints, canWrite, onDone }: {
  region: RegionState; state: FleetState; health: HealthReport | null; endpoints: RegionEndpoint[]; canWrite: boolean; onDone: (m: string) => void;
}) {
  const [reason, setReason] = useState('');
  const [needForce, setNeedForce] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const checks = health?.regions[region.id]?.checks ?? {};
  const drain = async (force: boolean) => {
    setError(null);
    try {
      const r = await api<{ message: string }>('POST', `/regions/${encodeURIComponent(region.id)}/drain`, { reason, ...(force ? { force: true } : {}) });
      setNeedForce(null);
      onDone(r.message);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'REGIONDNS_ERR_LAST_REGION') setNeedForce(err.message);
      else setError(message(err));
    }
  };
  const undrain = async () => {
    setError(null);
    try {
      onDone((await api<{ message: string }>('DELETE', `/regions/${encodeURIComponent(region.id)}/drain`, reason ? { reason } : undefined)).message);
    } catch (err) {
      setError(message(err));
    }
  };
  return html`<section class="panel" id="region-panel">
    <h3>${region.id} <span class=${`badge ${regionLook(region, health)}`}>${regionLook(region, health)}</span></h3>
    <p>${region.drain ? `Drained by ${region.drain.by} at ${when(region.drain.at)}: ${region.drain.reason}${region.drain.hostnames ? ` (only ${region.drain.hostnames.join(', ')})` : ''}` : `Health: ${region.health.reason}`}</p>
    <table><thead><tr><th>check</th><th>target</th><th>verdict</th><th>cause</th></tr></thead><tbody>
      ${Object.entries(checks).map(([name, c]) => html`<tr><td>${name}</td><td class="target">${c.target}</td><td>${c.stale ? 'stale' : c.up ? 'up' : 'down'}</td><td>${c.cause}</td></tr>`)}
      ${Object.keys(checks).length === 0 && html`<tr><td colspan="4">no health checks: always operational unless drained</td></tr>`}
    </tbody></table>
    ${endpoints.length > 0 && html`<table class="endpoints"><thead><tr><th>endpoint</th><th>state</th><th>why</th><th>hostnames</th></tr></thead><tbody>
      ${endpoints.map((e) => {
        const st = endpointState(region.id, e, state, health);
        return html`<tr data-endpoint=${e.address}><td>${e.address}</td><td><span class=${`badge ${st.look}`}>${st.look}</span></td><td>${st.why}</td><td>${e.hostnames.join(', ')}</td></tr>`;
      })}
    </tbody></table>`}
    ${canWrite && html`<div class="actions">
      <input id="drain-reason" placeholder="reason (goes to the audit log)" value=${reason} onInput=${(e: Event) => setReason((e.target as HTMLInputElement).value)} />
      ${region.drained
        ? html`<button id="undrain" onClick=${undrain}>Undrain ${region.id}</button>`
        : html`<button id="drain" class="danger" disabled=${!reason.trim()} onClick=${() => drain(false)}>Drain ${region.id}</button>`}
      ${needForce && html`<div class="confirm" role="alertdialog">
        <p><strong>Refused:</strong> ${needForce}</p>
        <button id="drain-force" class="danger" onClick=${() => drain(true)}>Drain anyway (force)</button>
        <button onClick=${() => setNeedForce(null)}>Cancel</button>
      </div>`}
    </div>`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
  </section>`;
}

function MapView({ state, health, endpoints, canWrite, notify }: {
  state: FleetState; health: HealthReport | null; endpoints: Record<string, RegionEndpoint[]>; canWrite: boolean; notify: (m: string) => void;
}) {
  const [picked, setPicked] = useState<string | null>(state.regions[0]?.id ?? null);
  const region = state.regions.find((r) => r.id === picked) ?? null;
  return html`<div class="mapview">
    <div>
      <${WorldMap} state=${state} health=${health} chosen=${picked} onPick=${setPicked} />
      <ul class="legend">${(['up', 'down', 'drained', 'stale'] as const).map((l) => html`<li><span class=${`dot ${l}`}></span>${l}</li>`)}</ul>
      <ul class="region-list">${state.regions.map((r) => html`<li><button class=${`region-btn ${regionLook(r, health)}`} data-region=${r.id} onClick=${() => setPicked(r.id)}>${r.id}: ${regionLook(r, health)}</button></li>`)}</ul>
    </div>
    ${region && html`<${RegionPanel} region=${region} state=${state} health=${health} endpoints=${endpoints[region.id] ?? []} canWrite=${canWrite} onDone=${notify} />`}
  </div>`;
}

// ---- hostnames ------------------------------------------------------------------------------

function HostnameCard({ host, canWrite, notify }: { host: HostnameState; canWrite: boolean; notify: (m: string) => void }) {
  const [weights, setWeights] = useState<Record<string, string>>({});
  const [rampSet, setRampSet] = useState(host.sets[host.sets.length - 1]?.name ?? '');
  const [steps, setSteps] = useState('0.1, 1, 5, 25, 100');
  const [every, setEvery] = useState('10m');
  const [error, setError] = useState<string | null>(null);
  const path = `/hostnames/${encodeURIComponent(host.fqdn)}`;
  const act = async (fn: () => Promise<{ message: string }>) => {
    setError(null);
    try {
      notify((await fn()).message);
    } catch (err) {
      setError(message(err));
    }
  };
  const split = () => act(() => api('PUT', `${path}/split`, { sets: host.sets.map((s) => ({ name: s.name, weight: Number(weights[s.name] ?? s.weight) })) }));
  const r = host.ramp;
  return html`<section class="panel hostname" data-hostname=${host.fqdn}>
    <h3>${host.fqdn}</h3>
    <table><thead><tr><th>record set</th><th>regions</th><th>file weight</th><th>weight in force</th><th>share</th>${canWrite && html`<th>new weight</th>`}</tr></thead><tbody>
      ${host.sets.map((s) => html`<tr><td>${s.name}</td><td>${s.regions.join(', ')}</td><td>${s.fileWeight}</td><td>${s.weight}</td><td>${s.share}%</td>
        ${canWrite && html`<td><input class="weight" size="6" value=${weights[s.name] ?? String(s.weight)} onInput=${(e: Event) => setWeights({ ...weights, [s.name]: (e.target as HTMLInputElement).value })} /></td>`}</tr>`)}
    </tbody></table>
    <p>${host.override ? `Runtime split by ${host.override.by} at ${when(host.override.at)}.` : 'Weights of the steer file.'}
      ${r ? ` Ramp of ${r.set}: step ${r.step + 1}/${r.steps.length} (${r.steps[r.step]}%), ${r.state}${r.state === 'running' ? `, next step ${when(r.nextAt)}` : ''}${r.haltReason ? `: halted because ${r.haltReason}` : ''}.` : ''}</p>
    ${canWrite && html`<div class="actions">
      ${host.sets.length > 1 && html`<button onClick=${split}>Set split</button>`}
      ${host.override && !(r && r.state === 'running') && html`<button onClick=${() => act(() => api('DELETE', `${path}/split`))}>Back to file weights</button>`}
      ${r && r.state === 'running'
        ? html`<button class="danger" onClick=${() => act(() => api('DELETE', `${path}/ramp`))}>Stop ramp</button>`
        : host.sets.length > 1 && html`<span class="ramp-form">ramp <select value=${rampSet} onChange=${(e: Event) => setRampSet((e.target as HTMLSelectElement).value)}>${host.sets.map((s) => html`<option>${s.name}</option>`)}</select>
          steps <input size="16" value=${steps} onInput=${(e: Event) => setSteps((e.target as HTMLInputElement).value)} />
          every <input size="5" value=${every} onInput=${(e: Event) => setEvery((e.target as HTMLInputElement).value)} />
          <button onClick=${() => act(() => api('POST', `${path}/ramp`, { set: rampSet, steps: steps.split(',').map((x) => Number(x.trim())), every }))}>Start ramp</button></span>`}
    </div>`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
  </section>`;
}

// ---- audit ----------------------------------------------------------------------------------

function AuditView({ version }: { version: number }) {
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [filter, setFilter] = useState('');
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ entries: AuditEntry[] }>('GET', '/audit?limit=200').then((r) => { setEntries(r.entries); setError(null); }, (err) => setError(message(err)));
  }, [version]);
  const f = filter.trim().toLowerCase();
  const shown = (entries ?? []).filter((e) => !f || [e.actor, e.action, e.target, e.reason ?? ''].some((x) => x.toLowerCase().includes(f)));
  const brief = (v: unknown): string => (v === null || v === undefined ? '—' : JSON.stringify(v).slice(0, 160));
  return html`<section class="panel">
    <input id="audit-filter" placeholder="filter: who, what, target, reason" value=${filter} onInput=${(e: Event) => setFilter((e.target as HTMLInputElement).value)} />
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <table class="audit"><thead><tr><th>when</th><th>who</th><th>what</th><th>target</th><th>reason</th><th>before → after</th></tr></thead><tbody>
      ${shown.map((e) => html`<tr data-action=${e.action}><td>${when(e.at)}</td><td>${e.actor}</td><td>${e.action}</td><td>${e.target}</td><td>${e.reason ?? ''}</td><td class="diff">${brief(e.before)} → ${brief(e.after)}</td></tr>`)}
    </tbody></table>
    ${entries && shown.length === 0 && html`<p>No entries${f ? ' match' : ' yet'}.</p>`}
  </section>`;
}

// ---- explain --------------------------------------------------------------------------------

function ExplainView({ state, health }: { state: FleetState; health: HealthReport | null }) {
  const [hostname, setHostname] = useState(state.hostnames[0]?.fqdn ?? '');
  const [client, setClient] = useState('');
  const [type, setType] = useState('A');
  const [result, setResult] = useState<Explanation | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      setResult(await api<Explanation>('GET', `/explain?hostname=${encodeURIComponent(hostname)}&client=${encodeURIComponent(client)}&type=${type}`));
    } catch (err) {
      setResult(null);
      setError(message(err));
    }
  };
  const t = result?.trace ?? null;
  const loc = t && t.location && t.location !== 'unknown' ? t.location : null;
  const chosen = t?.answer?.[0]?.region ?? null;
  return html`<div>
    <form class="panel explain-form" onSubmit=${run}>
      <input id="explain-hostname" list="hostnames" placeholder="hostname" value=${hostname} onInput=${(e: Event) => setHostname((e.target as HTMLInputElement).value)} />
      <datalist id="hostnames">${state.hostnames.map((hn) => html`<option value=${hn.fqdn} />`)}</datalist>
      <input id="explain-client" placeholder="client IP or subnet, e.g. 193.0.0.0/24" value=${client} onInput=${(e: Event) => setClient((e.target as HTMLInputElement).value)} />
      <select value=${type} onChange=${(e: Event) => setType((e.target as HTMLSelectElement).value)}><option>A</option><option>AAAA</option></select>
      <button type="submit" id="explain-run">Explain</button>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${result && html`<section class="panel" id="explain-result">
      <p class="summary">${result.summary}</p>
      ${t?.client && html`<p>Client ${t.client.address}/${t.client.prefix} from ${t.client.source === 'ecs' ? 'EDNS Client Subnet' : "the resolver's address"}${loc ? `, located in ${[loc.city, loc.country].filter(Boolean).join(', ') || 'an unnamed place'} (GeoIP /${loc.networkPrefix})` : t.location === 'unknown' ? ', location unknown' : ''}.</p>`}
      ${t?.tenant && html`<p>Tenant ${t.tenant.slug} → ${t.tenant.regions.join(', ') || 'none'} (${t.tenant.verdict}). ${t.tenant.why.join(' ')}</p>`}
      ${t?.draw && html`<p>Record set ${t.draw.chosen} (${t.draw.method}; ${t.draw.weightsFrom} weights ${t.draw.sets.map((s) => `${s.name} ${s.weight}`).join(', ')}).</p>`}
      ${t?.sort && html`<table><thead><tr><th>#</th><th>region</th><th>health</th><th>distance</th><th>est. RTT</th></tr></thead><tbody>
        ${t.sort.entries.map((en, i) => {
          const hl = t.health?.find((x) => x.region === en.region);
          return html`<tr class=${en.region === chosen ? 'chosen' : ''}><td>${i + 1}</td><td>${en.region}</td><td>${hl ? (hl.up ? 'up' : `down: ${hl.reason}`) : ''}</td><td>${en.km === null ? '?' : `${Math.round(en.km)} km`}</td><td>${en.rttMs === null ? '?' : `${en.rttMs.toFixed(1)} ms (${en.source})`}</td></tr>`;
        })}
      </tbody></table>`}
      ${t?.allDown && html`<p class="warn">Every region down: ${t.allDown.policy} → ${t.allDown.action}</p>`}
      <${WorldMap} state=${state} health=${health} client=${loc} chosen=${chosen} />
    </section>`}
  </div>`;
}

// ---- tenants --------------------------------------------------------------------------------

function TenantsView() {
  const [slug, setSlug] = useState('');
  const [tenant, setTenant] = useState<TenantView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const look = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      setTenant(await api<TenantView>('GET', `/tenants/${encodeURIComponent(slug.trim())}`));
    } catch (err) {
      setTenant(null);
      setError(message(err));
    }
  };
  return html`<div>
    <form class="panel" onSubmit=${look}>
      <input id="tenant-slug" placeholder="tenant, e.g. acme" value=${slug} onInput=${(e: Event) => setSlug((e.target as HTMLInputElement).value)} />
      <button type="submit">Look up</button>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${tenant && html`<section class="panel" id="tenant-result">
      <h3>${tenant.slug} → ${tenant.region}</h3>
      <p>Home region from ${tenant.source === 'api' ? `the ops API (set by ${tenant.override?.by ?? '?'}${tenant.override ? ` at ${when(tenant.override.at)}` : ''})` : `the tenants file ${tenant.file?.path ?? ''}`}${tenant.file && tenant.source === 'api' ? `; the file says ${tenant.file.region}` : ''}.</p>
      <p>Served under ${tenant.hostnames.map((hn) => `${tenant.slug}.${hn.replace(/^\*\./, '')}`).join(', ')}.</p>
    </section>`}
  </div>`;
}

// ---- the app --------------------------------------------------------------------------------

function App() {
  const [who, setWho] = useState<Who | null>(null);
  const [signInError, setSignInError] = useState<string | null>(null);
  const [msg, setMsg] = useState<StreamMessage | null>(null);
  const [stream, setStream] = useState<{ status: StreamStatus; why?: string }>({ status: 'connecting' });
  const [view, setView] = useState<View>('map');
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    if (!savedToken()) return;
    api<Who>('GET', '/whoami').then(setWho, (err) => { saveToken(''); setSignInError(message(err)); });
  }, []);
  useEffect(() => {
    if (!who) return undefined;
    return followEvents((d) => setMsg(d as StreamMessage), (status, why) => setStream({ status, why }));
  }, [who]);
  const notify = useMemo(() => (m: string) => { setNotice(m); setTimeout(() => setNotice((cur) => (cur === m ? null : cur)), 8000); }, []);

  if (!who) return html`<${SignIn} onSignedIn=${setWho} error=${signInError} />`;
  const canWrite = who.access === 'write';
  const state = msg?.state ?? null;
  const health = msg?.health ?? null;
  return html`<div class="console">
    <header>
      <h1>regiondns</h1>
      <span class="who" id="who">${who.name ?? 'anonymous'} (${canWrite ? 'write' : 'read-only'}) on ${state?.instance ?? who.instance}</span>
      <span id="stream" class=${`stream ${stream.status}`} title=${stream.why ?? ''}>${stream.status === 'live' ? 'live' : stream.status === 'lost' ? `stream lost: ${stream.why ?? ''}; reconnecting` : 'connecting…'}</span>
      ${state && !state.store.connected && html`<span class="warn">fleet store: ${state.store.detail}</span>`}
      <button class="signout" onClick=${() => { saveToken(''); setWho(null); setMsg(null); }}>Sign out</button>
    </header>
    <nav>${VIEWS.map((v) => html`<button id=${`tab-${v.id}`} class=${view === v.id ? 'active' : ''} onClick=${() => setView(v.id)}>${v.label}</button>`)}</nav>
    ${notice && html`<p class="notice" role="status">${notice}</p>`}
    <main>
      ${!state ? html`<p>Waiting for the fleet state…</p>`
        : view === 'map' ? html`<${MapView} state=${state} health=${health} endpoints=${msg?.endpoints ?? {}} canWrite=${canWrite} notify=${notify} />`
        : view === 'hostnames' ? state.hostnames.map((hn) => html`<${HostnameCard} key=${hn.fqdn} host=${hn} canWrite=${canWrite} notify=${notify} />`)
        : view === 'audit' ? html`<${AuditView} version=${state.version} />`
        : view === 'explain' ? html`<${ExplainView} state=${state} health=${health} />`
        : html`<${TenantsView} />`}
    </main>
  </div>`;
}

const root = document.getElementById('app')!;
root.textContent = ''; // the "Loading…" placeholder: render() adds to a container, it does not clear it
render(html`<${App} />`, root);
