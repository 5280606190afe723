/** `mel export`: a run's policy as a LoRA adapter and a merged Hugging Face model folder (checkpoints/export.ts). */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadEnv } from '../common/env.js';
import { exportCheckpoint, type ExportManifest } from '../checkpoints/export.js';
import { createPolicyEngine } from '../engine/config.js';
import { cachePaths } from '../stack/install.js';
import { melCollections } from '../store/collections.js';
import { ids, type RunDoc } from '../store/documents.js';
import { latestPolicy, policyAfterStep, type RecordedPolicy } from '../store/queries.js';
import {
  CliError,
  emit,
  parseStepOption,
  withContext,
  type CliContext,
  type OutputOptions,
} from './context.js';
import { fields } from './format.js';

interface ExportOptions extends OutputOptions {
  step?: number;
  out: string;
  baseModel?: string;
  adapterOnly?: boolean;
}

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description(
      "write a run's policy as its LoRA adapter (PEFT) and a merged Hugging Face model folder, with a manifest " +
        '(export.json) of where it came from',
    )
    .argument('<run>', 'run id')
    .option('--step <n>', 'the policy after this step (default: the newest)', parseStepOption)
    .requiredOption('--out <dir>', 'a new (or empty) folder to write')
    .option(
      '--base-model <dir>',
      "a folder of the base model's weights to merge into (default: the run's base model, when it is a folder)",
    )
    .option('--adapter-only', 'write the adapter without merging (no base weights or torch needed)')
    .option('--json', 'print the manifest as JSON')
    .action(withContext(exportPolicy));
}

async function exportPolicy(context: CliContext, runId: string, options: ExportOptions): Promise<void> {
  const run = await context.run(runId);
  const target = await recordedPolicy(context, run, options.step);
  const merge = options.adapterOnly ? undefined : mergeSettings(run, options);
  const engine = createPolicyEngine(context.endpoints);
  const outDir = path.resolve(options.out);
  const say = (line: string) => {
    if (!options.json) process.stdout.write(`${line}\n`);
  };
  const manifest = await exportCheckpoint({
    engine,
    runId: run._id,
    step: target.step,
    policy: target.policy,
    baseModel: run.baseModel,
    outDir,
    ...(merge ? { merge } : {}),
    onStage: (stage) =>
      say(
        {
          download: `downloading ${target.policy.samplerPath} from ${context.endpoints.engineUrl}…`,
          unpack: 'unpacking the adapter…',
          merge: `merging it into ${merge?.baseModelDir}…`,
        }[stage],
      ),
  }).catch((error: unknown) => {
    throw new CliError(`export of ${describe(target)} failed: ${(error as Error).message}`);
  });
  emit(options, manifest, (value) => renderManifest(value, outDir));
}

async function recordedPolicy(
  context: CliContext,
  run: RunDoc,
  step: number | undefined,
): Promise<RecordedPolicy> {
  const db = await context.db();
  if (step === undefined) {
    const latest = await latestPolicy(db, run);
    if (!latest) throw new CliError(`run ${run._id} has no policy yet: it has not started`);
    return latest;
  }
  const policy = await policyAfterStep(db, run, step);
  if (!policy)
    throw new CliError(`step ${step} of run ${run._id} has not finished: no policy after it is saved`);
  const pruned = (await melCollections(db).steps.findOne({ _id: ids.step(run._id, step) }))
    ?.checkpointsPruned;
  if (pruned) {
    throw new CliError(
      `the policy after step ${step} of run ${run._id} was deleted from the engine after step ${pruned.afterStep} ` +
        `(checkpoints.keepLast: ${pruned.keepLast})`,
    );
  }
  return { runId: run._id, step, policy };
}

/** Where the base weights are, and the Python (torch, peft) that merges: refused early with what to do instead. */
function mergeSettings(run: RunDoc, options: ExportOptions): { python: string; baseModelDir: string } {
  const baseModelDir = path.resolve(options.baseModel ?? run.baseModel);
  if (!existsSync(baseModelDir) || !statSync(baseModelDir).isDirectory()) {
    throw new CliError(
      options.baseModel
        ? `--base-model ${options.baseModel} is not a folder`
        : `the run's base model ${run.baseModel} is not a local folder: give --base-model <folder with its ` +
            'weights>, or --adapter-only',
    );
  }
  const python = cachePaths(loadEnv()).venvPython;
  if (!existsSync(python)) {
    throw new CliError(
      `merging needs torch and peft from the engine's venv (${python}), which is not installed: ` +
        'run `npm run stack -- install`, or export with --adapter-only',
    );
  }
  return { python, baseModelDir };
}

function describe({ runId, step }: RecordedPolicy): string {
  return step === null
    ? `the initial policy of run ${runId}`
    : `the policy of run ${runId} after step ${step}`;
}

export function renderManifest(manifest: ExportManifest, outDir: string): string {
  const from = manifest.step === null ? 'initial policy' : `after step ${manifest.step}`;
  return fields([
    ['exported', `${manifest.runId}, ${from} (${manifest.updates} optimizer updates)`],
    ['adapter', path.join(outDir, manifest.adapterDir)],
    ['merged', manifest.mergedDir ? path.join(outDir, manifest.mergedDir) : 'not written (--adapter-only)'],
    ['sampler', manifest.samplerPath],
    ['archive', `${manifest.archive.bytes} bytes, sha256 ${manifest.archive.sha256}`],
  ]);
}
