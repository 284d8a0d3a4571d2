// DNS numeric codes used across regiondns (RFC 1035 §3.2, RFC 3596, RFC 2782, RFC 8659, RFC 6891).

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  AXFR: 252,
  IXFR: 251,
  ANY: 255,
  CAA: 257,
} as const;

export const RRClass = { IN: 1, CH: 3, ANY: 255 } as const;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16, // extended rcode: the upper 8 bits travel in the OPT TTL (RFC 6891 §6.1.3)
  BADCOOKIE: 23, // RFC 7873 §8
} as const;

export const Opcode = { QUERY: 0 } as const;

export const EdnsOption = { NSID: 3, ECS: 8, COOKIE: 10 } as const;

const typeNames = new Map<number, string>(Object.entries(RRType).map(([k, v]) => [v, k]));

/** Mnemonic of a type code, or the RFC 3597 generic form `TYPE<n>`. */
export function typeName(code: number): string {
  return typeNames.get(code) ?? `TYPE${code}`;
}

const rcodeNames = new Map<number, string>(Object.entries(Rcode).map(([k, v]) => [v, k]));

export function rcodeName(code: number): string {
  return rcodeNames.get(code) ?? `RCODE${code}`;
}
