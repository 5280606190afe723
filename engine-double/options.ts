import { z } from 'zod';
import { FaultRuleSchema } from './faults.js';
import { NO_LATENCY } from './latency.js';

// Everything the double can be told, validated once (CLI flags and the in-process API share this schema).

const probability = z.number().min(0).max(1);
const nonNegative = z.number().nonnegative();

export const LatencySchema = z.strictObject({
  tokensPerSecondPerSequence: nonNegative.default(NO_LATENCY.tokensPerSecondPerSequence),
  maxConcurrentSequences: z.number().int().nonnegative().default(NO_LATENCY.maxConcurrentSequences),
  prefillMsPerPromptToken: nonNegative.default(NO_LATENCY.prefillMsPerPromptToken),
  msPerTrainedToken: nonNegative.default(NO_LATENCY.msPerTrainedToken),
  optimStepMs: nonNegative.default(NO_LATENCY.optimStepMs),
  createMs: nonNegative.default(NO_LATENCY.createMs),
  loadMs: nonNegative.default(NO_LATENCY.loadMs),
  saveMs: nonNegative.default(NO_LATENCY.saveMs),
});

export const DatasetSchema = z.strictObject({
  /** The built-in data set's seed and size (runs use a prefix of it: builtinCount ≤ this). */
  builtinSeed: z.number().int().nonnegative().default(0),
  builtinCount: z.number().int().positive().default(1000),
  /** A .jsonl or .parquet file of problems, known in addition to the built-in ones. */
  file: z.string().optional(),
});

export const EngineDoubleOptionsSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  /** 0: any free port. */
  port: z.number().int().min(0).max(65_535).default(0),
  seed: z.number().int().default(0),
  /** Folder with tokenizer.json and tokenizer_config.json; default: the tiny model's. */
  tokenizerDir: z.string().optional(),
  /** The model the double says it serves; default: the project's configured base model. */
  baseModel: z.string().optional(),
  pCorrect: probability.default(0.5),
  pReplayCorrect: probability.default(0.5),
  pUnparseable: probability.default(0.1),
  pTruncated: probability.default(0.05),
  /** Mean completion length in tokens for rollouts, replays and other text (uniform ±50 %); 0: natural length. */
  meanTokens: nonNegative.default(0),
  reflectionMeanTokens: nonNegative.default(0),
  dataset: DatasetSchema.prefault({}),
  /** skyrl: per-datum normalisation, mean over datums; sum: hosted Tinker's token sum (and `loss:sum`). */
  reduction: z.enum(['skyrl', 'sum']).default('skyrl'),
  /** ignore: SkyRL 0.3.0; dedupe: hosted Tinker's (model_id, seq_id) idempotency with 409 on another body. */
  seqIdMode: z.enum(['ignore', 'dedupe']).default('ignore'),
  /** How long retrieve_future holds a call before answering 408 (SkyRL: 300 s). */
  retrieveHoldMs: z.number().int().positive().default(300_000),
  /** LoRA slots; creating one more evicts the least recently used model. 0: no limit. */
  maxLoadedModels: z.number().int().nonnegative().default(0),
  /** Also keep checkpoints as JSON files here, so they survive a restart. */
  checkpointDir: z.string().optional(),
  latency: LatencySchema.prefault({}),
  faults: z.array(FaultRuleSchema).default([]),
});

export type EngineDoubleOptions = z.infer<typeof EngineDoubleOptionsSchema>;
export type EngineDoubleInput = z.input<typeof EngineDoubleOptionsSchema>;

export class OptionsError extends Error {
  override name = 'OptionsError';
}

export function parseOptions(input: unknown): EngineDoubleOptions {
  const parsed = EngineDoubleOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `  ${issue.path.join('.') || '(options)'}: ${issue.message}`,
    );
    throw new OptionsError(`invalid engine double options:\n${problems.join('\n')}`);
  }
  return parsed.data;
}
