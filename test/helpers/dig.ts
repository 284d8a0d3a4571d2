// Runs the real `dig` (bind9-dnsutils) against a test server and splits its answer lines.
import { execFileSync } from 'node:child_process';

export interface DigResult {
  status: string;
  flags: string[];
  answer: string[][];
  authority: string[][];
  additional: string[][];
  raw: string;
}

export function dig(port: number, args: string[], host = '127.0.0.1'): DigResult {
  const raw = execFileSync('dig', [`@${host}`, '-p', String(port), '+time=2', '+tries=1', ...args], { encoding: 'utf8' });
  const status = /status: (\w+)/.exec(raw)?.[1] ?? 'NONE';
  const flags = (/;; flags: ([a-z ]+);/.exec(raw)?.[1] ?? '').trim().split(/\s+/);
  const section = (name: string): string[][] => {
    const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(raw);
    return m ? m[1].split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.split(/\s+/)) : [];
  };
  return { status, flags, answer: section('ANSWER'), authority: section('AUTHORITY'), additional: section('ADDITIONAL'), raw };
}
