// Which rate-limit account a response is charged to (BIND's and Knot's response kinds): the kind of
// response, and the name it is about. NXDOMAIN and NODATA are charged to the zone, and wildcard
// answers to the wildcard, not the query name, so a flood of random names cannot spread over fresh
// accounts (BIND ARM, "nxdomains-per-second").

import { Rcode, RRType } from '../dns/constants.js';
import type { Answer, Query } from '../dns/types.js';

export const ResponseKind = { ANSWER: 0, NODATA: 1, NXDOMAIN: 2, REFERRAL: 3, ERROR: 4 } as const;
export type ResponseKind = (typeof ResponseKind)[keyof typeof ResponseKind];
/** Metric labels, indexed by ResponseKind. */
export const RESPONSE_KIND_LABELS = ['answer', 'nodata', 'nxdomain', 'referral', 'error'] as const;

/** An account: kind, name and (for answers) the type: one response "the same" as another. */
export interface Account {
  kind: ResponseKind;
  name: string;
  qtype: number;
}

/** Fills `out` with the account of `answer` to `query` (no allocation: `out` is the caller's scratch). */
export function classify(query: Query, answer: Answer, out: Account): Account {
  const rcode = answer.rcode;
  out.qtype = 0;
  if (rcode === Rcode.NXDOMAIN) {
    out.kind = ResponseKind.NXDOMAIN;
    out.name = ownerOf(answer, RRType.SOA) ?? query.qname;
  } else if (rcode !== Rcode.NOERROR) {
    // Errors are charged to the client alone: their names are whatever the flood chooses.
    out.kind = ResponseKind.ERROR;
    out.name = '';
  } else if (answer.answer.length > 0) {
    out.kind = ResponseKind.ANSWER;
    // Synthesised from a wildcard: charged to the wildcard, so a flood of random names under it
    // shares one account (BIND ARM: "responses generated from local wildcards are counted and
    // limited as if they were for the parent domain name"; the `*` name keeps them apart from it).
    out.name = answer.wildcard ?? query.qname;
    out.qtype = query.qtype;
  } else if (!answer.aa && ownerOf(answer, RRType.NS) !== null) {
    out.kind = ResponseKind.REFERRAL;
    out.name = ownerOf(answer, RRType.NS) as string;
  } else {
    out.kind = ResponseKind.NODATA;
    out.name = ownerOf(answer, RRType.SOA) ?? query.qname;
  }
  return out;
}

function ownerOf(answer: Answer, type: number): string | null {
  const rrs = answer.authority;
  for (let i = 0; i < rrs.length; i++) if (rrs[i].type === type) return rrs[i].owner;
  return null;
}

/** The account of an error the decoder answers itself (FORMERR, NOTIMP, BADVERS): the client alone. */
export function errorAccount(out: Account): Account {
  out.kind = ResponseKind.ERROR;
  out.name = '';
  out.qtype = 0;
  return out;
}
