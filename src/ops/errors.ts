// Every error the ops API can answer, with its stable code and HTTP status, in one place.
// The body is always `{ error: { code, message } }`; clients (and `regiondns ctl`) switch on `code`,
// people read `message`. The OpenAPI spec (openapi.yaml) lists the same codes.

export const OpsErrors = {
  /** No valid bearer token (missing, unknown, malformed header). */
  UNAUTHORIZED: { code: 'REGIONDNS_ERR_UNAUTHORIZED', status: 401 },
  /** The server has no ops tokens at all: writes (and reads unless open) are refused, never open by default. */
  NO_TOKENS: { code: 'REGIONDNS_ERR_NO_TOKENS', status: 401 },
  /** A read-only token on a write route. */
  FORBIDDEN: { code: 'REGIONDNS_ERR_FORBIDDEN', status: 403 },
  /** A body, query or path value that does not validate (the message says which and why). */
  BAD_REQUEST: { code: 'REGIONDNS_ERR_BAD_REQUEST', status: 400 },
  BODY_TOO_LARGE: { code: 'REGIONDNS_ERR_BODY_TOO_LARGE', status: 413 },
  /** The request (headers and body) did not arrive within the listener's request timeout. */
  REQUEST_TIMEOUT: { code: 'REGIONDNS_ERR_REQUEST_TIMEOUT', status: 408 },
  HEADERS_TOO_LARGE: { code: 'REGIONDNS_ERR_HEADERS_TOO_LARGE', status: 431 },
  UNSUPPORTED_MEDIA_TYPE: { code: 'REGIONDNS_ERR_UNSUPPORTED_MEDIA_TYPE', status: 415 },
  /** No such route (or the feature is off on this instance, e.g. /v1/health). */
  NOT_FOUND: { code: 'REGIONDNS_ERR_NOT_FOUND', status: 404 },
  UNKNOWN_REGION: { code: 'REGIONDNS_ERR_UNKNOWN_REGION', status: 404 },
  /** The hostname in the path is not a steered hostname. */
  UNKNOWN_HOSTNAME: { code: 'REGIONDNS_ERR_UNKNOWN_HOSTNAME', status: 404 },
  NOT_DRAINED: { code: 'REGIONDNS_ERR_NOT_DRAINED', status: 404 },
  /** The address in the path is in no pool of any steered hostname. */
  UNKNOWN_ENDPOINT: { code: 'REGIONDNS_ERR_UNKNOWN_ENDPOINT', status: 404 },
  NO_SPLIT: { code: 'REGIONDNS_ERR_NO_SPLIT', status: 404 },
  NO_RAMP: { code: 'REGIONDNS_ERR_NO_RAMP', status: 404 },
  /** The slug is not in the tenant map (never was, or deleted through the API). */
  UNKNOWN_TENANT: { code: 'REGIONDNS_ERR_UNKNOWN_TENANT', status: 404 },
  /** The drain would leave a hostname with no operational region (pass force: true to drain anyway). */
  LAST_REGION: { code: 'REGIONDNS_ERR_LAST_REGION', status: 409 },
  /** A running ramp owns the hostname's weights: stop it first. */
  RAMP_RUNNING: { code: 'REGIONDNS_ERR_RAMP_RUNNING', status: 409 },
  /** The fleet store is unreachable: a change was not persisted (nothing changed), or the audit log cannot be read. */
  STORE_UNAVAILABLE: { code: 'REGIONDNS_ERR_STORE_UNAVAILABLE', status: 503 },
  /** Every event stream slot of the instance is taken (GET /v1/events). */
  TOO_MANY_STREAMS: { code: 'REGIONDNS_ERR_TOO_MANY_STREAMS', status: 503 },
  /**
   * The store's reply to a write was lost and the store stayed unreachable: the change MAY have been
   * applied. Check GET /v1/state or GET /v1/audit (the entry carries the write id) before sending it again.
   */
  STORE_OUTCOME_UNKNOWN: { code: 'REGIONDNS_ERR_STORE_OUTCOME_UNKNOWN', status: 503 },
  /** Redis lost fleet state and the fleet is restoring it from memory: nothing changed; send it again in a few seconds. */
  STORE_RESETTING: { code: 'REGIONDNS_ERR_STORE_RESETTING', status: 503 },
  /** The fleet state kept changing under the change (other writes won every retry): nothing changed; send it again. */
  STORE_CONTENDED: { code: 'REGIONDNS_ERR_STORE_CONTENDED', status: 503 },
  INTERNAL: { code: 'REGIONDNS_ERR_INTERNAL', status: 500 },
} as const;

export type OpsErrorKind = keyof typeof OpsErrors;
export type OpsErrorCode = (typeof OpsErrors)[OpsErrorKind]['code'];

export interface OpsErrorBody {
  error: { code: OpsErrorCode; message: string; detail?: Record<string, unknown> };
}

/** An error answer of the ops API: thrown by a handler, turned into JSON by the error handler. */
export class OpsError extends Error {
  readonly code: OpsErrorCode;
  readonly status: number;
  constructor(kind: OpsErrorKind, message: string, readonly detail?: Record<string, unknown>) {
    super(message);
    this.code = OpsErrors[kind].code;
    this.status = OpsErrors[kind].status;
  }

  body(): OpsErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.detail ? { detail: this.detail } : {}) } };
  }
}

/** fastify's own errors (FST_ERR_*) by code, as ours; any other 4xx is a bad request. */
const FASTIFY_ERRORS: Record<string, OpsErrorKind> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_NOT_FOUND: 'NOT_FOUND',
};

/** Any error as an OpsError: ours as is, fastify's client errors (bad JSON, wrong content type, too large) as 4xx. */
export function toOpsError(err: unknown): OpsError {
  if (err instanceof OpsError) return err;
  const e = err as { statusCode?: number; message?: string; code?: string };
  const known = typeof e.code === 'string' ? FASTIFY_ERRORS[e.code] : undefined;
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  const kind: OpsErrorKind = known ?? (status === 413 ? 'BODY_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 404 ? 'NOT_FOUND' : status >= 400 && status < 500 ? 'BAD_REQUEST' : 'INTERNAL');
  if (kind === 'INTERNAL') return new OpsError('INTERNAL', 'internal error (see the server log)');
  if (kind === 'UNSUPPORTED_MEDIA_TYPE') return new OpsError(kind, `${e.message ?? 'unsupported content type'}: send application/json`);
  return new OpsError(kind, e.message ?? 'bad request');
}
