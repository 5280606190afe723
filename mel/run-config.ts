/**
 * The run configuration: one JSON file, validated here, stored with the run in MongoDB. Activities read it
 * from there by run id, so Temporal payloads carry ids, never the configuration.
 */
import { z } from 'zod';
import { NON_RETRYABLE } from '../common/error-types.js';
import { MelConfigSchema, type MelConfig } from './config.js';
import { DEFAULT_FAN_OUT } from './fan-out.js';

const SamplingSchema = z.object({
  temperature: z.number().min(0).max(5),
  maxTokens: z.number().int().positive().max(8192),
});

/**
 * The reflection's token budget when the configuration gives none, and the least that a reflection in that prompt
 * style needs: Appendix C asks for four analysed sections (a real model writes one to two thousand tokens), the
 * compact prompt for a few lines. Chained mode always uses Appendix C.
 */
/** 'grpo' first: the baseline, then the method. */
export const RUN_MODES = ['grpo', 'mel'] as const;

export const REFLECTION_BUDGETS = {
  'appendix-c': { default: 2048, least: 1024 },
  compact: { default: 256, least: 128 },
} as const;

function reflectionStyle(mel: MelConfig): keyof typeof REFLECTION_BUDGETS {
  return mel.metaExperience.mode === 'chained' ? 'appendix-c' : mel.metaExperience.prompt;
}

export const RunConfigSchema = z
  .object({
    runId: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
        'letters, digits, _ and -, at most 64, starting alphanumeric',
      ),
    seed: z.number().int().nonnegative().default(0),
    /**
     * 'mel': the full MEL step. 'grpo': the GRPO baseline, the same step without contrast, summarize and validate
     * (so no meta-experience is internalized).
     */
    mode: z.enum(RUN_MODES).default('mel'),
    steps: z.number().int().positive(),
    /** Prompts per step. */
    batchSize: z.number().int().positive(),
    /** Samples per prompt (G). */
    groupSize: z.number().int().min(2),
    dataset: z
      .object({
        /** 'builtin' (the generated arithmetic set) or a .jsonl/.parquet path. */
        source: z.string().default('builtin'),
        builtinCount: z.number().int().positive().default(300),
        /** Seed of the generated set; 0 with count 60 is the set the local tiny model was warm-started on. */
        builtinSeed: z.number().int().nonnegative().default(0),
      })
      .prefault({}),
    sampling: z
      .object({
        rollout: SamplingSchema.prefault({ temperature: 1, maxTokens: 64 }),
        /** maxTokens absent: REFLECTION_BUDGETS' default for the prompt style. */
        reflection: SamplingSchema.extend({ maxTokens: SamplingSchema.shape.maxTokens.optional() }).prefault({
          temperature: 0.7,
        }),
        validation: SamplingSchema.prefault({ temperature: 1, maxTokens: 64 }),
      })
      .prefault({}),
    lora: z.object({ rank: z.number().int().positive().max(256).default(8) }).prefault({}),
    optimizer: z
      .object({
        learningRate: z.number().positive().max(1).default(1e-4),
        beta1: z.number().min(0).max(1).default(0.9),
        beta2: z.number().min(0).max(1).default(0.95),
        eps: z.number().positive().default(1e-8),
        weightDecay: z.number().nonnegative().default(0),
      })
      .prefault({}),
    grpo: z
      .object({
        lossFn: z.enum(['ppo', 'importance_sampling']).default('ppo'),
        clipLow: z.number().positive().default(0.8),
        clipHigh: z.number().positive().default(1.2),
      })
      .prefault({}),
    mel: MelConfigSchema.prefault({}),
    /**
     * Where the policy starts: absent, a fresh adapter on the base model; else a checkpoint some run recorded in this
     * store (the policy after a step, or a run's initial policy), whose weights and optimizer state the run continues
     * from (a fork). The adapter's rank must be the checkpoint's.
     */
    initialPolicy: z
      .union([
        z.object({ runId: z.string().min(1), step: z.number().int().nonnegative() }).strict(),
        z
          .object({
            statePath: z.string().regex(/^tinker:\/\/\S+$/, 'a saved state, tinker://<model>/weights/<name>'),
          })
          .strict(),
      ])
      .optional(),
    /**
     * The policies the engine keeps: with `keepLast`, after each step the saved states and sampler weights of steps
     * older than the newest `keepLast` are deleted through the engine's delete route, except those another run,
     * a running eval or a fork still references (checkpoints/prune.ts). Absent: every step's checkpoint is kept.
     */
    checkpoints: z.object({ keepLast: z.number().int().positive().optional() }).strict().prefault({}),
    /**
     * How a step splits its sampling stages into activities that any inference worker takes: prompts per rollout
     * activity, reflections or replays per summarize or validate activity. Each activity samples its items at once,
     * so with W worker slots (MEL_WORKER_CONCURRENCY_GPU_INFERENCE) about W·promptsPerChunk·G sequences are in flight.
     * Results do not depend on it. Defaults: DEFAULT_FAN_OUT (mel/fan-out.ts).
     */
    fanOut: z
      .object({
        promptsPerChunk: z.number().int().positive().max(1024).default(DEFAULT_FAN_OUT.promptsPerChunk),
        generationsPerChunk: z
          .number()
          .int()
          .positive()
          .max(1024)
          .default(DEFAULT_FAN_OUT.generationsPerChunk),
      })
      .prefault({}),
  })
  .strict()
  .transform(({ sampling, ...config }) => ({
    ...config,
    sampling: {
      ...sampling,
      reflection: {
        ...sampling.reflection,
        maxTokens: sampling.reflection.maxTokens ?? REFLECTION_BUDGETS[reflectionStyle(config.mel)].default,
      },
    },
  }));

export type RunConfig = z.infer<typeof RunConfigSchema>;
export type InitialPolicySpec = NonNullable<RunConfig['initialPolicy']>;
export type RunMode = RunConfig['mode'];

export class RunConfigError extends Error {
  override name = NON_RETRYABLE.runConfig;
}

export function parseRunConfig(input: unknown, source = 'run configuration'): RunConfig {
  const parsed = RunConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new RunConfigError(`${source} is invalid:\n${problems.join('\n')}`);
  }
  return parsed.data;
}

/**
 * Whether a stored configuration is the same run as `candidate`. The stored one is parsed first, so a default
 * added since it was written, or a different key order, does not count as a difference.
 */
export function sameRunConfig(stored: unknown, candidate: RunConfig): boolean {
  return canonicalJson(parseRunConfig(stored, 'stored run configuration')) === canonicalJson(candidate);
}

/** What in a valid configuration will likely not work as meant: printed by `mel train` before the run starts. */
export function runConfigWarnings(config: RunConfig): string[] {
  const warnings: string[] = [];
  const style = reflectionStyle(config.mel);
  const budget = config.sampling.reflection.maxTokens;
  if (config.mode === 'mel' && budget < REFLECTION_BUDGETS[style].least) {
    warnings.push(
      `sampling.reflection.maxTokens is ${budget}: a reflection in the ${style} prompt style needs about ` +
        `${REFLECTION_BUDGETS[style].least} or more, so most will be cut off (stop reason "length")`,
    );
  }
  return warnings;
}

export function differentRunConfigMessage(runId: string): string {
  return `run ${runId} already exists with a different configuration; choose a new runId`;
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
