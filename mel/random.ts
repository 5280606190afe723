// Small seeded PRNG so that pair sampling and the built-in data set are reproducible across runs
// and across machines (Math.random is neither seedable nor stable).

export type Random = () => number;

/** mulberry32: a 32-bit PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a hash of a string, used to derive an independent seed per key (e.g. per problem id). */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function deriveSeed(seed: number, key: string): number {
  return hashString(`${seed}:${key}`);
}

/** Integer in [min, max], both inclusive. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

export function pickOne<T>(random: Random, items: readonly T[]): T {
  const item = items[randomInt(random, 0, items.length - 1)];
  if (item === undefined) throw new Error('pickOne: empty list');
  return item;
}

/**
 * A shuffled copy of `items` (Fisher–Yates from the last position down, j = ⌊random()·(i+1)⌋): the order of the
 * problem schedule's epochs and of the warm start's batches, so it must not change.
 */
export function shuffle<T>(items: readonly T[], random: Random): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/**
 * k distinct indices of 0..n-1, sorted ascending: the first k draws of a Fisher–Yates run from the first position
 * up, so only k random numbers are used. Not `shuffle`: its draws differ, and the pairs every MEL run samples
 * depend on these.
 */
export function sampleIndices(random: Random, n: number, k: number): number[] {
  const indices = Array.from({ length: n }, (_, i) => i);
  const take = Math.min(k, n);
  for (let i = 0; i < take; i++) {
    const j = randomInt(random, i, n - 1);
    [indices[i], indices[j]] = [indices[j] as number, indices[i] as number];
  }
  return indices.slice(0, take).sort((a, b) => a - b);
}
