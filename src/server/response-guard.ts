// What the server does about who is asking, between answer() and the wire: DNS cookies (RFC 7873
// §5.2, RFC 9018) and response rate limiting. Both are off the pure answer path and need a clock,
// which the socket edge passes in. Replies over TCP, and to a valid server cookie, are never
// limited: the source address of either is proven (RFC 7873 §1, BIND and Knot alike).

import { CookieVerdict, type CookieJar } from '../cookies/server-cookie.js';
import type { Answer, Edns, Query } from '../dns/types.js';
import { guardStats, rrlEvictions, type Transport } from '../obs/metrics.js';
import { classify, errorAccount, type Account } from '../rrl/classify.js';
import { ResponseRateLimiter, RrlAction, rrlEnabled, type RrlOptions, type RrlTable } from '../rrl/limiter.js';

export interface GuardOptions {
  /** null: cookies are ignored, as by a server that does not implement them (RFC 7873 §5.2). */
  cookies: CookieJar | null;
  /** null, or every rate 0: no rate limiting. */
  rrl: RrlOptions | null;
  /** The accounts, shared by the DNS worker threads of the instance; absent: a table of this guard's own. */
  rrlTable?: RrlTable;
}

export class ResponseGuard {
  private readonly limiter: ResponseRateLimiter | null;
  private readonly account: Account = { kind: 0, name: '', qtype: 0 };

  constructor(private readonly opts: GuardOptions) {
    this.limiter = opts.rrl && rrlEnabled(opts.rrl) ? new ResponseRateLimiter(opts.rrl, () => rrlEvictions.inc(), opts.rrlTable) : null;
  }

  get cookiesOn(): boolean {
    return this.opts.cookies !== null;
  }

  /**
   * Judges the request's cookie. After it, replyCookie() is the COOKIE data to answer with (until
   * the next call): every reply to a request with a cookie carries a valid server cookie (§5.2.3–5).
   */
  checkCookie(edns: Edns | null, source: string | Uint8Array, nowMs: number): CookieVerdict {
    const jar = this.opts.cookies;
    if (jar === null || edns === null || edns.cookie === null) return CookieVerdict.NONE;
    const v = jar.check(edns.cookie, source, Math.floor(nowMs / 1000));
    guardStats.cookieVerdicts[v]++;
    return v;
  }

  replyCookie(verdict: CookieVerdict): Uint8Array | null {
    return verdict === CookieVerdict.NONE ? null : (this.opts.cookies as CookieJar).reply;
  }

  /** Charges the reply to `query` (or, with answer null, an error reply) and says whether it may go out. */
  limit(query: Query | null, answer: Answer | null, source: string | Uint8Array, transport: Transport, verdict: CookieVerdict, nowMs: number): RrlAction {
    const limiter = this.limiter;
    if (limiter === null || transport === 'tcp' || verdict === CookieVerdict.VALID) return RrlAction.PASS;
    const account = query !== null && answer !== null ? classify(query, answer, this.account) : errorAccount(this.account);
    const action = limiter.decide(source, account, nowMs);
    if (action !== RrlAction.PASS) {
      guardStats.suppressed[account.kind]++;
      if (action === RrlAction.SLIP) guardStats.slipped[account.kind]++;
    }
    return action;
  }
}
