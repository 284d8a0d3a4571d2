// The murmur3 32-bit finalizer: spreads every input bit over the output, so the low bits (a table
// slot) and the top bits (a weighted draw) both depend on the whole key. Shared by the sticky
// subnet hash (steering) and the rate limiter's accounts.

export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
