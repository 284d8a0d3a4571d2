// Each fault scenario reports what became of the changes the API acknowledged and how long the fleet
// took to agree again; `npm run bench:faults` collects these lines into its table.
import { appendFileSync } from 'node:fs';

export interface FaultResult {
  scenario: string;
  /** Changes answered 200 around the fault. */
  acknowledged: number;
  /** Of those, how many every instance (and Redis) still has at the end. */
  kept: number;
  converged: boolean;
  /** From the fault until every instance answered from the same state. */
  convergedMs: number | null;
}

export function report(r: FaultResult): void {
  const file = process.env.REGIONDNS_FAULT_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify(r)}\n`);
}
