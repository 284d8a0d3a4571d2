// Where a client is, as far as GeoIP can tell.

export interface GeoPoint {
  lat: number;
  lon: number;
}

export interface ClientLocation {
  point: GeoPoint;
  /** ISO 3166-1 alpha-2, upper case, when the database has it. */
  country: string | null;
  city: string | null;
  /** Prefix length of the database network that matched: the widest subnet this answer holds for. */
  networkPrefix: number;
}

/** Looks up a client address (4 or 16 bytes). Pure once opened: no I/O per lookup. */
export interface GeoLocator {
  locate(address: Uint8Array): ClientLocation | null;
  /** Human-readable description of the database (path, layout, build date) for logs and explain. */
  readonly description: string;
}
