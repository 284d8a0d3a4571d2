// `regiondns ctl` run in this process, its output captured: what the ctl tests assert on.
import { runCtl } from '../../src/ctl/ctl.js';

export interface CtlRun {
  code: number;
  out: string;
  err: string;
}

/** Runs ctl with `args` and exactly the environment `env` (server, token, …). */
export async function runCtlCaptured(args: string[], env: Record<string, string | undefined>): Promise<CtlRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCtl(args, { out: (t) => out.push(t), err: (t) => err.push(t), env });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
