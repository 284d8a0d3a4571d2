// File descriptors, shared out before anyone runs short. Under `ulimit -n` every socket costs one:
// DNS over TCP, health probes, the HTTP listener. When a flood of HTTP connections took the last
// ones, DNS over TCP was reset and probes failed with EMFILE. So the caps are derived from the
// limit with room kept for the process itself and for probes, and the HTTP listener gets the
// smallest share: its cap is hit first, long before DNS or a probe meets EMFILE.
// Node cannot read RLIMIT_NOFILE; Linux shows it in /proc/self/limits.

import { readFileSync } from 'node:fs';

/** Descriptors kept for the process: stdio, the event loop, logs, the store, zone reads. */
export const PROCESS_RESERVE = 64;
/** Each DNS worker thread's own: its event loop, UDP sockets, TCP listeners, its reload process's pipes. */
export const PER_WORKER = 16;
/** A probe may hold two at once (its socket and a resolver's). */
export const PER_PROBE = 2;
/** The HTTP listener's share of what is left when the limit is tight. */
const HTTP_SHARE = 1 / 8;

/** The soft RLIMIT_NOFILE, or null when unknown (not Linux) or unlimited. */
export function openFileLimit(limitsText?: string): number | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (!m || m[1] === 'unlimited') return null;
  const n = Number(m[1]);
  return Number.isInteger(n) && n > 0 ? n : null;
}

export interface Caps {
  httpMaxConnections: number;
  tcpMaxConnections: number;
  tcpMaxConnectionsPerClient: number;
}

export interface CapsPlan extends Caps {
  /** What the user should know: a flag that asks for more than the limit leaves. */
  warnings: string[];
}

/**
 * Caps for `limit` descriptors: explicit values (flags) are kept, with a warning when they do not
 * fit; the others are the defaults, lowered to fit. `probes` is the health probes' concurrency.
 * The TCP cap is per DNS worker; the workers are threads of one process, so `workers` of them
 * share the one limit.
 */
export function planCaps(limit: number | null, defaults: Caps, explicit: Partial<Caps>, probes: number, workers = 1): CapsPlan {
  const warnings: string[] = [];
  const perClient = (tcp: number) => explicit.tcpMaxConnectionsPerClient ?? Math.min(defaults.tcpMaxConnectionsPerClient, tcp);
  if (limit === null) {
    const tcp = explicit.tcpMaxConnections ?? defaults.tcpMaxConnections;
    return { httpMaxConnections: explicit.httpMaxConnections ?? defaults.httpMaxConnections, tcpMaxConnections: tcp, tcpMaxConnectionsPerClient: perClient(tcp), warnings };
  }
  const reserved = PROCESS_RESERVE + PER_PROBE * probes + (workers > 1 ? PER_WORKER * workers : 0);
  const room = Math.max(2, limit - reserved);
  const http = explicit.httpMaxConnections ?? Math.max(1, Math.min(defaults.httpMaxConnections, Math.floor(room * HTTP_SHARE)));
  const tcp = explicit.tcpMaxConnections ?? Math.max(1, Math.min(defaults.tcpMaxConnections, Math.floor((room - http) / workers)));
  if (http + tcp * workers > room) {
    const tcpText = workers > 1 ? `${workers} workers × --tcp-max-connections ${tcp}` : `--tcp-max-connections ${tcp}`;
    warnings.push(`ulimit -n is ${limit}: after ${reserved} descriptors kept for the process${workers > 1 ? ', its workers' : ''} and health probes, ${room} remain, ` +
      `fewer than --http-max-connections ${http} plus ${tcpText}; a flood could starve probes (EMFILE). Raise ulimit -n or lower the caps`);
  }
  return { httpMaxConnections: http, tcpMaxConnections: tcp, tcpMaxConnectionsPerClient: perClient(tcp), warnings };
}
