// The body of POST /v1/tenants:import, parsed as it arrives: each piece goes to the tenant-line
// reader and is dropped, so a million-line import never holds its text (25 MB, and the chunks it
// was joined from) beside the parsed table and the store's new view. Read only after the route's
// onRequest hook checked the token, like every body; limited as fastify limits the bodies it reads
// itself: over the limit (by content-length or by bytes received) is 413, a body whose length is
// not its content-length is 400.

import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { errorCodes, type FastifyRequest } from 'fastify';
import type { SteeringConfig } from '../steering/policy.js';
import { TenantLineReader, type ParsedTenants, type TenantFormat } from '../steering/tenant-residency.js';
import { OpsError } from './errors.js';

const JSON_LINES = new Set(['application/x-ndjson', 'application/jsonl', 'application/json-lines', 'application/jsonlines', 'application/json']);
const CSV = new Set(['text/csv', 'text/plain']);

/** The import as read; a content type it cannot read is refused once the route has checked the rest. */
export type ImportBody = { format: TenantFormat; parsed: ParsedTenants } | { refused: OpsError };

type Steering = Pick<SteeringConfig, 'regions' | 'hostnames'>;

/** Reads the request's body (null: it has none) into tenant lines. */
export function readImportBody(req: FastifyRequest, payload: Readable | null, limit: number, steering: Steering, maxProblems: number): Promise<ImportBody> {
  let format: TenantFormat | 'sniff';
  try {
    format = importFormat(req.headers['content-type']);
  } catch (err) {
    if (!(err instanceof OpsError)) throw err;
    return payload === null ? Promise.resolve({ refused: err }) : readBody(req, payload, limit, null).then(() => ({ refused: err }));
  }
  const length = Number(req.headers['content-length']);
  let reader: TenantLineReader | null = null;
  /** Blank text before the first other character, while the format is told by that character. */
  let lead = '';
  const open = (f: TenantFormat): TenantLineReader => new TenantLineReader(f, steering, maxProblems, Number.isNaN(length) ? 0 : length);
  const feed = (text: string): void => {
    if (reader === null) {
      if (format !== 'sniff') reader = open(format);
      else {
        lead += text;
        const start = lead.trimStart();
        if (start === '') return;
        reader = open((format = start.startsWith('{') ? 'jsonl' : 'csv'));
        text = lead;
        lead = '';
      }
    }
    reader.push(text);
  };
  const finish = (): ImportBody => {
    if (reader === null) reader = open(format === 'sniff' ? 'csv' : format);
    if (lead !== '') reader.push(lead);
    return { format: format === 'sniff' ? 'csv' : format, parsed: reader.end() };
  };
  if (payload === null) return Promise.resolve(finish());
  return readBody(req, payload, limit, feed).then(finish);
}

/** Reads the body to its end within the limit, giving `feed` its text (decoded across chunk boundaries). */
function readBody(req: FastifyRequest, payload: Readable, limit: number, feed: ((text: string) => void) | null): Promise<void> {
  const length = Number(req.headers['content-length']);
  if (length > limit) return Promise.reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
  const decoder = new StringDecoder('utf8');
  let received = 0;
  return new Promise((resolve, reject) => {
    const stop = (): void => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onEnd);
    };
    const onData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += bytes.length;
      if (received > limit) {
        stop();
        reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
        return;
      }
      try {
        feed?.(decoder.write(bytes));
      } catch (err) {
        stop();
        reject(err);
      }
    };
    function onEnd(err?: Error & { statusCode?: number }): void {
      stop();
      if (err != null) {
        if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
        reject(err);
        return;
      }
      if (!Number.isNaN(length) && received !== length) {
        reject(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
        return;
      }
      try {
        feed?.(decoder.end());
        resolve();
      } catch (e) {
        reject(e);
      }
    }
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onEnd);
    payload.resume();
  });
}

/** CSV or JSON lines by content type; without one (or text/plain), by the body's first character. */
function importFormat(contentType: string | undefined): TenantFormat | 'sniff' {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (JSON_LINES.has(type)) return 'jsonl';
  if (type === 'text/csv') return 'csv';
  if (type !== '' && !CSV.has(type)) throw new OpsError('UNSUPPORTED_MEDIA_TYPE', `content type ${type}: send text/csv ("slug,region" lines) or application/x-ndjson (JSON lines)`);
  return 'sniff';
}
