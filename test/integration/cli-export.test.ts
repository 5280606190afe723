/**
 * `mel export` on the stack's SkyRL engine: a policy comes out as the engine's LoRA adapter and as a merged model
 * folder that scores tokens as the engine's policy does.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportCheckpoint, MANIFEST_FILE, type ExportManifest } from '../../checkpoints/export.js';
import { loadEnv } from '../../common/env.js';
import { createPolicyEngine } from '../../engine/config.js';
import { scoreWithTransformers } from '../../engine/python.js';
import { generateBuiltinDataset, IM_END, type Datum } from '../../mel/index.js';
import { loadTokenizer } from '../../mel/node.js';
import { cachePaths } from '../../stack/install.js';
import { stateDir } from '../../stack/services.js';
import { parseSamplerPath } from '../../engine/checkpoint-archive.js';
import { samplerArchivePath } from '../../tiny-model/export.js';
import { buildCurriculum } from '../../tiny-model/curriculum.js';
import { sftDatum, tokenizeExample } from '../../tiny-model/sft-data.js';
import { mel, melJson } from './cli-support.js';
import { shortRunConfig, trainAndCheck } from './mel-support.js';
import { endpoints, uniqueId, useClientAndWorkers } from './support.js';

const env = loadEnv();
const python = cachePaths(env).venvPython;
const baseModelDir = endpoints.baseModel;
const scratch: string[] = [];
afterAll(() => Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true }))));

async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mel-export-'));
  scratch.push(dir);
  return dir;
}

function probeData(): Datum[] {
  const tokenizer = loadTokenizer(baseModelDir);
  const eos = tokenizer.tokenId(IM_END);
  const problems = generateBuiltinDataset({ seed: 0, count: 2 });
  return buildCurriculum(problems, 0).rollouts.map((example) =>
    sftDatum(tokenizeExample(example, tokenizer, eos)),
  );
}

/** The full token sequence of a datum: its model input plus the last target. */
function sequenceOf(datum: Datum): number[] {
  return [
    ...(datum.model_input.chunks[0]?.tokens ?? []),
    ...datum.loss_fn_inputs.target_tokens.data.slice(-1),
  ];
}

function maxDifference(a: number[][], b: number[][]): number {
  const diffs = a.flatMap((row, i) => row.map((value, t) => Math.abs(value - (b[i]?.[t] ?? Infinity))));
  return Math.max(...diffs);
}

// Needs the stack's own engine (its venv merges, and its base model is a local folder).
describe.skipIf(Boolean(env.MEL_ENGINE_URL))('mel export', () => {
  const stack = useClientAndWorkers();

  it('writes the adapter of a trained policy and a merged model that scores as the engine does', async () => {
    const engine = createPolicyEngine(endpoints);
    const modelId = await engine.createTrainingModel({ baseModel: baseModelDir, rank: 8, seed: 3 });
    try {
      // One large step on fixed data: the policy surely differs from the base model.
      const data = probeData();
      await engine.forwardBackward({ modelId, seqId: 1, data, loss: { fn: 'cross_entropy' } });
      await engine.optimStep({ modelId, seqId: 2, adam: { learningRate: 1e-2 } });
      const samplerPath = await engine.saveWeightsForSampler({ modelId, seqId: 3, name: uniqueId('export') });
      const outDir = path.join(await scratchDir(), 'out');
      const stages: string[] = [];
      const manifest = await exportCheckpoint({
        engine,
        runId: 'direct',
        step: 0,
        policy: { samplerPath, statePath: 'tinker://none/weights/none', modelId, updates: 1, rank: 8 },
        baseModel: baseModelDir,
        outDir,
        merge: { python, baseModelDir },
        onStage: (stage) => stages.push(stage),
      });
      expect(stages).toEqual(['download', 'unpack', 'merge']);
      expect(manifest.archive.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect((await readdir(path.join(outDir, 'adapter'))).sort()).toEqual(
        expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors']),
      );
      expect(existsSync(`${outDir}.partial`)).toBe(false);

      const sequences = data.map(sequenceOf);
      const engineLogprobs = (await engine.forward({ modelId, data })).perDatum.map((d) => d.logprobs);
      const merged = await scoreWithTransformers(python, path.join(outDir, 'merged'), sequences);
      const base = await scoreWithTransformers(python, baseModelDir, sequences);
      expect(maxDifference(engineLogprobs, merged)).toBeLessThan(1e-3);
      expect(maxDifference(engineLogprobs, base)).toBeGreaterThan(1e-2);
    } finally {
      await engine.unloadModel(modelId);
    }
  });

  it("exports a run's step from the command line, and refuses what it cannot do", async () => {
    const config = shortRunConfig({ steps: 1, batchSize: 2 });
    const { stepDocs } = await trainAndCheck(stack, config);
    const policy = stepDocs[0]!.update!.policyAfter;
    const dir = await scratchDir();

    const manifest = await melJson<ExportManifest>([
      'export',
      config.runId,
      '--step',
      '0',
      '--out',
      path.join(dir, 'step0'),
    ]);
    expect(manifest).toMatchObject({
      runId: config.runId,
      step: 0,
      samplerPath: policy.samplerPath,
      statePath: policy.statePath,
      updates: 1,
      adapterDir: 'adapter',
      mergedDir: 'merged',
    });
    const written = JSON.parse(
      await readFile(path.join(dir, 'step0', MANIFEST_FILE), 'utf8'),
    ) as ExportManifest;
    expect(written).toEqual(manifest);
    for (const file of ['config.json', 'model.safetensors']) {
      expect(existsSync(path.join(dir, 'step0', 'merged', file))).toBe(true);
    }

    // Exactly the archive the engine wrote for the step's policy (the merge itself is checked above).
    const { modelId, name } = parseSamplerPath(policy.samplerPath);
    const engineArchive = samplerArchivePath(
      path.join(stateDir(env, 'engine'), 'checkpoints'),
      modelId,
      name,
    );
    const digest = createHash('sha256')
      .update(await readFile(engineArchive))
      .digest('hex');
    expect(manifest.archive.sha256).toBe(digest);

    // Without --step: the newest policy; --adapter-only writes no merged model.
    const adapterOnly = await melJson<ExportManifest>([
      'export',
      config.runId,
      '--adapter-only',
      '--out',
      path.join(dir, 'latest'),
    ]);
    expect(adapterOnly.step).toBe(0);
    expect(adapterOnly.mergedDir).toBeUndefined();
    expect(existsSync(path.join(dir, 'latest', 'merged'))).toBe(false);

    const aFile = path.join(dir, 'a-file');
    await writeFile(aFile, '');
    const refusals = await Promise.all([
      mel(['export', config.runId, '--step', '3', '--out', path.join(dir, 'x')]),
      mel(['export', 'no-such-run', '--out', path.join(dir, 'y')]),
      mel(['export', config.runId, '--out', path.join(dir, 'step0')]),
      mel(['export', config.runId, '--base-model', aFile, '--out', path.join(dir, 'z')]),
    ]);
    expect(refusals.map((r) => r.code)).toEqual([1, 1, 1, 1]);
    expect(refusals[0]!.stderr).toMatch(/step 3 of run .* has not finished/);
    expect(refusals[1]!.stderr).toMatch(/no run named no-such-run/);
    expect(refusals[2]!.stderr).toMatch(/is not empty/);
    expect(refusals[3]!.stderr).toMatch(/--base-model .* is not a folder/);
  });
});
