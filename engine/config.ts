import { z } from 'zod';
import { ConfigError, type Endpoints } from '../common/env.js';
import { createLogger } from '../common/logger.js';
import { LOSS_REDUCTIONS, type LossReduction } from '../mel/objective.js';
import type { ReflectionEngine } from './engine.js';
import { OpenAICompatibleClient } from './openai-compatible.js';
import { TinkerClient, type TinkerClientOptions } from './tinker.js';

// Which engines a run uses. The policy always runs on a Tinker API (hosted Tinker or SkyRL: it must train);
// the meta-experience (summarize) is written by the policy itself, as in the paper, or by any OpenAI-compatible
// server; contrast is CPU code and replays (validate) always run on the policy. API keys are read from the variables named here, never stored or logged.

const ReflectionEnvSchema = z.object({
  MEL_REFLECTION_ENGINE: z.enum(['policy', 'openai-compatible']).default('policy'),
  /** Base URL with its version prefix, e.g. http://127.0.0.1:8000/v1. */
  MEL_REFLECTION_URL: z.string().trim().optional(),
  MEL_REFLECTION_MODEL: z.string().trim().optional(),
  MEL_REFLECTION_API_KEY_ENV: z.string().default('OPENAI_API_KEY'),
  MEL_REFLECTION_TIMEOUT_S: z.coerce.number().positive().default(300),
});

export interface ExternalReflectorConfig {
  kind: 'openai-compatible';
  baseUrl: string;
  model: string;
  apiKeyEnv: string;
  timeoutMs: number;
}

export type ReflectionEngineConfig = { kind: 'policy' } | ExternalReflectorConfig;

export function reflectionEngineConfig(source: NodeJS.ProcessEnv = process.env): ReflectionEngineConfig {
  const parsed = ReflectionEnvSchema.safeParse(source);
  if (!parsed.success) throw new ConfigError(`invalid reflection engine settings: ${parsed.error.message}`);
  const env = parsed.data;
  if (env.MEL_REFLECTION_ENGINE === 'policy') return { kind: 'policy' };
  if (!env.MEL_REFLECTION_URL || !env.MEL_REFLECTION_MODEL) {
    throw new ConfigError(
      'MEL_REFLECTION_ENGINE=openai-compatible needs MEL_REFLECTION_URL and MEL_REFLECTION_MODEL',
    );
  }
  return {
    kind: 'openai-compatible',
    baseUrl: env.MEL_REFLECTION_URL,
    model: env.MEL_REFLECTION_MODEL,
    apiKeyEnv: env.MEL_REFLECTION_API_KEY_ENV,
    timeoutMs: env.MEL_REFLECTION_TIMEOUT_S * 1000,
  };
}

/**
 * Why an API key would travel in clear text: it is sent over plain HTTP to a host that is not this machine. A key
 * sent to a loopback engine (the local stack) never leaves the machine.
 */
export function keyInClearWarning(url: string, apiKey: string | undefined): string | undefined {
  if (!apiKey) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:') return undefined;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1' || host.startsWith('127.')) return undefined;
  return `an API key is sent over plain HTTP to ${parsed.host}: anyone on the network can read it; use https://`;
}

const warnedUrls = new Set<string>();

function warnIfKeyInClear(url: string, apiKey: string | undefined): void {
  const warning = keyInClearWarning(url, apiKey);
  if (!warning || warnedUrls.has(url)) return;
  warnedUrls.add(url);
  createLogger('engine').warn(warning);
}

const PolicyEngineEnvSchema = z.object({
  /** SkyRL reduces per datum (the local stack's engine); hosted Tinker sums (docs/mel.md). */
  MEL_ENGINE_LOSS_REDUCTION: z.enum(LOSS_REDUCTIONS).default('skyrl'),
});

/** How the policy engine reduces a step's loss: MEL_ENGINE_LOSS_REDUCTION. */
export function engineLossReduction(source: NodeJS.ProcessEnv = process.env): LossReduction {
  const parsed = PolicyEngineEnvSchema.safeParse(source);
  if (!parsed.success) throw new ConfigError(`invalid policy engine settings: ${parsed.error.message}`);
  return parsed.data.MEL_ENGINE_LOSS_REDUCTION;
}

export function createPolicyEngine(
  endpoints: Endpoints,
  source: NodeJS.ProcessEnv = process.env,
  tuning: Omit<TinkerClientOptions, 'baseUrl' | 'baseModel' | 'apiKey' | 'lossReduction'> = {},
): TinkerClient {
  const apiKey = source[endpoints.engineApiKeyEnv];
  warnIfKeyInClear(endpoints.engineUrl, apiKey);
  return new TinkerClient({
    ...tuning,
    lossReduction: engineLossReduction(source),
    baseUrl: endpoints.engineUrl,
    baseModel: endpoints.baseModel,
    apiKey,
  });
}

/** The external reflector; with MEL_REFLECTION_ENGINE=policy there is none (activities sample the policy). */
export function createReflectionEngine(
  config: ExternalReflectorConfig,
  source: NodeJS.ProcessEnv = process.env,
): ReflectionEngine {
  const apiKey = source[config.apiKeyEnv];
  warnIfKeyInClear(config.baseUrl, apiKey);
  return new OpenAICompatibleClient({
    baseUrl: config.baseUrl,
    model: config.model,
    apiKey,
    timeoutMs: config.timeoutMs,
  });
}
