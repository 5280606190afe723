/**
 * Turns a warm-started LoRA on the engine into a standalone model folder (LoRA merged into the base with peft,
 * checkpoints/merge.ts) that the engine can serve as its base model.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SamplingEngine, TrainingEngine } from '../engine/engine.js';
import { mergeLora } from '../checkpoints/merge.js';
import {
  warmStart,
  type StepLosses,
  type WarmStartDeps,
  type WarmStartOptions,
  type WarmStartResult,
} from './warm-start.js';

export const WARM_START_REPORT = 'warm-start-report.json';

/** Where SkyRL writes a sampler checkpoint: <checkpoints_base>/<model_id>/sampler_weights/<name>.tar.gz. */
export function samplerArchivePath(checkpointsBase: string, modelId: string, checkpointName: string): string {
  return path.join(checkpointsBase, modelId, 'sampler_weights', `${checkpointName}.tar.gz`);
}

export interface WarmStartReport extends Omit<WarmStartResult, 'modelId' | 'samplerPath' | 'trace'> {
  /** Every step's losses; absent from reports written before they were recorded. */
  trace?: StepLosses[];
  baseModel: string;
  createdAt: string;
  /** Estimated mixed groups of size groupSize among all problems, from the final evaluation. */
  estimatedMixedGroups: number;
  source: { modelId: string; samplerPath: string };
  /** The report of the warm start that made the base model, when the base model was itself warm-started. */
  basedOn?: WarmStartReport;
}

export function warmStartReport(
  result: WarmStartResult,
  baseModel: string,
  basedOn?: WarmStartReport,
): WarmStartReport {
  const { modelId, samplerPath, ...rest } = result;
  return {
    ...rest,
    baseModel,
    createdAt: new Date().toISOString(),
    estimatedMixedGroups: Math.round(result.final.mixedGroupFraction * result.options.problemCount),
    source: { modelId, samplerPath },
    ...(basedOn ? { basedOn } : {}),
  };
}

export interface EnsureWarmModelArgs {
  engine: TrainingEngine & SamplingEngine;
  deps: Omit<WarmStartDeps, 'engine'>;
  /** The base model's local folder (the engine serves it as `deps.baseModel`). */
  baseModelDir: string;
  /** The engine's --checkpoints-base, where sampler archives land. */
  checkpointsBase: string;
  python: string;
  outDir: string;
  options?: Partial<WarmStartOptions>;
}

export interface WarmModel {
  modelDir: string;
  report: WarmStartReport;
  cached: boolean;
}

export async function readWarmModel(outDir: string): Promise<WarmModel | null> {
  const reportPath = path.join(outDir, WARM_START_REPORT);
  if (!existsSync(reportPath) || !existsSync(path.join(outDir, 'model.safetensors'))) return null;
  const report = JSON.parse(await readFile(reportPath, 'utf8')) as WarmStartReport;
  return { modelDir: outDir, report, cached: true };
}

/**
 * Returns the cached warm model in `outDir`, or builds it: warm start on the engine, merge the LoRA into the base,
 * write the folder and its report (atomically: a half-written folder is never taken for a cached one).
 */
export async function ensureWarmModel(args: EnsureWarmModelArgs): Promise<WarmModel> {
  const cachedModel = await readWarmModel(args.outDir);
  if (cachedModel) return cachedModel;
  const { log } = args.deps;
  const result = await warmStart({ ...args.deps, engine: args.engine }, args.options);
  try {
    const staging = `${args.outDir}.partial`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(path.dirname(args.outDir), { recursive: true });
    const archive = samplerArchivePath(args.checkpointsBase, result.modelId, result.checkpointName);
    await mergeLora({
      python: args.python,
      baseModelDir: args.baseModelDir,
      adapter: archive,
      outDir: staging,
    });
    const basedOn = (await readWarmModel(args.baseModelDir))?.report;
    const report = warmStartReport(result, args.deps.baseModel, basedOn);
    await writeFile(path.join(staging, WARM_START_REPORT), `${JSON.stringify(report, null, 2)}\n`);
    await rm(args.outDir, { recursive: true, force: true });
    await rename(staging, args.outDir);
    log.info(
      { modelDir: args.outDir, final: report.final, wallTimeS: report.wallTimeS },
      'warm model written',
    );
    return { modelDir: args.outDir, report, cached: false };
  } finally {
    await args.engine.unloadModel(result.modelId);
  }
}
