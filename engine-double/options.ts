import { z } from 'zod';
import { LOSS_REDUCTIONS } from '../mel/objective.js';
import { FaultRuleSchema } from './faults.js';
import type { LatencyOptions } from './latency.js';
import { LATENCY_PROFILE_NAMES, LATENCY_PROFILES, type LatencyProfileName } from './latency-profiles.js';

// Everything the double can be told, validated once (CLI flags and the in-process API share this schema).

const probability = z.number().min(0).max(1);
const nonNegative = z.number().nonnegative();

const profileName = z.enum(LATENCY_PROFILE_NAMES, {
  error: (issue) =>
    `unknown latency profile ${JSON.stringify(issue.input)} (known: ${LATENCY_PROFILE_NAMES.join(', ')})`,
});

const LatencyFieldsSchema = z.strictObject({
  /** The named profile the other fields override (default: zero). */
  profile: profileName.default('zero'),
  tokensPerSecondPerSequence: nonNegative.optional(),
  maxConcurrentSequences: z.number().int().nonnegative().optional(),
  prefillMsPerPromptToken: nonNegative.optional(),
  msPerTrainedToken: nonNegative.optional(),
  optimStepMs: nonNegative.optional(),
  createMs: nonNegative.optional(),
  loadMs: nonNegative.optional(),
  saveMs: nonNegative.optional(),
});

type LatencyFields = z.output<typeof LatencyFieldsSchema>;

function resolveLatency({
  profile,
  ...overrides
}: LatencyFields): LatencyOptions & { profile: LatencyProfileName } {
  const given = Object.entries(overrides).filter(([, value]) => value !== undefined);
  return { profile, ...LATENCY_PROFILES[profile], ...Object.fromEntries(given) };
}

/** A profile name, or a profile's fields with overrides: `'h100-8b'`, `{ profile: 'h100-8b', loadMs: 0 }`, `{}`. */
export const LatencySchema = z
  .preprocess((value) => (typeof value === 'string' ? { profile: value } : value), LatencyFieldsSchema)
  .transform(resolveLatency);

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
  /**
   * Put into its model ids (`model_<name>_<hex>`): doubles that share a checkpoint directory (several inference
   * engines of a run) never give two models one id. Letters and digits.
   */
  name: z
    .string()
    .regex(/^[A-Za-z0-9]*$/, 'letters and digits only')
    .default(''),
  /** Folder with tokenizer.json and tokenizer_config.json; default: the tiny model's. */
  tokenizerDir: z.string().optional(),
  /** The model the double says it serves; default: the project's configured base model. */
  baseModel: z.string().optional(),
  pCorrect: probability.default(0.5),
  pReplayCorrect: probability.default(0.5),
  pUnparseable: probability.default(0.1),
  pTruncated: probability.default(0.05),
  /** Share of parseable reflections that write the answer down (\boxed{}) in their success analysis. */
  pStatesAnswer: probability.default(0),
  /** Mean completion length in tokens for rollouts, replays and other text (uniform ±50 %); 0: natural length. */
  meanTokens: nonNegative.default(0),
  reflectionMeanTokens: nonNegative.default(0),
  dataset: DatasetSchema.prefault({}),
  /** skyrl: per-datum normalisation, mean over datums; sum: hosted Tinker's token sum (and `loss:sum`). */
  reduction: z.enum(LOSS_REDUCTIONS).default('skyrl'),
  /** ignore: SkyRL 0.3.0; dedupe: hosted Tinker's (model_id, seq_id) idempotency with 409 on another body. */
  seqIdMode: z.enum(['ignore', 'dedupe']).default('ignore'),
  /** How long retrieve_future holds a call before answering 408 (SkyRL: 300 s). */
  retrieveHoldMs: z.number().int().positive().default(300_000),
  /** The model's context in tokens: an asample whose prompt + max_tokens exceeds it fails, as SkyRL with vLLM answers. 0: no limit. */
  maxContextTokens: z.number().int().nonnegative().default(0),
  /** LoRA slots; creating one more evicts the least recently used model. 0: no limit. */
  maxLoadedModels: z.number().int().nonnegative().default(0),
  /** Also keep checkpoints as JSON files here, so they survive a restart; doubles with one directory share them. */
  checkpointDir: z.string().optional(),
  latency: LatencySchema.prefault({}),
  faults: z.array(FaultRuleSchema).default([]),
});

export type EngineDoubleOptions = z.infer<typeof EngineDoubleOptionsSchema>;
/** A profile name, or a profile's fields with overrides (the preprocessing step hides this from z.input). */
export type LatencyInput = LatencyProfileName | z.input<typeof LatencyFieldsSchema>;
export type EngineDoubleInput = Omit<z.input<typeof EngineDoubleOptionsSchema>, 'latency'> & {
  latency?: LatencyInput;
};

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
