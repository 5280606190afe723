/**
 * A run configured with `initialPolicy` forks from another run's checkpoint: its initial policy is a copy of that
 * checkpoint (weights and optimizer state), so the engine's own optimizer counter goes on from the source's count;
 * a checkpoint no run recorded, or one of another LoRA rank, is refused with a message that says why.
 */
import { describe, expect, it } from 'vitest';
import { melCollections } from '../../store/collections.js';
import { forkSource, ForkSourceError } from '../../store/queries.js';
import { followRun, startRun } from '../../temporal/client.js';
import { shortRunConfig, trainAndCheck } from './mel-support.js';
import { doubleOptimizerSteps, useClientAndWorkers, useEngineDouble } from './support.js';

describe('forking a run from a checkpoint (initialPolicy)', () => {
  const engine = useEngineDouble({ seed: 9, pCorrect: 0.5, pReplayCorrect: 0.5 });
  const stack = useClientAndWorkers(() => engine.endpoints);
  const source = shortRunConfig({ steps: 2 });

  it(
    'continues from the source step: updates and the optimizer counter go on from there',
    { timeout: 300_000 },
    async () => {
      const optimizerSteps = doubleOptimizerSteps(engine.double);
      await trainAndCheck(stack, source, optimizerSteps);
      const db = stack.workers.deps.mongo.db;

      const fork = shortRunConfig({ steps: 1, initialPolicy: { runId: source.runId, step: 0 } });
      await startRun(stack.temporal, fork);
      const status = await followRun(stack.temporal, fork.runId, () => undefined);
      expect(status.phase).toBe('completed');

      const sourceStep0 = await melCollections(db).steps.findOne({ _id: `${source.runId}/step-0` });
      const run = await melCollections(db).runs.findOne({ _id: fork.runId });
      expect(run!.forkedFrom).toEqual({
        runId: source.runId,
        step: 0,
        statePath: sourceStep0!.update!.policyAfter.statePath,
      });
      expect(run!.initialPolicy!.updates).toBe(1);
      expect(status.policy!.updates).toBe(2);
      expect(await optimizerSteps(status.policy!)).toBe(2);
    },
  );

  it('refuses a checkpoint no run recorded, a step never completed and another LoRA rank (after the first test)', async () => {
    const db = stack.workers.deps.mongo.db;
    const rank = source.lora.rank;
    await expect(forkSource(db, { statePath: 'tinker://nobody/weights/x' }, rank)).rejects.toThrow(
      /no checkpoint a run recorded/,
    );
    await expect(forkSource(db, { runId: source.runId, step: 99 }, rank)).rejects.toThrow(ForkSourceError);
    await expect(forkSource(db, { runId: source.runId, step: 1 }, rank * 2)).rejects.toThrow(
      `rank ${rank}, but lora.rank is ${rank * 2}`,
    );
    expect((await forkSource(db, { runId: source.runId, step: 1 }, rank)).step).toBe(1);
  });
});
