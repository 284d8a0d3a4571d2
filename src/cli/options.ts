// Command-line parsing shared by every command: `--help` anywhere prints the command's own help,
// and an unknown option is answered with the closest valid one and the usage line, not a stack.

import { parseArgs, type ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

/** Words people type for an option we call something else. */
const SYNONYMS: Record<string, string> = {
  port: 'listen', bind: 'listen', address: 'listen', addr: 'listen', config: 'zones', zone: 'zones', dir: 'zones',
  verbose: 'log-level', debug: 'log-level', threads: 'workers', 'state-file': 'state-dir', url: 'server', key: 'token',
};

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

/** The valid option closest to `given` (without dashes), or null when nothing is close. */
export function closestOption(given: string, valid: readonly string[]): string | null {
  const synonym = SYNONYMS[given];
  if (synonym && valid.includes(synonym)) return synonym;
  const prefix = valid.filter((v) => v.startsWith(given) || given.startsWith(v));
  if (prefix.length === 1) return prefix[0];
  let best: string | null = null;
  let bestD = Infinity;
  for (const v of valid) {
    const dd = distance(given, v);
    if (dd < bestD) {
      best = v;
      bestD = dd;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(given.length / 3)) ? best : null;
}

export interface Parsed<O extends OptionSpec> {
  values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>['values'];
  positionals: string[];
}

/**
 * Parses a command's arguments. `--help`/`-h` anywhere returns null (the caller prints `help`);
 * a mistake throws UsageError naming the closest valid option.
 */
export function parseCommand<O extends OptionSpec>(command: string, argv: string[], options: O, help: string): Parsed<O> | null {
  if (argv.includes('--help') || argv.includes('-h')) return null;
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values, positionals: r.positionals } as Parsed<O>;
  } catch (err) {
    const e = err as Error & { code?: string };
    const usage = help.split('\n').map((l) => l.trim().replace(/^Usage:\s*/, '')).find((l) => l.startsWith(`regiondns ${command}`)) ?? `regiondns ${command} --help`;
    const unknown = /Unknown option '(-{1,2})([^']+)'/.exec(e.message);
    if (unknown) {
      const near = closestOption(unknown[2], Object.keys(options));
      throw new UsageError(`unknown option ${unknown[1]}${unknown[2]}${near ? `; did you mean --${near}?` : ''}`, usage);
    }
    throw new UsageError(e.message.replace(/\. To specify .*$/s, ''), usage);
  }
}

/** Every `--name` of `options` that the help text does not mention (a test keeps this empty). */
export function undocumented(options: OptionSpec, help: string): string[] {
  return Object.keys(options).filter((name) => !new RegExp(`--${name}(?![\\w-])`).test(help));
}
