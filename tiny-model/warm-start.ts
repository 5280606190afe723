/**
 * Warm start of the tiny local model through the engine itself: cross_entropy SFT of a LoRA (Tinker API) on the
 * synthetic curriculum of curriculum.ts, until the model solves a fair share of the built-in problems at the
 * rollout temperature (so that MEL sees mixed groups) and usually writes parseable reflections.
 */
import type { Logger } from '../common/logger.js';
import type { SamplingEngine, TrainingEngine } from '../engine/engine.js';
import { generateBuiltinDataset, type BuiltinProblem } from '../mel/builtin-dataset.js';
import { seededRandom, shuffle } from '../mel/random.js';
import type { MelTokenizer } from '../mel/tokenizer.js';
import type { Datum } from '../mel/types.js';
import { buildCurriculum, type Curriculum, type SftExample } from './curriculum.js';
import { measureParseRate, measurePassRate, type SamplingSetup } from './evaluation.js';
import { meanNll, sftDatum, tokenizeExample } from './sft-data.js';

export interface WarmStartTargets {
  /** Below it too few groups have a correct answer. */
  minPassRate: number;
  /** Above it too few groups have a wrong answer. */
  maxPassRate: number;
  minParseRate: number;
}

export interface WarmStartOptions {
  seed: number;
  problemCount: number;
  loraRank: number;
  learningRate: number;
  /** Rollout examples per step (fixed, so that each length bucket compiles once), every `rolloutEvery`-th step. */
  batchSize: number;
  rolloutEvery: number;
  /** Reflections after the full ~2k-token Appendix C prompt, every `reflectionEvery`-th step (0: never): costly. */
  reflectionBatchSize: number;
  reflectionEvery: number;
  /** Reflections with only the prompt's input block as context (~10x cheaper), every `compactReflectionEvery`-th step. */
  compactReflectionBatchSize: number;
  compactReflectionEvery: number;
  /** Worked solutions after the validation (replay) prompt, every `validationEvery`-th step. */
  validationBatchSize: number;
  validationEvery: number;
  maxSteps: number;
  logEvery: number;
  evalEvery: number;
  /** The first problems (the built-in kinds rotate, so every kind is there) sampled for the pass rate, and samples per problem. */
  evalProblems: number;
  groupSize: number;
  /** Synthetic pairs sampled for the parse rate, and samples per pair. */
  evalReflections: number;
  reflectionSamples: number;
  /** Rollout temperature (pass rate) and reflection temperature (parse rate), as in the MEL run configuration. */
  temperature: number;
  reflectionTemperature: number;
  rolloutMaxTokens: number;
  reflectionMaxTokens: number;
  /** The engine's sampling batch (SkyRL's sample_max_num_sequences). */
  samplingBatch: number;
  targets: WarmStartTargets;
}

export const DEFAULT_WARM_START: WarmStartOptions = {
  seed: 0,
  problemCount: 60,
  loraRank: 16,
  learningRate: 3e-3,
  batchSize: 8,
  rolloutEvery: 1,
  reflectionBatchSize: 4,
  reflectionEvery: 0,
  compactReflectionBatchSize: 8,
  compactReflectionEvery: 2,
  validationBatchSize: 8,
  validationEvery: 2,
  maxSteps: 300,
  logEvery: 10,
  evalEvery: 50,
  evalProblems: 48,
  groupSize: 4,
  evalReflections: 8,
  reflectionSamples: 2,
  temperature: 1,
  reflectionTemperature: 0.05,
  rolloutMaxTokens: 96,
  reflectionMaxTokens: 256,
  samplingBatch: 16,
  targets: { minPassRate: 0.15, maxPassRate: 0.85, minParseRate: 0.5 },
};

/**
 * The warm start runs in rounds, each a fresh LoRA on the model the round before it merged. One LoRA on the
 * random model learns to solve but not to reflect (its reflections still loop after 400 steps); a second LoRA on
 * the merged model learns the reflection format in a few dozen steps, with rollouts mixed in so that solving is
 * not forgotten (reflections alone drive the pass rate to 0 within 30 steps).
 */
export interface WarmStartRound {
  name: 'solve' | 'reflect';
  options: Partial<WarmStartOptions>;
}

export const WARM_START_ROUNDS: readonly WarmStartRound[] = [
  { name: 'solve', options: { targets: { ...DEFAULT_WARM_START.targets, minParseRate: 0 } } },
  {
    name: 'reflect',
    options: {
      rolloutEvery: 2,
      compactReflectionEvery: 1,
      validationEvery: 2,
      maxSteps: 60,
      evalEvery: 10,
      targets: { ...DEFAULT_WARM_START.targets, minParseRate: 0.8 },
    },
  },
];

export interface WarmStartEvaluation {
  step: number;
  passRate: number;
  mixedGroupFraction: number;
  /** Measured only once the pass rate reaches its minimum, or at the end. */
  parseRate: number | null;
}

export interface WarmStartResult {
  modelId: string;
  samplerPath: string;
  /** The checkpoint name under which the sampler weights were saved. */
  checkpointName: string;
  steps: number;
  wallTimeS: number;
  /** Mean NLL per stream over the last `logEvery` steps. */
  finalNll: Partial<Record<StreamName, number>>;
  final: WarmStartEvaluation;
  targetsMet: boolean;
  history: WarmStartEvaluation[];
  /** Every step's losses, in order. */
  trace: StepLosses[];
  options: WarmStartOptions;
}

export interface WarmStartDeps {
  engine: TrainingEngine & SamplingEngine;
  /** Exactly the base model string the engine serves. */
  baseModel: string;
  tokenizer: MelTokenizer;
  eosTokenId: number;
  log: Logger;
}

/** Endless epochs of a seeded shuffle, cut into fixed-size batches. */
export function* shuffledBatches<T>(items: readonly T[], size: number, seed: number): Generator<T[]> {
  const random = seededRandom(seed);
  const pool: T[] = [];
  for (;;) {
    while (pool.length < size) pool.push(...shuffle(items, random));
    yield pool.splice(0, size);
  }
}

export function targetsMet(evaluation: WarmStartEvaluation, targets: WarmStartTargets): boolean {
  return (
    evaluation.passRate >= targets.minPassRate &&
    evaluation.passRate <= targets.maxPassRate &&
    (evaluation.parseRate ?? 0) >= targets.minParseRate
  );
}

export type StreamName = 'rollout' | 'reflection' | 'compactReflection' | 'validation';

/** The mean NLL of each stream trained at one step, unrounded: the warm start's loss trace. */
export interface StepLosses {
  step: number;
  nll: Partial<Record<StreamName, number>>;
}

/** Training examples of one kind, a fixed-size batch every `every` steps. */
interface Stream {
  name: StreamName;
  every: number;
  batches: Generator<Datum[]>;
}

class WarmStartRun {
  private readonly streams: Stream[];
  private seqId = 0;
  private modelId = '';

  constructor(
    private readonly deps: WarmStartDeps,
    private readonly options: WarmStartOptions,
    private readonly problems: BuiltinProblem[],
    private readonly curriculum: Curriculum,
  ) {
    const stream = (name: StreamName, examples: SftExample[], size: number, every: number, seed: number) => ({
      name,
      every,
      batches: shuffledBatches(
        examples.map((example) => sftDatum(tokenizeExample(example, deps.tokenizer, deps.eosTokenId))),
        size,
        seed,
      ),
    });
    this.streams = [
      stream('rollout', curriculum.rollouts, options.batchSize, options.rolloutEvery, options.seed),
      stream(
        'reflection',
        curriculum.reflections,
        options.reflectionBatchSize,
        options.reflectionEvery,
        options.seed + 1,
      ),
      stream(
        'compactReflection',
        curriculum.compactReflections,
        options.compactReflectionBatchSize,
        options.compactReflectionEvery,
        options.seed + 2,
      ),
      stream(
        'validation',
        curriculum.validations,
        options.validationBatchSize,
        options.validationEvery,
        options.seed + 3,
      ),
    ].filter((s) => s.every > 0);
  }

  async createModel(): Promise<string> {
    this.modelId = await this.deps.engine.createTrainingModel({
      baseModel: this.deps.baseModel,
      rank: this.options.loraRank,
      seed: this.options.seed,
    });
    return this.modelId;
  }

  private nextSeq(): number {
    return ++this.seqId;
  }

  private async trainOn(data: Datum[]): Promise<number> {
    const output = await this.deps.engine.forwardBackward({
      modelId: this.modelId,
      seqId: this.nextSeq(),
      data,
      loss: { fn: 'cross_entropy' },
    });
    return meanNll(data, output);
  }

  /** One optimizer step over the streams due at this step; returns each one's mean NLL. */
  async step(step: number): Promise<Partial<Record<StreamName, number>>> {
    const nll: Partial<Record<StreamName, number>> = {};
    for (const stream of this.streams) {
      if (step % stream.every === 0) nll[stream.name] = await this.trainOn(stream.batches.next().value ?? []);
    }
    await this.deps.engine.optimStep({
      modelId: this.modelId,
      seqId: this.nextSeq(),
      adam: { learningRate: this.options.learningRate },
    });
    return nll;
  }

  async saveSampler(name: string): Promise<string> {
    return this.deps.engine.saveWeightsForSampler({ modelId: this.modelId, seqId: this.nextSeq(), name });
  }

  async evaluate(step: number, samplerPath: string, forceParse: boolean): Promise<WarmStartEvaluation> {
    const { options, deps } = this;
    const setup: SamplingSetup = {
      engine: deps.engine,
      samplerPath,
      tokenizer: deps.tokenizer,
      eosTokenId: deps.eosTokenId,
      batchSequences: options.samplingBatch,
      temperature: options.temperature,
      seed: options.seed * 1_000_003 + step,
    };
    const pass = await measurePassRate(setup, this.problems.slice(0, options.evalProblems), {
      groupSize: options.groupSize,
      maxTokens: options.rolloutMaxTokens,
    });
    const wantParse = forceParse || pass.passRate >= options.targets.minPassRate;
    const parse = wantParse
      ? await measureParseRate(
          { ...setup, temperature: options.reflectionTemperature },
          this.curriculum.compactReflections.slice(0, options.evalReflections),
          {
            samplesPerPrompt: options.reflectionSamples,
            maxTokens: options.reflectionMaxTokens,
          },
        )
      : null;
    if (parse) deps.log.debug({ step, reflection: parse.example }, 'sampled reflection');
    return {
      step,
      passRate: pass.passRate,
      mixedGroupFraction: pass.mixedGroupFraction,
      parseRate: parse?.parseRate ?? null,
    };
  }
}

function runName(options: WarmStartOptions, step: number): string {
  return `warm-start-s${options.seed}-step${String(step).padStart(5, '0')}`;
}

/**
 * Trains until the targets are met at an evaluation or `maxSteps` run out, then leaves the model loaded with its
 * last sampler checkpoint saved (the caller exports it and unloads the model).
 */
export async function warmStart(
  deps: WarmStartDeps,
  overrides: Partial<WarmStartOptions> = {},
): Promise<WarmStartResult> {
  const options = { ...DEFAULT_WARM_START, ...overrides };
  const started = performance.now();
  const { run, modelId } = await startRun(deps, options);
  const history: WarmStartEvaluation[] = [];
  const trace: StepLosses[] = [];
  const nll = new NllTracker();
  let step = 0;
  let samplerPath = '';
  while (step < options.maxSteps) {
    step++;
    const losses = await run.step(step);
    trace.push({ step, nll: losses });
    nll.add(losses);
    if (step % options.logEvery === 0) deps.log.info({ step, nll: nll.window() }, 'warm start: training');
    const last = step === options.maxSteps;
    if (step % options.evalEvery !== 0 && !last) continue;
    samplerPath = await run.saveSampler(runName(options, step));
    const evaluation = await run.evaluate(step, samplerPath, last);
    history.push(evaluation);
    deps.log.info({ ...evaluation, elapsedS: elapsedS(started) }, 'warm start: evaluation');
    if (targetsMet(evaluation, options.targets)) break;
  }
  const final = history.at(-1) as WarmStartEvaluation;
  return {
    modelId,
    samplerPath,
    checkpointName: runName(options, step),
    steps: step,
    wallTimeS: elapsedS(started),
    finalNll: nll.window(),
    final,
    targetsMet: targetsMet(final, options.targets),
    history,
    trace,
    options,
  };
}

async function startRun(deps: WarmStartDeps, options: WarmStartOptions) {
  const problems = generateBuiltinDataset({ seed: options.seed, count: options.problemCount });
  const run = new WarmStartRun(deps, options, problems, buildCurriculum(problems, options.seed));
  const modelId = await run.createModel();
  deps.log.info({ modelId, options }, 'warm start: LoRA model created');
  return { run, modelId };
}

export interface WarmStartTrace {
  modelId: string;
  trace: StepLosses[];
  /** Saves the LoRA's sampler weights under `name` (SkyRL: <checkpoints>/<modelId>/sampler_weights/<name>.tar.gz). */
  saveSampler(name: string): Promise<string>;
}

/**
 * The first `steps` training steps of a warm start, without evaluating: their losses are the same as the first
 * steps of the full run. The model stays loaded; the caller unloads it.
 */
export async function warmStartTrace(
  deps: WarmStartDeps,
  overrides: Partial<WarmStartOptions>,
  steps: number,
): Promise<WarmStartTrace> {
  const { run, modelId } = await startRun(deps, { ...DEFAULT_WARM_START, ...overrides });
  const trace: StepLosses[] = [];
  for (let step = 1; step <= steps; step++) trace.push({ step, nll: await run.step(step) });
  return { modelId, trace, saveSampler: (name) => run.saveSampler(name) };
}

function elapsedS(started: number): number {
  return Math.round((performance.now() - started) / 100) / 10;
}

/** Mean NLL per stream over the steps since the last log line. */
class NllTracker {
  private sums: Partial<Record<StreamName, number[]>> = {};
  private lastWindow: Partial<Record<StreamName, number>> = {};

  add(nll: Partial<Record<StreamName, number>>): void {
    for (const [name, value] of Object.entries(nll) as [StreamName, number][]) {
      (this.sums[name] ??= []).push(value);
    }
  }

  /** The latest mean of every stream seen so far. */
  window(): Partial<Record<StreamName, number>> {
    const means = Object.entries(this.sums).map(([name, values]) => [
      name,
      round(values.reduce((sum, v) => sum + v, 0) / values.length),
    ]);
    this.lastWindow = { ...this.lastWindow, ...Object.fromEntries(means) };
    this.sums = {};
    return this.lastWindow;
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
