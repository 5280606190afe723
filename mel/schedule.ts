import { deriveSeed, seededRandom, shuffle } from './random.js';
import type { Problem } from './types.js';

/**
 * The problems of one step: the data set is shuffled once per epoch with a seed derived from the run seed,
 * and consecutive steps take consecutive slices, so a replayed step sees exactly the same prompts.
 */
export function problemsForStep(
  problems: readonly Problem[],
  runSeed: number,
  step: number,
  batchSize: number,
): Problem[] {
  if (problems.length === 0) throw new Error('the data set is empty');
  const batch: Problem[] = [];
  for (let offset = step * batchSize; batch.length < batchSize; offset++) {
    const epoch = Math.floor(offset / problems.length);
    const order = epochOrder(problems.length, runSeed, epoch);
    batch.push(problems[order[offset % problems.length]!]!);
  }
  return batch;
}

function epochOrder(size: number, runSeed: number, epoch: number): number[] {
  const random = seededRandom(deriveSeed(runSeed, `epoch-${epoch}`));
  return shuffle(
    Array.from({ length: size }, (_, i) => i),
    random,
  );
}

/**
 * The sampling seed of one engine call: a pure function of run seed, step, stage and item, so a replayed step
 * asks for the same samples. Kept below 2^31: engines store seeds as signed 32-bit integers.
 */
export function samplingSeed(runSeed: number, step: number, stage: string, item: string): number {
  return deriveSeed(runSeed, `step-${step}/${stage}/${item}`) % 2 ** 31;
}

/**
 * The seed that samples a run's contrastive pairs: the run seed, unless `mel.pairs.seed` is set (non-zero), which
 * then draws another sample of pairs from the same rollouts.
 */
export function pairSamplingSeed(runSeed: number, pairsSeed: number): number {
  return pairsSeed === 0 ? runSeed : deriveSeed(runSeed, `pairs/${pairsSeed}`);
}
