/**
 * Turns a warm-started LoRA on the engine into a standalone model folder (LoRA merged into the base with peft,
 * engine/python/merge_lora.py) that the engine can serve as its base model, and caches it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '../common/env.js';
import type { SamplingEngine, TrainingEngine } from '../engine/engine.js';
import { warmStart, type WarmStartDeps, type WarmStartOptions, type WarmStartResult } from './warm-start.js';

export const WARM_START_REPORT = 'warm-start-report.json';
const PYTHON_DIR = path.join(REPO_ROOT, 'engine', 'python');

/** Where SkyRL writes a sampler checkpoint: <checkpoints_base>/<model_id>/sampler_weights/<name>.tar.gz. */
export function samplerArchivePath(checkpointsBase: string, modelId: string, checkpointName: string): string {
  return path.join(checkpointsBase, modelId, 'sampler_weights', `${checkpointName}.tar.gz`);
}

/** Runs one of engine/python's scripts; resolves with its stdout. */
export function runPythonScript(
  python: string,
  script: string,
  args: string[],
  stdin?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [path.join(PYTHON_DIR, script), ...args], {
      env: {
        ...process.env,
        HF_HUB_OFFLINE: '1',
        TRANSFORMERS_OFFLINE: '1',
        TOKENIZERS_PARALLELISM: 'false',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`${script} exited with ${code}: ${stderr.slice(-2000)}`)),
    );
    child.stdin.end(stdin ?? '');
  });
}

export async function mergeLora(args: {
  python: string;
  baseModelDir: string;
  archive: string;
  outDir: string;
}) {
  await runPythonScript(args.python, 'merge_lora.py', [
    '--base-model',
    args.baseModelDir,
    '--adapter',
    args.archive,
    '--out',
    args.outDir,
  ]);
}

/** Target logprobs of each sequence under a local model folder (transformers, CPU). */
export async function scoreWithTransformers(
  python: string,
  modelDir: string,
  sequences: readonly (readonly number[])[],
): Promise<number[][]> {
  const stdout = await runPythonScript(python, 'score_tokens.py', [modelDir], JSON.stringify({ sequences }));
  return (JSON.parse(stdout) as { logprobs: number[][] }).logprobs;
}

export interface WarmStartReport extends Omit<WarmStartResult, 'modelId' | 'samplerPath'> {
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
    await mergeLora({ python: args.python, baseModelDir: args.baseModelDir, archive, outDir: staging });
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
