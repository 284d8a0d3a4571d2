// What an instance serves, in a form instances can compare: a content hash of its zones, steering
// policies and tenants file as loaded, and each zone's SOA serial. Two instances with the same hash
// answer alike (given the same fleet state); `ctl drift` flags one that differs. Computed once per
// load, from the zones' content hashes (as the reload process read them) and the parsed policies.
// The types live here, a leaf every layer may import; computing one (server/config-identity.ts)
// needs the zones' and policies' vocabulary.

export interface ConfigIdentity {
  /** sha256 of the content served, hex, first 16 characters. */
  hash: string;
  /** Zone origin → SOA serial. */
  serials: Record<string, number | null>;
}

/** A loaded zone as the identity sees it: its content hash (file and $INCLUDEs) and serial. */
export interface ZoneIdentity {
  origin: string;
  hash: string;
  serial: number | null;
}
