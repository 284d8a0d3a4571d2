// Types for the siphash24 package (SipHash-2-4 in WebAssembly, with a JavaScript fallback).
declare module 'siphash24' {
  /** SipHash-2-4 of `data` under a 16-octet `key`, written into `out` (8 octets, little-endian). */
  function siphash24(data: Uint8Array, key: Uint8Array, out?: Uint8Array, noAssert?: boolean): Uint8Array;
  export default siphash24;
}
