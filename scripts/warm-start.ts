/**
 * `npx tsx scripts/warm-start.ts [--round solve|reflect] [--force] [--out DIR] [--checkpoints-base DIR]
 *   [--max-steps N] [--problems N]`
 * Runs one warm-start round (training/warm-start.ts WARM_START_ROUNDS; the stack runs them all) on the running
 * stack's engine: SFT of a LoRA on the synthetic curriculum, merged into the model the engine serves, written to
 * --out (default <MEL_CACHE_DIR>/models/tiny-qwen3-warm) with warm-start-report.json.
 * A cached folder is reused unless --force. MEL_ENGINE_URL / MEL_BASE_MODEL point it at another engine and model.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadEnv, resolveEndpoints, tinyModelDir, warmModelDir } from '../common/env.js';
import { createLogger } from '../common/logger.js';
import { TinkerClient } from '../engine/tinker.js';
import { IM_END } from '../mel/index.js';
import { loadTokenizer } from '../mel/node.js';
import { cachePaths } from '../stack/install.js';
import { stateDir } from '../stack/services.js';
import { ensureWarmModel } from '../training/export.js';
import { WARM_START_ROUNDS, type WarmStartOptions } from '../training/warm-start.js';

const log = createLogger('warm-start');

function cliOptions() {
  const { values } = parseArgs({
    options: {
      round: { type: 'string', default: 'solve' },
      force: { type: 'boolean', default: false },
      out: { type: 'string' },
      'checkpoints-base': { type: 'string' },
      'max-steps': { type: 'string' },
      problems: { type: 'string' },
    },
  });
  const round = WARM_START_ROUNDS.find((r) => r.name === values.round);
  if (!round) throw new Error(`--round must be one of ${WARM_START_ROUNDS.map((r) => r.name).join(', ')}`);
  const overrides: Partial<WarmStartOptions> = { ...round.options };
  if (values['max-steps']) overrides.maxSteps = Number(values['max-steps']);
  if (values.problems) overrides.problemCount = Number(values.problems);
  return { ...values, overrides };
}

async function main(): Promise<void> {
  const cli = cliOptions();
  const env = loadEnv();
  // The engine must serve the model being warm-started (by default the raw tiny model, not the warm one).
  const endpoints = { ...resolveEndpoints(env), baseModel: env.MEL_BASE_MODEL ?? tinyModelDir(env) };
  const outDir = cli.out ?? warmModelDir(env);
  if (cli.force) await rm(outDir, { recursive: true, force: true });
  const tokenizer = loadTokenizer(endpoints.baseModel);
  const warm = await ensureWarmModel({
    engine: new TinkerClient({ baseUrl: endpoints.engineUrl, baseModel: endpoints.baseModel }),
    deps: { baseModel: endpoints.baseModel, tokenizer, eosTokenId: tokenizer.tokenId(IM_END), log },
    baseModelDir: endpoints.baseModel,
    checkpointsBase: cli['checkpoints-base'] ?? path.join(stateDir(env, 'engine'), 'checkpoints'),
    python: cachePaths(env).venvPython,
    outDir,
    options: cli.overrides,
  });
  const { report } = warm;
  console.log(
    `${warm.cached ? 'cached' : 'built'} ${warm.modelDir}: ${report.steps} steps in ${report.wallTimeS} s, ` +
      `pass rate ${report.final.passRate}, parse rate ${report.final.parseRate}, ` +
      `~${report.estimatedMixedGroups}/${report.options.problemCount} mixed groups of ${report.options.groupSize}` +
      `${report.targetsMet ? '' : ' (TARGETS NOT MET)'}`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
