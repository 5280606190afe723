import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { NON_RETRYABLE } from './error-types.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const port = z.coerce.number().int().min(1).max(65_535);
const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value ? value : undefined));

/**
 * Everything the project reads from the environment, validated once. Unset service addresses mean
 * "use the local stack that the project starts itself"; set ones point at an existing service.
 */
const envSchema = z.object({
  MEL_CACHE_DIR: z.string().default(path.join(REPO_ROOT, '.cache')),
  MEL_STACK_DIR: z.string().default(path.join(REPO_ROOT, '.stack')),
  MEL_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Log lines: readable on a terminal and JSON when piped (auto), or always one of them. */
  MEL_LOG_FORMAT: z.enum(['auto', 'pretty', 'json']).default('auto'),

  MEL_TEMPORAL_ADDRESS: optionalText,
  MEL_TEMPORAL_NAMESPACE: z.string().default('default'),
  MEL_TEMPORAL_PORT: port.default(17_233),
  MEL_TEMPORAL_UI_PORT: port.default(18_233),

  MONGODB_URI: optionalText,
  MEL_MONGODB_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
    .default('mel'),
  MEL_FERRETDB_PORT: port.default(27_217),
  /** The embedded store's backend: FerretDB on the stack's own PostgreSQL, or on SQLite (scans all but `_id`). */
  MEL_FERRETDB_BACKEND: z.enum(['postgresql', 'sqlite']).default('postgresql'),
  MEL_POSTGRES_PORT: port.default(27_218),

  MEL_ENGINE_URL: optionalText,
  MEL_ENGINE_PORT: port.default(18_123),
  /** Base model the engine serves: a local directory for SkyRL, a model name for hosted Tinker. */
  MEL_BASE_MODEL: optionalText,
  /** Name of the variable that holds the engine's API key (the key itself is never logged or stored). */
  MEL_ENGINE_API_KEY_ENV: z.string().default('TINKER_API_KEY'),
  MEL_STACK_START_TIMEOUT_S: z.coerce.number().positive().default(180),
});

export type Env = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  override name = NON_RETRYABLE.config;
}

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid environment:\n${problems.join('\n')}`);
  }
  return parsed.data;
}

/** Where each service is reached, whether the project started it or the user pointed at their own. */
export interface Endpoints {
  temporalAddress: string;
  temporalNamespace: string;
  temporalUiUrl?: string;
  mongoUri: string;
  mongoDb: string;
  engineUrl: string;
  baseModel: string;
  engineApiKeyEnv: string;
}

/** The tiny random model the project creates (tiny-model/python/make_tiny_model.py). */
export function tinyModelDir(env: Env): string {
  return path.join(env.MEL_CACHE_DIR, 'models', 'tiny-qwen3');
}

/** The tiny model after its warm start, committed in the repository: what the local engine serves by default. */
export const WARM_MODEL_DIR = path.join(REPO_ROOT, 'tiny-model', 'artifact');

export function resolveEndpoints(env: Env = loadEnv()): Endpoints {
  const loopback = '127.0.0.1';
  return {
    temporalAddress: env.MEL_TEMPORAL_ADDRESS ?? `${loopback}:${env.MEL_TEMPORAL_PORT}`,
    temporalNamespace: env.MEL_TEMPORAL_NAMESPACE,
    temporalUiUrl: env.MEL_TEMPORAL_ADDRESS ? undefined : `http://${loopback}:${env.MEL_TEMPORAL_UI_PORT}`,
    mongoUri: env.MONGODB_URI ?? `mongodb://${loopback}:${env.MEL_FERRETDB_PORT}/`,
    mongoDb: env.MEL_MONGODB_DB,
    engineUrl: env.MEL_ENGINE_URL ?? `http://${loopback}:${env.MEL_ENGINE_PORT}`,
    baseModel: env.MEL_BASE_MODEL ?? WARM_MODEL_DIR,
    engineApiKeyEnv: env.MEL_ENGINE_API_KEY_ENV,
  };
}
