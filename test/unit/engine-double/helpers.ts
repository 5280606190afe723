import type { Endpoints } from '../../../common/env.js';
import { createPolicyEngine } from '../../../engine/config.js';
import type { Datum } from '../../../engine/engine.js';
import type { TinkerClient } from '../../../engine/tinker.js';
import { startEngineDouble, type EngineDouble } from '../../../engine-double/server.js';
import type { EngineDoubleInput } from '../../../engine-double/options.js';
import { loadTokenizer } from '../../../mel/node.js';

/** The tiny model's tokenizer (same vocabulary and merges as .cache/models/tiny-qwen3), committed as a fixture. */
export const TOKENIZER_DIR = new URL('../../fixtures/mel/tiny-tokenizer/', import.meta.url).pathname;
export const tokenizer = loadTokenizer(TOKENIZER_DIR);
export const EOS = tokenizer.tokenId('<|im_end|>');
export const BASE_MODEL = '/models/tiny-qwen3-warm';

export async function startDouble(options: EngineDoubleInput = {}): Promise<EngineDouble> {
  return startEngineDouble({ tokenizerDir: TOKENIZER_DIR, baseModel: BASE_MODEL, seed: 1, ...options });
}

/** The project's real client, created the way the workers create it (engine/config.ts). */
export function clientFor(
  double: EngineDouble,
  tuning: Parameters<typeof createPolicyEngine>[2] = {},
  env: NodeJS.ProcessEnv = {},
): TinkerClient {
  const endpoints: Endpoints = {
    temporalAddress: 'unused',
    temporalNamespace: 'unused',
    mongoUri: 'unused',
    mongoDb: 'unused',
    engineUrl: double.url,
    baseModel: BASE_MODEL,
    engineApiKeyEnv: 'TINKER_API_KEY',
  };
  return createPolicyEngine(
    endpoints,
    { TINKER_API_KEY: 'tml-test', ...env },
    { retryBaseDelayMs: 5, ...tuning },
  );
}

export async function getJson<T>(double: EngineDouble, path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`${double.url}${path}`, init);
  return (await response.json()) as T;
}

/** A pre-shifted datum over prompt + completion, weight 1 on the completion's tokens. */
export function completionDatum(
  prompt: readonly number[],
  completion: readonly number[],
  extra: Partial<Datum['loss_fn_inputs']> = {},
): Datum {
  const full = [...prompt, ...completion];
  return {
    model_input: { chunks: [{ type: 'encoded_text', tokens: full.slice(0, -1) }] },
    loss_fn_inputs: {
      target_tokens: { data: full.slice(1), dtype: 'int64' },
      weights: { data: full.slice(1).map((_, i) => (i >= prompt.length - 1 ? 1 : 0)), dtype: 'float32' },
      ...extra,
    },
  };
}
