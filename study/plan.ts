/**
 * The MEL-against-GRPO study (`npm run study`): which runs it trains and which held-out problems it evaluates them
 * on. Pure: the script (scripts/study.ts) does the I/O.
 */
import { builtinProblems } from '../mel/builtin-dataset.js';
import type { Problem } from '../mel/types.js';
import { RUN_MODES, type RunConfig, type RunMode } from '../mel/run-config.js';

export interface StudyRun {
  runId: string;
  mode: RunMode;
  seed: number;
  config: RunConfig;
}

export interface StudyPlanOptions {
  seeds: readonly number[];
  steps: number;
  /** Run ids are `<prefix>-<mode>-s<seed>`. */
  prefix: string;
}

/**
 * One run per mode and seed, each the template with only mode, seed, steps and run id changed: a GRPO run and a MEL run of
 * the same seed draw the same problems in the same order with the same rollout seeds (both derive from the seed).
 */
export function studyRuns(template: RunConfig, options: StudyPlanOptions): StudyRun[] {
  if (options.seeds.length === 0) throw new RangeError('the study needs at least one seed');
  if (new Set(options.seeds).size !== options.seeds.length) throw new RangeError('a seed is given twice');
  return options.seeds.flatMap((seed) =>
    RUN_MODES.map((mode) => {
      const runId = `${options.prefix}-${mode}-s${seed}`;
      const config = { ...template, runId, mode, seed, steps: options.steps };
      return { runId, mode, seed, config };
    }),
  );
}

export type StudyEvalSetName = 'held-out' | 'train';

export interface StudyEvalSet {
  name: StudyEvalSetName;
  description: string;
  problems: Problem[];
}

/** Held-out problems drawn from the same generator with this seed offset from the training set's. */
export const HELD_OUT_SEED_OFFSET = 1000;

/**
 * What every run is evaluated on: held-out problems of the built-in generator (another seed, any question that
 * is also in the training set removed) and, to see what training moved, the training problems themselves.
 */
export function studyEvalSets(template: RunConfig, heldOutCount: number): StudyEvalSet[] {
  const { source, builtinCount, builtinSeed } = template.dataset;
  if (source !== 'builtin')
    throw new RangeError('the study trains on the built-in set (dataset.source "builtin")');
  const train = builtinProblems({ seed: builtinSeed, count: builtinCount });
  const trained = new Set(train.map((problem) => problem.question));
  const heldOut = builtinProblems({ seed: builtinSeed + HELD_OUT_SEED_OFFSET, count: heldOutCount }).filter(
    (problem) => !trained.has(problem.question),
  );
  return [
    {
      name: 'held-out',
      description: `${heldOut.length} built-in problems of seed ${builtinSeed + HELD_OUT_SEED_OFFSET}, none in the training set`,
      problems: heldOut,
    },
    {
      name: 'train',
      description: `the ${train.length} training problems (built-in seed ${builtinSeed})`,
      problems: train,
    },
  ];
}
