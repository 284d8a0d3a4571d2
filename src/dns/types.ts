// The values that cross the query path: a decoded query in, an answer out.
// Names are canonical: lower case, fully qualified, with the trailing dot ("www.example.com.", root ".").

/** EDNS Client Subnet (RFC 7871 §6). `address` always has the family's full length, host bits zero. */
export interface ClientSubnet {
  family: 1 | 2;
  sourcePrefix: number;
  scopePrefix: number;
  address: Uint8Array;
}

export interface Edns {
  version: number;
  udpSize: number;
  dnssecOk: boolean;
  /**
   * "Compact Answers OK" (CO, RFC 9824 §5.1): the querier takes a compact denial for a name that does
   * not exist with rcode NXDOMAIN. Only acted on with DO=1.
   */
  compactOk: boolean;
  ecs: ClientSubnet | null;
  /** The query asked for the server's NSID (RFC 5001): an empty option 3. */
  nsid: boolean;
  /** The COOKIE option's data (RFC 7873 §4), a view into the request; null when absent. */
  cookie: Uint8Array | null;
}

export interface Query {
  id: number;
  /** The request's header flag bits (RD and CD are copied into the reply). */
  flags: number;
  opcode: number;
  /** Canonical (lower-case) question name, for lookups. */
  qname: string;
  qtype: number;
  qclass: number;
  /** Offset just past the question in the request: the reply copies bytes 12..questionEnd, keeping the asker's case. */
  questionEnd: number;
  edns: Edns | null;
}

/**
 * The owner of a record pre-encoded for a wildcard (RFC 4592 §3.3.1: the owner of a synthesized
 * record is the query name): the encoder writes a pointer to the question's name (0xC00C), so one
 * pre-encoded record serves every name the wildcard covers. Canonical names end in '.', this does not.
 * After a CNAME the owner is not the question: the lookup then gives such records their real owner.
 */
export const QUESTION_NAME = '<question>';

/** A resource record ready for the wire: rdata is pre-encoded (uncompressed) when the snapshot is built. */
export interface WireRR {
  /** Canonical owner name. */
  owner: string;
  /** The owner in wire format (uncompressed labels). */
  ownerWire: Uint8Array;
  type: number;
  klass: number;
  ttl: number;
  rdata: Uint8Array;
}

export interface Answer {
  rcode: number;
  aa: boolean;
  answer: readonly WireRR[];
  authority: readonly WireRR[];
  additional: readonly WireRR[];
  /** ECS scope prefix to echo (RFC 7871 §7.2.1); ignored when the query carried no ECS. */
  ecsScope: number;
  /** Set when the answer was synthesised from a wildcard (RFC 4592): its owner (`*.…`), for the rate limiter. */
  wildcard?: string;
}
