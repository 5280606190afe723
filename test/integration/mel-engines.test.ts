/**
 * Several inference engines sample one policy: two engine doubles that share a checkpoint directory, the training
 * worker and one inference worker on the first, a second inference worker on the second. Every sample records its
 * engine and the policy it came from; that policy is the step's starting one, wherever it was sampled.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineIdOf } from '../../common/env.js';
import type { DatumDoc, SampledBy } from '../../store/documents.js';
import { COLLECTIONS } from '../../store/mongo.js';
import type { InProcessWorkers } from '../../workers/in-process.js';
import { shortRunConfig, trainAndCheck } from './mel-support.js';
import { doubleOptimizerSteps, startWorkers, useClientAndWorkers, useEngineDouble } from './support.js';

describe('two inference engines sampling one policy', () => {
  const checkpointDir = mkdtempSync(path.join(os.tmpdir(), 'mel-engines-'));
  // Each sample takes a while, and each inference worker takes one activity at a time: the chunks a stage starts
  // together go to both workers.
  const latency = { profile: 'zero' as const, tokensPerSecondPerSequence: 400 };
  const first = useEngineDouble({ name: 'a', seed: 3, checkpointDir, latency });
  const second = useEngineDouble({ name: 'b', seed: 3, checkpointDir, latency });
  const concurrency = process.env.MEL_WORKER_CONCURRENCY_GPU_INFERENCE;
  process.env.MEL_WORKER_CONCURRENCY_GPU_INFERENCE = '1';
  const stack = useClientAndWorkers(() => first.endpoints);
  let secondWorker: InProcessWorkers | undefined;
  beforeAll(async () => {
    secondWorker = await startWorkers(['gpuInference'], second.endpoints);
  });
  afterAll(async () => {
    await secondWorker?.stop();
    if (concurrency === undefined) delete process.env.MEL_WORKER_CONCURRENCY_GPU_INFERENCE;
    else process.env.MEL_WORKER_CONCURRENCY_GPU_INFERENCE = concurrency;
    rmSync(checkpointDir, { recursive: true, force: true });
  });

  it('completes a run whose every sample names its engine and the policy its step started from', async () => {
    const config = shortRunConfig({ steps: 2, fanOut: { promptsPerChunk: 2, generationsPerChunk: 2 } });
    const { stepDocs, trajectories, candidates } = await trainAndCheck(
      stack,
      config,
      doubleOptimizerSteps(first.double),
    );
    const engines = [engineIdOf(first.endpoints), engineIdOf(second.endpoints)];
    const startingPolicy = new Map(stepDocs.map((s) => [s.step, s.update!.policyBefore!.statePath]));
    const samples: { id: string; step: number; samplerPath: string; sampledBy?: SampledBy }[] = [
      ...trajectories.map((t) => ({ id: t._id, ...t })),
      ...candidates.map((c) => ({ id: c._id, step: c.step, ...c.generation })),
      ...candidates.flatMap((c) =>
        c.validation ? [{ id: `${c._id}/replay`, step: c.step, samplerPath: '', ...c.validation }] : [],
      ),
    ];
    expect(samples.length).toBeGreaterThan(trajectories.length);
    for (const sample of samples) {
      expect(sample.sampledBy?.policy.statePath, sample.id).toBe(startingPolicy.get(sample.step));
      expect(engines, sample.id).toContain(sample.sampledBy!.engine);
    }
    // The second engine never had the policy's model: it sampled copies restored there from the shared state.
    const onSecond = trajectories.filter((t) => t.sampledBy!.engine === engines[1]);
    for (const t of onSecond) expect(t.samplerPath, t._id).toMatch(/^tinker:\/\/model_b_/);
    expect(new Set(samples.map((s) => s.sampledBy!.engine))).toEqual(new Set(engines));

    const datums = await stack.workers.deps.mongo.db
      .collection<DatumDoc>(COLLECTIONS.datums)
      .find({ runId: config.runId })
      .toArray();
    for (const datum of datums) {
      expect(datum.sampledBy?.policy.statePath, datum._id).toBe(startingPolicy.get(datum.step));
    }
  });
});
