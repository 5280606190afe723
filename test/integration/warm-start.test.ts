import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../common/env.js';
import { createLogger } from '../../common/logger.js';
import { TinkerClient } from '../../engine/tinker.js';
import { buildCurriculum } from '../../mel/curriculum.js';
import { IM_END, generateBuiltinDataset } from '../../mel/index.js';
import { loadTokenizer } from '../../mel/node.js';
import { cachePaths } from '../../stack/install.js';
import { stateDir } from '../../stack/services.js';
import {
  WARM_START_REPORT,
  mergeLora,
  readWarmModel,
  samplerArchivePath,
  scoreWithTransformers,
  warmStartReport,
} from '../../training/export.js';
import { meanNll, sftDatum, tokenizeExample } from '../../training/sft-data.js';
import { warmStart, type WarmStartOptions } from '../../training/warm-start.js';
import { endpoints } from './support.js';

// A SHORT warm start on the real engine: checks the mechanics (NLL falls, the LoRA exports and merges into a
// model folder that reproduces the engine's logprobs), not that the targets are reached.

const env = loadEnv();
const engine = new TinkerClient({ baseUrl: endpoints.engineUrl, baseModel: endpoints.baseModel });
const tokenizer = loadTokenizer(endpoints.baseModel);
const eosTokenId = tokenizer.tokenId(IM_END);
const deps = {
  engine,
  baseModel: endpoints.baseModel,
  tokenizer,
  eosTokenId,
  log: createLogger('warm-start-test'),
};

// Problems of another seed than the served model was warm-started on (the stack serves the warm model), so that
// there is something left to learn.
const SEED = 99;

const SHORT: Partial<WarmStartOptions> = {
  seed: SEED,
  problemCount: 24,
  maxSteps: 12,
  reflectionEvery: 12,
  compactReflectionEvery: 4,
  evalEvery: 12,
  evalProblems: 4,
  evalReflections: 1,
  reflectionSamples: 1,
  reflectionMaxTokens: 8,
};

const problems = generateBuiltinDataset({ seed: SEED, count: 24 });
const probe = buildCurriculum(problems.slice(0, 8), SEED).rollouts.map((example) =>
  sftDatum(tokenizeExample(example, tokenizer, eosTokenId)),
);
const loaded: string[] = [];
const scratch: string[] = [];

afterAll(async () => {
  await Promise.all(loaded.map((modelId) => engine.unloadModel(modelId)));
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function probeNll(modelId: string): Promise<number> {
  return meanNll(probe, await engine.forward({ modelId, data: probe }));
}

// The engine's --checkpoints-base: the stack's own, or MEL_ENGINE_CHECKPOINTS_DIR for an engine started elsewhere.
const checkpoints =
  process.env.MEL_ENGINE_CHECKPOINTS_DIR ??
  (env.MEL_ENGINE_URL ? undefined : path.join(stateDir(env, 'engine'), 'checkpoints'));

describe.skipIf(checkpoints === undefined)('warm start on the engine', () => {
  it('lowers the curriculum NLL and exports a merged model that reproduces the engine logprobs', async () => {
    const untrained = await engine.createTrainingModel({ baseModel: endpoints.baseModel, rank: 16 });
    loaded.push(untrained);
    const result = await warmStart(deps, SHORT);
    loaded.push(result.modelId);

    expect(result.steps).toBe(12);
    expect(result.history).toHaveLength(1);
    expect(result.final.parseRate).not.toBeNull();
    expect(Object.keys(result.finalNll).sort()).toEqual([
      'compactReflection',
      'reflection',
      'rollout',
      'validation',
    ]);
    const [before, after] = [await probeNll(untrained), await probeNll(result.modelId)];
    console.info(`probe NLL per token: untrained ${before}, after 12 warm-start steps ${after}`);
    expect(after).toBeLessThan(before * 0.8);

    const outDir = await mkdtemp(path.join(tmpdir(), 'warm-model-'));
    scratch.push(outDir);
    const python = cachePaths(env).venvPython;
    await mergeLora({
      python,
      baseModelDir: endpoints.baseModel,
      archive: samplerArchivePath(checkpoints ?? '', result.modelId, result.checkpointName),
      outDir,
    });
    const data = probe.slice(0, 2);
    const engineLogprobs = (await engine.forward({ modelId: result.modelId, data })).perDatum.map(
      (d) => d.logprobs,
    );
    const sequences = data.map((d) => [
      ...(d.model_input.chunks[0]?.tokens ?? []),
      ...d.loss_fn_inputs.target_tokens.data.slice(-1),
    ]);
    const merged = await scoreWithTransformers(python, outDir, sequences);
    const diffs = engineLogprobs.flatMap((row, i) =>
      row.map((lp, t) => Math.abs(lp - (merged[i]?.[t] ?? Infinity))),
    );
    expect(diffs).toHaveLength(sequences.reduce((n, s) => n + s.length - 1, 0));
    expect(Math.max(...diffs)).toBeLessThan(1e-3);

    await writeFile(
      path.join(outDir, WARM_START_REPORT),
      JSON.stringify(warmStartReport(result, endpoints.baseModel)),
    );
    expect((await readWarmModel(outDir))?.report.steps).toBe(12);
  });
});
