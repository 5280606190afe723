import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { NON_RETRYABLE } from './error-types.js';
import {
  temporalSettings,
  TemporalSettingsError,
  type TemporalAccess,
  type TemporalSettings,
} from './temporal-env.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const port = z.coerce.number().int().min(1).max(65_535);
/** A variable that counts as unset when empty or blank. */
export const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value ? value : undefined));

/**
 * Everything the project reads from the environment, validated once. Unset service addresses mean
 * "use the local stack that the project starts itself"; set ones point at an existing service. Temporal's
 * address, namespace and access come from its standard configuration (`temporal-env.ts`, beside this schema).
 */
const envSchema = z.object({
  MEL_CACHE_DIR: z.string().default(path.join(REPO_ROOT, '.cache')),
  MEL_STACK_DIR: z.string().default(path.join(REPO_ROOT, '.stack')),
  MEL_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Log lines: readable on a terminal and JSON when piped (auto), or always one of them. */
  MEL_LOG_FORMAT: z.enum(['auto', 'pretty', 'json']).default('auto'),

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
  /** What samples record as the engine that made them; default: the host and port of the engine URL. */
  MEL_ENGINE_NAME: optionalText,
  MEL_ENGINE_PORT: port.default(18_123),
  /** Base model the engine serves: a local directory for SkyRL, a model name for hosted Tinker. */
  MEL_BASE_MODEL: optionalText,
  /** Name of the variable that holds the engine's API key (the key itself is never logged or stored). */
  MEL_ENGINE_API_KEY_ENV: z.string().default('TINKER_API_KEY'),
  MEL_STACK_START_TIMEOUT_S: z.coerce.number().positive().default(180),
  /** How often `mel train` asks the run it follows for its step and stage. */
  MEL_PROGRESS_POLL_MS: z.coerce.number().int().positive().default(1_000),
});

export type Env = z.infer<typeof envSchema> & { temporal: TemporalSettings };

export class ConfigError extends Error {
  override name = NON_RETRYABLE.config;
}

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = envSchema.safeParse(source);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  let temporal: TemporalSettings | undefined;
  try {
    temporal = temporalSettings(source);
  } catch (error) {
    if (!(error instanceof TemporalSettingsError)) throw error;
    problems.push(...error.problems);
  }
  if (!parsed.success || temporal === undefined || problems.length > 0) {
    throw new ConfigError(`invalid environment:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
  }
  return { ...parsed.data, temporal };
}

/** Where each service is reached, whether the project started it or the user pointed at their own. */
export interface Endpoints {
  temporalAddress: string;
  temporalNamespace: string;
  /** TLS, API key, headers: unset for the local stack's Temporal. */
  temporalAccess?: TemporalAccess;
  temporalUiUrl?: string;
  mongoUri: string;
  mongoDb: string;
  engineUrl: string;
  /** MEL_ENGINE_NAME: the engine's name in sample records, when not its URL's host and port. */
  engineName?: string;
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
    temporalAddress: env.temporal.address ?? `${loopback}:${env.MEL_TEMPORAL_PORT}`,
    temporalNamespace: env.temporal.namespace,
    temporalAccess: env.temporal.access,
    temporalUiUrl: env.temporal.address ? undefined : `http://${loopback}:${env.MEL_TEMPORAL_UI_PORT}`,
    mongoUri: env.MONGODB_URI ?? `mongodb://${loopback}:${env.MEL_FERRETDB_PORT}/`,
    mongoDb: env.MEL_MONGODB_DB,
    engineUrl: env.MEL_ENGINE_URL ?? `http://${loopback}:${env.MEL_ENGINE_PORT}`,
    ...(env.MEL_ENGINE_NAME ? { engineName: env.MEL_ENGINE_NAME } : {}),
    baseModel: env.MEL_BASE_MODEL ?? WARM_MODEL_DIR,
    engineApiKeyEnv: env.MEL_ENGINE_API_KEY_ENV,
  };
}

/**
 * The engine a worker samples on, as sample records name it: its configured name, else its URL's host and port
 * (never the URL's credentials or path). Workers on the same engine share it; workers on different engines differ.
 */
export function engineIdOf(endpoints: Pick<Endpoints, 'engineUrl' | 'engineName'>): string {
  return endpoints.engineName ?? new URL(endpoints.engineUrl).host;
}
