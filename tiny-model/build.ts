/**
 * Builds the warm model: each round of WARM_START_ROUNDS trains a fresh LoRA on the model the round before it
 * produced (the raw tiny model first) and merges it into a model folder of its own.
 */
import path from 'node:path';
import type { Logger } from '../common/logger.js';
import type { SamplingEngine, TrainingEngine } from '../engine/engine.js';
import { IM_END } from '../mel/chat.js';
import { loadTokenizer } from '../mel/node.js';
import { ensureWarmModel, type WarmStartReport } from './export.js';
import { WARM_START_ROUNDS, type WarmStartRound } from './warm-start.js';

export interface ServedEngine {
  engine: TrainingEngine & SamplingEngine;
  /** The engine's --checkpoints-base, where its sampler archives land. */
  checkpointsBase: string;
}

/** Runs `work` while an engine serves the model folder `modelDir` as its base model. */
export type ServeModel = (modelDir: string, work: (served: ServedEngine) => Promise<void>) => Promise<void>;

export interface BuildArgs {
  /** The raw tiny model (make_tiny_model.py's folder). */
  rawModelDir: string;
  /** Each round writes `<outDir>/<round name>`; the last one is the warm model. */
  outDir: string;
  /** The engine venv's python (checkpoints/merge.ts). */
  python: string;
  log: Logger;
  serve: ServeModel;
}

export function roundDir(outDir: string, round: WarmStartRound): string {
  return path.join(outDir, round.name);
}

/** Runs every round; resolves with the last round's report (the earlier ones are in its `basedOn`). */
export async function buildWarmModel(args: BuildArgs): Promise<WarmStartReport> {
  let baseModel = args.rawModelDir;
  let report: WarmStartReport | undefined;
  for (const round of WARM_START_ROUNDS) {
    const outDir = roundDir(args.outDir, round);
    const base = baseModel;
    await args.serve(base, async (served) => {
      report = await buildRound(args, served, round, base, outDir);
    });
    baseModel = outDir;
  }
  if (!report) throw new Error('the warm start has no rounds');
  return report;
}

async function buildRound(
  args: BuildArgs,
  served: ServedEngine,
  round: WarmStartRound,
  baseModel: string,
  outDir: string,
): Promise<WarmStartReport> {
  const tokenizer = loadTokenizer(baseModel);
  const { report } = await ensureWarmModel({
    engine: served.engine,
    deps: { baseModel, tokenizer, eosTokenId: tokenizer.tokenId(IM_END), log: args.log },
    baseModelDir: baseModel,
    checkpointsBase: served.checkpointsBase,
    python: args.python,
    outDir,
    options: round.options,
  });
  args.log.info(
    { round: round.name, final: report.final, steps: report.steps, seconds: report.wallTimeS },
    'warm-start round done',
  );
  return report;
}
