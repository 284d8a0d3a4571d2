// Errors in users' files are values: a stable code, where (file:line), and what to fix.

import type { ConfigErrorCode } from './error-codes.js';

export interface ConfigError {
  /** Stable code, e.g. "REGIONDNS_ERR_ZONE_NO_SOA": one of src/config/error-codes.ts, each listed in the README. */
  code: ConfigErrorCode;
  file: string;
  /** 1-based line; 0 when the error is about the file as a whole. */
  line: number;
  message: string;
}

export function formatConfigError(e: ConfigError): string {
  return `${e.file}:${e.line}: ${e.message} [${e.code}]`;
}
