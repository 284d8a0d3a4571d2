// Errors in users' files are values: a stable code, where (file:line), and what to fix.

export interface ConfigError {
  /** Stable code, e.g. "REGIONDNS_ERR_ZONE_NO_SOA" (documented in the README). */
  code: string;
  file: string;
  /** 1-based line; 0 when the error is about the file as a whole. */
  line: number;
  message: string;
}

export function formatConfigError(e: ConfigError): string {
  return `${e.file}:${e.line}: ${e.message} [${e.code}]`;
}
