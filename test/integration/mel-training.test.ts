import { describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../store/mongo.js';
import { startRun } from '../../temporal/client.js';
import { demoRunConfig, shortRunConfig, trainAndCheck } from './mel-support.js';
import { useClientAndWorkers } from './support.js';

describe('MEL training on the real stack', () => {
  const stack = useClientAndWorkers();

  // The demo's configuration on the committed warm model. What the model samples differs between machines (and
  // between runs: the engine batches requests), so this asserts what the code guarantees on any sample; the
  // verdict paths themselves are pinned on the engine double (mel-verdicts.test.ts). About 2 minutes on an idle
  // 2-core machine (105 s on 2026-12-02); the limit leaves room for a busy one.
  it(
    'runs the demo configuration through every stage, every candidate judged once with its evidence, one update per step',
    { timeout: 600_000 },
    async () => {
      const config = await demoRunConfig();
      const { status, stepDocs, candidates } = await trainAndCheck(stack, config);
      expect(status.nextStep).toBe(config.steps);
      const { db } = stack.workers.deps.mongo;
      const metrics = stepDocs.map((s) => s.metrics!);
      expect(candidates.length).toBe(metrics.reduce((n, m) => n + m.pairs, 0));
      expect(metrics.reduce((n, m) => n + m.accepted + m.rejected, 0)).toBe(candidates.length);
      expect(metrics.reduce((n, m) => n + m.candidates, 0)).toBe(candidates.length);
      const accepted = candidates.filter((c) => c.verdict!.accepted).length;
      console.info(`demo configuration: ${accepted} of ${candidates.length} candidates accepted`);
      expect(await db.collection(COLLECTIONS.stepMetrics).countDocuments({ runId: config.runId })).toBe(
        config.steps,
      );

      // Each step is its own child workflow, listable by the run's search attribute.
      const query = `MelRunId = "${config.runId}" AND WorkflowType = "melStepWorkflow"`;
      await expect
        .poll(() => stack.temporal.workflow.count(query).then((c) => c.count), { timeout: 10_000 })
        .toBe(config.steps);
      const steps: string[] = [];
      for await (const execution of stack.temporal.workflow.list({ query })) steps.push(execution.workflowId);
      expect(steps.sort()).toEqual([...Array(config.steps).keys()].map((n) => `${config.runId}/step-${n}`));
    },
  );

  it('attaches to the running workflow when the same run is started twice', async () => {
    const config = shortRunConfig({ steps: 1 });
    const first = await startRun(stack.temporal, config);
    const second = await startRun(stack.temporal, config);
    expect(second.firstExecutionRunId).toBe(first.firstExecutionRunId);
    await first.result();
  });
});
