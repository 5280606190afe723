/**
 * The run configuration: one JSON file, validated here, stored with the run in MongoDB. Activities read it
 * from there by run id, so Temporal payloads carry ids, never the configuration.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { MelConfigSchema } from '../mel/index.js';

const SamplingSchema = z.object({
  temperature: z.number().min(0).max(5),
  maxTokens: z.number().int().positive().max(8192),
});

export const RunConfigSchema = z
  .object({
    runId: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
        'letters, digits, _ and -, at most 64, starting alphanumeric',
      ),
    seed: z.number().int().nonnegative().default(0),
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
        reflection: SamplingSchema.prefault({ temperature: 0.7, maxTokens: 256 }),
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
  })
  .strict();

export type RunConfig = z.infer<typeof RunConfigSchema>;

export class RunConfigError extends Error {
  override name = 'RunConfigError';
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

export async function loadRunConfig(file: string): Promise<RunConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new RunConfigError(`cannot read run configuration ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RunConfigError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  return parseRunConfig(json, file);
}
