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
import { WARM_START_ROUNDS, type WarmStartRound } from '../training/warm-start.js';
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

/** Where each warm-start round writes its model: the last round's is the warm model itself. */
export function roundModelDir(env: Env, round: WarmStartRound): string {
  return round === WARM_START_ROUNDS.at(-1) ? warmModelDir(env) : `${warmModelDir(env)}-${round.name}`;
}

/**
 * Builds the warm model unless cached: each round of WARM_START_ROUNDS trains a LoRA on the model the round
 * before it produced (the raw tiny model first) and merges it. `withEngineServing` runs its callback while the
 * engine at the configured URL serves the given model folder.
 */
export async function ensureWarmBaseModel(
  env: Env,
  log: Logger,
  withEngineServing: (modelDir: string, work: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const key = await hashFiles(WARM_MODEL_INPUTS);
  await cached(env, 'warm-model', key, path.join(warmModelDir(env), 'model.safetensors'), log, async () => {
    log.info(
      { rounds: WARM_START_ROUNDS.map((round) => round.name) },
      'warm-starting the tiny model through the engine (SFT on the synthetic curriculum); about 25 minutes, once',
    );
    const outDirs = WARM_START_ROUNDS.map((round) => roundModelDir(env, round));
    await Promise.all(outDirs.map((dir) => rm(dir, { recursive: true, force: true })));
    let baseModel = tinyModelDir(env);
    for (const [i, round] of WARM_START_ROUNDS.entries()) {
      const outDir = outDirs[i] as string;
      await withEngineServing(baseModel, () => warmStartRound(env, log, round, baseModel, outDir));
      baseModel = outDir;
    }
  });
}

async function warmStartRound(
  env: Env,
  log: Logger,
  round: WarmStartRound,
  baseModel: string,
  outDir: string,
): Promise<void> {
  const tokenizer = loadTokenizer(baseModel);
  const warm = await ensureWarmModel({
    engine: createPolicyEngine({ ...resolveEndpoints(env), baseModel }),
    deps: { baseModel, tokenizer, eosTokenId: tokenizer.tokenId(IM_END), log },
    baseModelDir: baseModel,
    checkpointsBase: path.join(env.MEL_STACK_DIR, 'engine', 'checkpoints'),
    python: cachePaths(env).venvPython,
    outDir,
    options: round.options,
  });
  log.info(
    { round: round.name, final: warm.report.final, steps: warm.report.steps, seconds: warm.report.wallTimeS },
    'warm-start round done',
  );
}
