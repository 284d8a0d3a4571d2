// One duration syntax for every file, flag and API field: "500ms", "30s", "5m", "1h30m", "1d",
// "1w2d", with parts largest first; fractions on a single part ("1.5s"). A bare number is accepted
// only where its unit cannot be mistaken (TTLs are seconds in DNS): elsewhere it is refused with a
// hint, because "10" meaning 10 ms in one place and 10 s in another is how outages start.

const UNITS: Record<string, number> = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const ORDER = ['w', 'd', 'h', 'm', 's', 'ms'];

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

/** Parses `text` to milliseconds. `bare`: the unit of a number without one, or null to refuse it. */
export function parseDuration(text: string | number, bare: 'ms' | 's' | null): DurationResult {
  const t = String(text).trim();
  if (/^\d+(\.\d+)?$/.test(t)) {
    if (bare === null) return { ok: false, message: `"${t}" has no unit: write ${t}s, ${t}m or ${t}ms` };
    return whole(Number(t) * UNITS[bare], t);
  }
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|w|d|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== t) return { ok: false, message: `"${t}" is not a duration like 30s, 5m or 1h30m` };
  let ms = 0;
  let last = -1;
  for (const [, n, unit] of parts) {
    const i = ORDER.indexOf(unit);
    if (i <= last) return { ok: false, message: `"${t}": write the parts largest first, each once (e.g. 1h30m)` };
    if (n.includes('.') && parts.length > 1) return { ok: false, message: `"${t}": a fraction only on a single part (1.5h, or 1h30m)` };
    last = i;
    ms += Number(n) * UNITS[unit];
  }
  return whole(ms, t);
}

function whole(ms: number, t: string): DurationResult {
  const r = Math.round(ms);
  if (Math.abs(r - ms) > 1e-6) return { ok: false, message: `"${t}" is not a whole number of milliseconds` };
  return { ok: true, ms: r };
}

/** "10m", "1h30m", "45s", "1.5s", "250ms": the syntax parseDuration reads. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  const parts: string[] = [];
  let s = Math.round(ms / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s) parts.push(`${s}s`);
  return parts.join('');
}
