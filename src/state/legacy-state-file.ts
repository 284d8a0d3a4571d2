// The JSON state file earlier versions kept (`.regiondns/state.json`): read once, on the first start
// with a state directory, to import its overrides and audit into the local database.

import { NAMESPACES, type AuditEntry, type Namespace } from './fleet-store.js';
import { OtherConfigError } from '../config/error-codes.js';

const STATE_SCHEMA = 1;

/** `{ schema, version, namespaces: {ns: {key: value}}, audit: [newest first] }` */
export interface LegacyStateFile {
  schema: number;
  version: number;
  namespaces: Partial<Record<Namespace, Record<string, unknown>>>;
  audit: AuditEntry[];
}

export class StateFileError extends Error {
  readonly code = OtherConfigError.STATE_FILE;
  constructor(
    readonly file: string,
    what: string,
  ) {
    super(`state file ${file}: ${what}`);
  }
}

/** Checks the file's shape (values are checked one by one by the importer, which skips bad ones). */
export function parseLegacyStateFile(file: string, text: string): LegacyStateFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new StateFileError(file, `not valid JSON (${(err as Error).message}); fix it, or move it away to start with no overrides`);
  }
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObj(raw)) throw new StateFileError(file, 'expected a JSON object');
  if (raw.schema !== STATE_SCHEMA) throw new StateFileError(file, `unsupported schema ${JSON.stringify(raw.schema)} (expected ${STATE_SCHEMA})`);
  if (typeof raw.version !== 'number' || !Number.isSafeInteger(raw.version) || raw.version < 0)
    throw new StateFileError(file, '"version" must be a non-negative integer');
  if (!isObj(raw.namespaces)) throw new StateFileError(file, '"namespaces" must be an object');
  for (const [ns, m] of Object.entries(raw.namespaces)) {
    if (!NAMESPACES.includes(ns as Namespace)) throw new StateFileError(file, `unknown namespace "${ns}" (known: ${NAMESPACES.join(', ')})`);
    if (!isObj(m)) throw new StateFileError(file, `namespace "${ns}" must be an object`);
  }
  if (!Array.isArray(raw.audit) || !raw.audit.every(isObj)) throw new StateFileError(file, '"audit" must be an array of objects');
  return raw as unknown as LegacyStateFile;
}
