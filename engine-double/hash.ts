// Order-independent determinism: every random choice of the double is derived from a hash of what the request
// says (seed, weights, prompt), never from a shared generator that concurrent requests would race on.

/** Mixes 32-bit integers into one well-spread 32-bit hash (murmur3's finaliser after each part). */
export function mixInts(...parts: readonly number[]): number {
  let hash = 0x9e3779b9;
  for (const part of parts) {
    hash = Math.imul(hash ^ (part >>> 0), 0x85ebca6b);
    hash ^= hash >>> 13;
    hash = Math.imul(hash, 0xc2b2ae35);
    hash ^= hash >>> 16;
  }
  return hash >>> 0;
}

/** FNV-1a over a list of token ids. */
export function hashTokens(tokens: readonly number[]): number {
  let hash = 0x811c9dc5;
  for (const token of tokens) {
    hash ^= token >>> 0;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A 32-bit hash as 8 hex digits (ids shaped like SkyRL's `model_1a2b3c4d`). */
export function hex8(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}
