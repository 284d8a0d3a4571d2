// What health produces: one prober's verdict on one check. Stores keep and share verdicts, but the
// vocabulary is health's, so it lives here and the stores import it.

/** One prober's current up/down verdict (after its rise/fall) for one check. */
export interface Verdict {
  checkId: string;
  prober: string;
  up: boolean;
  /** Why: "HTTP 200", "HTTP 500", "timeout after 2000 ms", "connection refused", "body mismatch". */
  cause: string;
  /** When the prober last confirmed this verdict (ms since epoch): freshness is judged from it. */
  at: number;
  /** The check's interval, so readers can tell stale (older than 3 × interval) from fresh. */
  intervalMs: number;
}
