// Every stable code a configuration error can carry, in one place: ConfigError.code is one of
// these, and the README's "Error codes" section lists each with what it means and what to do
// (test/config/error-codes.test.ts keeps the two the same). Codes never change meaning: scripts
// and runbooks match on them.

/** Zone files (*.zone and their $INCLUDEs). */
export const ZoneErrorCode = {
  SYNTAX: 'REGIONDNS_ERR_ZONE_SYNTAX',
  BAD_DIRECTIVE: 'REGIONDNS_ERR_ZONE_BAD_DIRECTIVE',
  INCLUDE_ESCAPE: 'REGIONDNS_ERR_ZONE_INCLUDE_ESCAPE',
  INCLUDE_LOOP: 'REGIONDNS_ERR_ZONE_INCLUDE_LOOP',
  INCLUDE_READ: 'REGIONDNS_ERR_ZONE_INCLUDE_READ',
  NO_OWNER: 'REGIONDNS_ERR_ZONE_NO_OWNER',
  BAD_NAME: 'REGIONDNS_ERR_ZONE_BAD_NAME',
  BAD_TTL: 'REGIONDNS_ERR_ZONE_BAD_TTL',
  NO_TTL: 'REGIONDNS_ERR_ZONE_NO_TTL',
  BAD_CLASS: 'REGIONDNS_ERR_ZONE_BAD_CLASS',
  UNKNOWN_TYPE: 'REGIONDNS_ERR_ZONE_UNKNOWN_TYPE',
  BAD_RDATA: 'REGIONDNS_ERR_ZONE_BAD_RDATA',
  TOO_MANY_ERRORS: 'REGIONDNS_ERR_ZONE_TOO_MANY_ERRORS',
  // src/zone/validate.ts
  NO_SOA: 'REGIONDNS_ERR_ZONE_NO_SOA',
  MULTIPLE_SOA: 'REGIONDNS_ERR_ZONE_MULTIPLE_SOA',
  SOA_NOT_AT_APEX: 'REGIONDNS_ERR_ZONE_SOA_NOT_AT_APEX',
  CNAME_AND_OTHER_DATA: 'REGIONDNS_ERR_ZONE_CNAME_AND_OTHER_DATA',
  MULTIPLE_CNAME: 'REGIONDNS_ERR_ZONE_MULTIPLE_CNAME',
  CNAME_AT_APEX: 'REGIONDNS_ERR_ZONE_CNAME_AT_APEX',
  OUT_OF_ZONE: 'REGIONDNS_ERR_ZONE_OUT_OF_ZONE',
  NO_APEX_NS: 'REGIONDNS_ERR_ZONE_NO_APEX_NS',
  OCCLUDED: 'REGIONDNS_ERR_ZONE_OCCLUDED',
  // src/zone/load.ts
  DIR_READ: 'REGIONDNS_ERR_ZONE_DIR_READ',
  FILE_READ: 'REGIONDNS_ERR_ZONE_FILE_READ',
  BAD_FILENAME: 'REGIONDNS_ERR_ZONE_BAD_FILENAME',
  DUPLICATE_ORIGIN: 'REGIONDNS_ERR_ZONE_DUPLICATE_ORIGIN',
} as const;

/** Steering policies (*.steer.yaml, regions.yaml). */
export const SteerError = {
  /** The directory or a file could not be read. */
  READ: 'REGIONDNS_ERR_STEER_READ',
  /** YAML syntax, including a key written twice in one mapping. */
  YAML: 'REGIONDNS_ERR_STEER_YAML',
  UNKNOWN_KEY: 'REGIONDNS_ERR_STEER_UNKNOWN_KEY',
  MISSING_KEY: 'REGIONDNS_ERR_STEER_MISSING_KEY',
  /** A value of the wrong type (a list where a mapping belongs, text where a number belongs). */
  TYPE: 'REGIONDNS_ERR_STEER_TYPE',
  /** `sticky` or `when-all-down` is not one of its forms. */
  BAD_VALUE: 'REGIONDNS_ERR_STEER_BAD_VALUE',
  /** A region id or record set name with characters other than letters, digits, '.', '_', '-'. */
  BAD_ID: 'REGIONDNS_ERR_STEER_BAD_ID',
  LOCATION_RANGE: 'REGIONDNS_ERR_STEER_LOCATION_RANGE',
  /** A steer file but no regions.yaml. */
  NO_REGIONS: 'REGIONDNS_ERR_STEER_NO_REGIONS',
  UNKNOWN_REGION: 'REGIONDNS_ERR_STEER_UNKNOWN_REGION',
  /** A record set or when-all-down names a region that has no pool for this hostname. */
  REGION_WITHOUT_POOL: 'REGIONDNS_ERR_STEER_REGION_WITHOUT_POOL',
  NEGATIVE_WEIGHT: 'REGIONDNS_ERR_STEER_NEGATIVE_WEIGHT',
  ZERO_WEIGHTS: 'REGIONDNS_ERR_STEER_ZERO_WEIGHTS',
  DUPLICATE_SET: 'REGIONDNS_ERR_STEER_DUPLICATE_SET',
  /** `split: []`, or a record set with no regions. */
  EMPTY_SET: 'REGIONDNS_ERR_STEER_EMPTY_SET',
  /** The same region twice in one record set. */
  DUPLICATE_REGION: 'REGIONDNS_ERR_STEER_DUPLICATE_REGION',
  /** `pools: {}`, or a region's pool with no endpoints. */
  EMPTY_POOL: 'REGIONDNS_ERR_STEER_EMPTY_POOL',
  BAD_ADDRESS: 'REGIONDNS_ERR_STEER_BAD_ADDRESS',
  DUPLICATE_ADDRESS: 'REGIONDNS_ERR_STEER_DUPLICATE_ADDRESS',
  ANSWERS_RANGE: 'REGIONDNS_ERR_STEER_ANSWERS_RANGE',
  TTL_RANGE: 'REGIONDNS_ERR_STEER_TTL_RANGE',
  /** A steered name that also has A or AAAA records in the zone file. */
  STATIC_CONFLICT: 'REGIONDNS_ERR_STEER_STATIC_CONFLICT',
  /** A hostname not in the file's zone (or in a more specific zone that is also served). */
  OUTSIDE_ZONE: 'REGIONDNS_ERR_STEER_OUTSIDE_ZONE',
  BAD_NAME: 'REGIONDNS_ERR_STEER_BAD_NAME',
  /** Two spellings of one hostname ("api" and "API.gslb.example.com."). */
  DUPLICATE_HOSTNAME: 'REGIONDNS_ERR_STEER_DUPLICATE_HOSTNAME',
  /** <origin>.steer.yaml for a zone that no zone file serves. */
  UNSERVED_ORIGIN: 'REGIONDNS_ERR_STEER_UNSERVED_ORIGIN',
  /** `tenants` on a hostname that is not a wildcard ("*.app"): there is no label to name the tenant. */
  TENANTS_NOT_WILDCARD: 'REGIONDNS_ERR_STEER_TENANTS_NOT_WILDCARD',
  /** `tenants.source` outside the zones folder, or two hostnames naming different files. */
  TENANTS_SOURCE: 'REGIONDNS_ERR_STEER_TENANTS_SOURCE',
  /** `min-healthy` not a whole number of endpoints, 1 or more. */
  MIN_HEALTHY_RANGE: 'REGIONDNS_ERR_STEER_MIN_HEALTHY_RANGE',
} as const;

/** Health checks in regions.yaml. */
export const CheckError = {
  UNKNOWN_KEY: 'REGIONDNS_ERR_CHECK_UNKNOWN_KEY',
  MISSING_KEY: 'REGIONDNS_ERR_CHECK_MISSING_KEY',
  /** A value of the wrong type (a list where a mapping belongs, text where a number belongs). */
  TYPE: 'REGIONDNS_ERR_CHECK_TYPE',
  /** `type` or `initial-state` is not one of its forms. */
  BAD_VALUE: 'REGIONDNS_ERR_CHECK_BAD_VALUE',
  /** A name with characters other than letters, digits, '.', '_', '-'. */
  BAD_NAME: 'REGIONDNS_ERR_CHECK_BAD_NAME',
  /** Two checks of one region with the same id. */
  DUPLICATE: 'REGIONDNS_ERR_CHECK_DUPLICATE',
  /** Not a duration ("500ms", "5s", "1m"), or out of range. */
  DURATION: 'REGIONDNS_ERR_CHECK_DURATION',
  /** timeout not shorter than interval. */
  TIMEOUT: 'REGIONDNS_ERR_CHECK_TIMEOUT',
  /** rise or fall not a whole number from 1 to MAX_THRESHOLD. */
  THRESHOLD: 'REGIONDNS_ERR_CHECK_THRESHOLD',
  /** An expected HTTP status outside 100-599. */
  STATUS: 'REGIONDNS_ERR_CHECK_STATUS',
  /** Not an absolute http:// or https:// URL. */
  URL: 'REGIONDNS_ERR_CHECK_URL',
  /** A TCP address that is not host:port. */
  ADDRESS: 'REGIONDNS_ERR_CHECK_ADDRESS',
  /** A header name that is not an HTTP token, or a value with a line break. */
  HEADER: 'REGIONDNS_ERR_CHECK_HEADER',
  METHOD: 'REGIONDNS_ERR_CHECK_METHOD',
} as const;

/** The tenants file (tenants.source). */
export const TenantError = {
  /** The file cannot be read (reported at the `source` line of the steer file). */
  READ: 'REGIONDNS_ERR_TENANT_READ',
  /** A line that is not `slug,region`. */
  FORMAT: 'REGIONDNS_ERR_TENANT_FORMAT',
  /** A slug that is not one lower-case DNS label (a-z, 0-9, '-' inside, at most 63). */
  BAD_SLUG: 'REGIONDNS_ERR_TENANT_BAD_SLUG',
  DUPLICATE: 'REGIONDNS_ERR_TENANT_DUPLICATE',
  UNKNOWN_REGION: 'REGIONDNS_ERR_TENANT_UNKNOWN_REGION',
  /** A region some tenant hostname has no pool for. */
  REGION_WITHOUT_POOL: 'REGIONDNS_ERR_TENANT_REGION_WITHOUT_POOL',
  /** More problems than are listed one by one. */
  TOO_MANY: 'REGIONDNS_ERR_TENANT_TOO_MANY',
} as const;

/** Latency table (--latency-table): the line's problem. */
export const LatencyError = {
  /** The table cannot be read. */
  TABLE: 'REGIONDNS_ERR_LATENCY_TABLE',
  FIELDS: 'REGIONDNS_ERR_LATENCY_FIELDS',
  REGION: 'REGIONDNS_ERR_LATENCY_REGION',
  MS: 'REGIONDNS_ERR_LATENCY_MS',
  KEY: 'REGIONDNS_ERR_LATENCY_KEY',
  DUPLICATE: 'REGIONDNS_ERR_LATENCY_DUPLICATE',
} as const;

/** The rest: the zones folder, DNSSEC keys, cookie secrets, local state, reloads. */
export const OtherConfigError = {
  ZONES_DIR: 'REGIONDNS_ERR_ZONES_DIR',
  NO_ZONES: 'REGIONDNS_ERR_NO_ZONES',
  DNSSEC_KEY: 'REGIONDNS_ERR_DNSSEC_KEY',
  COOKIE_SECRET: 'REGIONDNS_ERR_COOKIE_SECRET',
  STATE_DIR: 'REGIONDNS_ERR_STATE_DIR',
  STATE_FILE: 'REGIONDNS_ERR_STATE_FILE',
  RELOAD_CRASH: 'REGIONDNS_ERR_RELOAD_CRASH',
  RELOAD_APPLY: 'REGIONDNS_ERR_RELOAD_APPLY',
} as const;

/** Warnings: the configuration loads, but probably not as meant. */
export const ZoneWarningCode = {
  TTL_MISMATCH: 'REGIONDNS_WARN_ZONE_TTL_MISMATCH',
} as const;

type ValueOf<T> = T[keyof T];

export type ConfigErrorCode =
  | ValueOf<typeof ZoneErrorCode>
  | ValueOf<typeof SteerError>
  | ValueOf<typeof CheckError>
  | ValueOf<typeof TenantError>
  | ValueOf<typeof LatencyError>
  | ValueOf<typeof OtherConfigError>
  | ValueOf<typeof ZoneWarningCode>;

/** Every code, for the README test and for tools. */
export const CONFIG_ERROR_CODES: readonly ConfigErrorCode[] = [ZoneErrorCode, SteerError, CheckError, TenantError, LatencyError, OtherConfigError, ZoneWarningCode]
  .flatMap((m) => Object.values(m) as ConfigErrorCode[]);
