import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadEnv, tinyModelDir, WARM_MODEL_DIR } from '../../common/env.js';
import { createLogger } from '../../common/logger.js';
import { scoreWithTransformers } from '../../engine/python.js';
import type { TinkerClient } from '../../engine/tinker.js';
import { generateBuiltinDataset, IM_END, type Datum } from '../../mel/index.js';
import { loadTokenizer } from '../../mel/node.js';
import { cachePaths } from '../../stack/install.js';
import { withTemporaryEngine } from '../../stack/temporary-engine.js';
import { buildCurriculum } from '../../tiny-model/curriculum.js';
import { mergeLora } from '../../checkpoints/merge.js';
import { samplerArchivePath } from '../../tiny-model/export.js';
import { sftDatum, tokenizeExample } from '../../tiny-model/sft-data.js';
import { runTrace, traceMismatches, TraceSchema, TRACE_FILE } from '../../tiny-model/trace.js';

// The warm-start code, checked in about two minutes instead of the ~25 a build takes: the first steps of round 1,
// run from the raw tiny model on an engine of the test's own, must reproduce the losses recorded next to the
// committed warm model (tiny-model/artifact/trace.json), and their LoRA must merge (checkpoints/merge.ts) into a model
// folder that reproduces the engine's logprobs.

const env = loadEnv();
const rawModel = tinyModelDir(env);
const tokenizer = loadTokenizer(rawModel);
const eosTokenId = tokenizer.tokenId(IM_END);
const log = createLogger('warm-start-test');
const scratch: string[] = [];

afterAll(() => Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true }))));

async function recordedTrace() {
  const file = path.join(WARM_MODEL_DIR, TRACE_FILE);
  if (!existsSync(file)) throw new Error(`${file} is missing: npm run tiny-model -- trace --record`);
  return TraceSchema.parse(JSON.parse(await readFile(file, 'utf8')));
}

/** The merged model folder scores `data` as the engine's LoRA model does. */
async function expectMergedModelMatches(
  engine: TinkerClient,
  modelId: string,
  archive: string,
  data: Datum[],
) {
  const outDir = await mkdtemp(path.join(tmpdir(), 'warm-model-'));
  scratch.push(outDir);
  const python = cachePaths(env).venvPython;
  await mergeLora({ python, baseModelDir: rawModel, adapter: archive, outDir });
  const engineLogprobs = (await engine.forward({ modelId, data })).perDatum.map((d) => d.logprobs);
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
}

// Needs the stack's own engine venv and raw tiny model, not an engine elsewhere.
describe.skipIf(Boolean(env.MEL_ENGINE_URL))('warm start from the raw tiny model', () => {
  it('reproduces the recorded loss trace, and its LoRA merges into an equivalent model folder', async () => {
    const recorded = await recordedTrace();
    await withTemporaryEngine(env, rawModel, log, async ({ engine, checkpointsBase }) => {
      const run = await runTrace(
        { engine, baseModel: rawModel, tokenizer, eosTokenId, log },
        recorded.steps.length,
      );
      try {
        console.info(`loss trace: ${JSON.stringify(run.trace)}`);
        expect(traceMismatches(recorded.steps, run.trace)).toEqual([]);
        const name = 'ci-trace';
        await run.saveSampler(name);
        const problems = generateBuiltinDataset({ seed: 0, count: 2 });
        const probe = buildCurriculum(problems, 0).rollouts.map((e) =>
          sftDatum(tokenizeExample(e, tokenizer, eosTokenId)),
        );
        const archive = samplerArchivePath(checkpointsBase, run.modelId, name);
        await expectMergedModelMatches(engine, run.modelId, archive, probe);
      } finally {
        await engine.unloadModel(run.modelId);
      }
    });
  });
});
