/**
 * `checkpoints.keepLast` on the engine double, which has hosted Tinker's delete route: after each step the run
 * deletes the saved states and sampler weights the setting no longer keeps, marks those steps, and trains on
 * unchanged (one optimizer update per step). What is protected is read from the store (referencedCheckpoints).
 */
import { describe, expect, it } from 'vitest';
import { createPolicyEngine } from '../../engine/config.js';
import { melCollections } from '../../store/collections.js';
import { referencedCheckpoints } from '../../store/queries.js';
import type { EvalDoc, RunDoc } from '../../store/documents.js';
import { mel } from './cli-support.js';
import { shortRunConfig, trainAndCheck } from './mel-support.js';
import { doubleOptimizerSteps, uniqueId, useClientAndWorkers, useEngineDouble } from './support.js';

describe('checkpoints.keepLast', () => {
  const engine = useEngineDouble({}, { exportUrl: true });
  const stack = useClientAndWorkers(() => engine.endpoints);

  it('keeps the newest steps and the initial policy, and deletes the rest from the engine', async () => {
    const config = shortRunConfig({ steps: 4, checkpoints: { keepLast: 2 } });
    const { stepDocs } = await trainAndCheck(stack, config, doubleOptimizerSteps(engine.double));
    const db = stack.workers.deps.mongo.db;
    const run = await melCollections(db).runs.findOne({ _id: config.runId });

    // Step 0's policy went after step 2, step 1's after step 3; the newest two stay.
    expect(stepDocs.map((doc) => doc.checkpointsPruned?.afterStep)).toEqual([2, 3, undefined, undefined]);
    expect(stepDocs.map((doc) => doc.checkpointsPruned?.keepLast)).toEqual([2, 2, undefined, undefined]);

    const client = createPolicyEngine(engine.endpoints);
    const loads = async (statePath: string) => {
      const modelId = await client.createTrainingModel({
        baseModel: engine.double.options.baseModel,
        rank: 8,
      });
      return client.loadState({ modelId, path: statePath }).then(
        () => true,
        () => false,
      );
    };
    // Sampling from a finished run's sampler fails either way (its model is unloaded), but differently when the
    // weights themselves are gone.
    const samplerKept = (samplerPath: string) =>
      client.sample({ sampler: samplerPath, promptTokens: [1, 2, 3], numSamples: 1, maxTokens: 2 }).then(
        () => true,
        (error: unknown) => !/Checkpoint not found/.test(String(error)),
      );
    const policies = [run!.initialPolicy!, ...stepDocs.map((doc) => doc.update!.policyAfter)];
    expect(await Promise.all(policies.map((policy) => loads(policy.statePath)))).toEqual([
      true,
      false,
      false,
      true,
      true,
    ]);
    expect(await Promise.all(policies.map((policy) => samplerKept(policy.samplerPath)))).toEqual([
      true,
      false,
      false,
      true,
      true,
    ]);

    const exported = await mel([
      'export',
      config.runId,
      '--step',
      '0',
      '--adapter-only',
      '--out',
      '/tmp/never',
    ]);
    expect(exported.code).toBe(1);
    expect(exported.stderr).toMatch(/deleted from the engine after step 2 \(checkpoints\.keepLast: 2\)/);
  });

  it('protects what other runs and replays started from and what running evals read, not finished evals', async () => {
    const db = stack.workers.deps.mongo.db;
    const { runs, evals } = melCollections(db);
    const own = uniqueId('own');
    const path = (name: string) => `tinker://m_${own.replaceAll('-', '_')}/weights/${name}`;
    const policy = (name: string) => ({
      statePath: path(name),
      samplerPath: `${path(name)}-sampler`,
      modelId: 'm',
      updates: 1,
      rank: 8,
    });
    const runDoc = (id: string, extra: Partial<RunDoc>) =>
      ({ _id: id, config: {}, baseModel: 'b', createdAt: new Date(), workflowId: id, ...extra }) as RunDoc;
    const evalDoc = (id: string, status: EvalDoc['status'], name: string) =>
      ({
        _id: id,
        definition: { target: { policy: policy(name) } },
        workflowId: id,
        createdAt: new Date(),
        problems: 1,
        status,
        origin: {},
      }) as unknown as EvalDoc;
    await runs.insertMany([
      runDoc(own, { initialPolicy: policy('own-initial') }),
      runDoc(`${own}-fork`, {
        initialPolicy: policy('fork-copy'),
        forkedFrom: { runId: own, step: 1, statePath: path('step-1') },
      }),
      runDoc(`${own}-replay`, { replayOf: { runId: own, step: 5, policy: policy('step-4') } }),
    ]);
    await evals.insertMany([
      evalDoc(`${own}-eval-running`, 'running', 'step-2'),
      evalDoc(`${own}-eval-done`, 'completed', 'step-3'),
    ]);
    const referenced = await referencedCheckpoints(db, own);
    for (const name of ['step-1', 'fork-copy', 'step-2', 'step-4'])
      expect(referenced.has(path(name))).toBe(true);
    for (const name of ['step-2', 'step-4']) expect(referenced.has(`${path(name)}-sampler`)).toBe(true);
    for (const name of ['own-initial', 'step-3']) expect(referenced.has(path(name))).toBe(false);
  });
});
