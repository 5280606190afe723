/**
 * The warm-started tiny model is part of the local stack: built once through the engine itself (SFT on the
 * synthetic curriculum, training/warm-start.ts), merged into a model folder, and cached with a stamp of the code
 * it was built from. The engine then serves it as its base model.
 */
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { REPO_ROOT, resolveEndpoints, tinyModelDir, warmModelDir, type Env } from '../common/env.js';
import type { Logger } from '../common/logger.js';
import { createPolicyEngine } from '../engine/config.js';
import { IM_END } from '../mel/index.js';
import { loadTokenizer } from '../mel/node.js';
import { ensureWarmModel } from '../training/export.js';
import { cached, cachePaths, hashFiles } from './install.js';

/** Everything the warm model is a function of; a change to any of them rebuilds it. */
export const WARM_MODEL_INPUTS = [
  'mel/curriculum.ts',
  'mel/prompts.ts',
  'mel/builtin-dataset.ts',
  'mel/chat.ts',
  'training/warm-start.ts',
  'training/sft-data.ts',
  'training/evaluation.ts',
  'training/export.ts',
  'engine/python/make_tiny_model.py',
  'engine/python/merge_lora.py',
].map((file) => path.join(REPO_ROOT, file));

/** The project builds the warm model only when it runs the engine itself and no other model was chosen. */
export function needsWarmModel(env: Env): boolean {
  return !env.MEL_ENGINE_URL && !env.MEL_BASE_MODEL;
}

/**
 * Builds the warm model unless cached. `withRawEngine` runs its callback while the engine serves the raw tiny
 * model at the configured engine URL.
 */
export async function ensureWarmBaseModel(
  env: Env,
  log: Logger,
  withRawEngine: (work: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const outDir = warmModelDir(env);
  const key = await hashFiles(WARM_MODEL_INPUTS);
  await cached(env, 'warm-model', key, path.join(outDir, 'model.safetensors'), log, async () => {
    log.info(
      'warm-starting the tiny model through the engine (SFT on the synthetic curriculum); about 10 minutes, once',
    );
    await rm(outDir, { recursive: true, force: true });
    await withRawEngine(async () => {
      const rawModel = tinyModelDir(env);
      const tokenizer = loadTokenizer(rawModel);
      const warm = await ensureWarmModel({
        engine: createPolicyEngine({ ...resolveEndpoints(env), baseModel: rawModel }),
        deps: { baseModel: rawModel, tokenizer, eosTokenId: tokenizer.tokenId(IM_END), log },
        baseModelDir: rawModel,
        checkpointsBase: path.join(env.MEL_STACK_DIR, 'engine', 'checkpoints'),
        python: cachePaths(env).venvPython,
        outDir,
      });
      log.info(
        { final: warm.report.final, steps: warm.report.steps, seconds: warm.report.wallTimeS },
        'warm model ready',
      );
    });
  });
}
