import { z } from 'zod';
import { deriveSeed } from './random.js';

// Held-out evaluation (`mel eval`): Pass@1 of the greedy answer, Avg@k and Pass@k of k sampled answers per
// problem. Pure: the activities count correct answers from the stored samples, this turns the counts into metrics.

export const EvalSettingsSchema = z
  .object({
    /** Sampled answers per problem (Avg@k, Pass@k), besides the one greedy answer (Pass@1). */
    k: z.number().int().min(1).max(64),
    /** Temperature of the k sampled answers; the greedy answer is sampled at 0. */
    temperature: z.number().min(0).max(5),
    maxTokens: z.number().int().positive().max(8192),
    /** Only the first N problems of the data file; null: all. */
    limit: z.number().int().positive().nullable(),
    /** Sampling seeds derive from it, the problem's index and the sample's index. */
    seed: z.number().int().nonnegative(),
  })
  .strict();
export type EvalSettings = z.infer<typeof EvalSettingsSchema>;

/** Eval ids are parts of document ids (`<eval>/p3/s1`) and of a workflow id. */
export const EvalIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, 'letters, digits, _ and -, at most 100, starting alphanumeric');

/**
 * The unbiased Pass@k estimator (Chen et al. 2021): the probability that at least one of k answers drawn without
 * replacement from n samples, c of them correct, is correct: 1 − C(n−c, k) / C(n, k). Computed as a product, so
 * large n does not overflow. With n = k it is 1 when c > 0, else 0.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(c) || !Number.isInteger(k)) {
    throw new RangeError(`passAtK needs whole numbers, got n=${n}, c=${c}, k=${k}`);
  }
  if (k < 1 || k > n) throw new RangeError(`passAtK needs 1 <= k <= n, got k=${k}, n=${n}`);
  if (c < 0 || c > n) throw new RangeError(`passAtK needs 0 <= c <= n, got c=${c}, n=${n}`);
  if (n - c < k) return 1;
  // C(n−c, k) / C(n, k) = Π_{i=n−c+1}^{n} (1 − k / i)
  let allWrong = 1;
  for (let i = n - c + 1; i <= n; i++) allWrong *= 1 - k / i;
  return 1 - allWrong;
}

/** What was sampled for one problem and how much of it the verifier accepted. */
export interface ProblemOutcome {
  greedyCorrect: boolean;
  /** Sampled (temperature > 0) answers of the problem. */
  samples: number;
  correctSamples: number;
}

export interface EvalMetrics {
  k: number;
  problems: number;
  /** One greedy answer per problem. */
  greedySamples: number;
  sampledSamples: number;
  /** Fraction of problems whose greedy (temperature 0) answer is correct. */
  pass1: number;
  /** Mean correctness over all sampled answers of all problems. */
  avgK: number;
  /** Mean over problems of the unbiased Pass@k estimate from that problem's samples. */
  passK: number;
}

/** Pass@1, Avg@k and Pass@k of a set of problems; every problem needs at least k sampled answers. */
export function evalMetrics(outcomes: readonly ProblemOutcome[], k: number): EvalMetrics {
  if (outcomes.length === 0) throw new RangeError('no problems to compute metrics over');
  const sampledSamples = sum(outcomes.map((o) => o.samples));
  return {
    k,
    problems: outcomes.length,
    greedySamples: outcomes.length,
    sampledSamples,
    pass1: outcomes.filter((o) => o.greedyCorrect).length / outcomes.length,
    avgK: sampledSamples ? sum(outcomes.map((o) => o.correctSamples)) / sampledSamples : 0,
    passK: sum(outcomes.map((o) => passAtK(o.samples, o.correctSamples, k))) / outcomes.length,
  };
}

/** One stored answer: which problem, greedy or sampled, and its score (undefined: not scored yet). */
export interface ScoredAnswer {
  problemIndex: number;
  kind: EvalSampleKey['kind'];
  correct: boolean | undefined;
}

/**
 * The outcome of each of `problems` problems (by index) from their answers. Throws unless every problem has
 * exactly one greedy and k sampled answers, all scored: metrics over a partial eval would be wrong silently.
 */
export function problemOutcomes(
  answers: readonly ScoredAnswer[],
  problems: number,
  k: number,
): ProblemOutcome[] {
  const counts = Array.from({ length: problems }, () => ({
    greedy: 0,
    greedyCorrect: false,
    samples: 0,
    correct: 0,
  }));
  for (const answer of answers) {
    const count = counts[answer.problemIndex];
    if (!count)
      throw new RangeError(`an answer of problem ${answer.problemIndex}, beyond the ${problems} problems`);
    if (answer.correct === undefined)
      throw new Error(`an answer of problem ${answer.problemIndex} is not scored`);
    if (answer.kind === 'greedy') {
      count.greedy++;
      count.greedyCorrect = answer.correct;
    } else {
      count.samples++;
      if (answer.correct) count.correct++;
    }
  }
  const incomplete = counts.findIndex((c) => c.greedy !== 1 || c.samples !== k);
  if (incomplete >= 0) {
    const c = counts[incomplete]!;
    throw new Error(
      `problem ${incomplete} has ${c.greedy} greedy and ${c.samples} sampled answers; expected 1 and ${k}`,
    );
  }
  return counts.map((c) => ({
    greedyCorrect: c.greedyCorrect,
    samples: c.samples,
    correctSamples: c.correct,
  }));
}

/** The answers of one problem: its greedy one, or sampled answer number `index` (0..k−1). */
export type EvalSampleKey = { kind: 'greedy' } | { kind: 'sampled'; index: number };

/**
 * The sampling seed of one answer: a pure function of the eval seed, the problem's position in the data and the
 * sample, so a re-run (or a retried activity) asks for the same samples. Below 2^31, as engines store signed ints.
 */
export function evalSampleSeed(evalSeed: number, problemIndex: number, sample: EvalSampleKey): number {
  const key = sample.kind === 'greedy' ? 'greedy' : `s${sample.index}`;
  return deriveSeed(evalSeed, `eval/p${problemIndex}/${key}`) % 2 ** 31;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
