import { describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../store/mongo.js';
import { followRun, startRun } from '../../temporal/client.js';
import { expectCompleteRun, shortRunConfig } from './mel-support.js';
import { useClientAndWorkers } from './support.js';

describe('MEL training on the real stack', () => {
  const stack = useClientAndWorkers();

  it('runs 3 steps through every stage, with mixed groups, accepted and rejected candidates, each stored once', async () => {
    const config = shortRunConfig();
    await startRun(stack.temporal, config);
    const status = await followRun(stack.temporal, config.runId, () => undefined);
    expect(status.phase).toBe('completed');
    expect(status.nextStep).toBe(3);

    const { db } = stack.workers.deps.mongo;
    const { stepDocs, candidates } = await expectCompleteRun(db, config, status.policy!);
    const metrics = stepDocs.map((s) => s.metrics!);
    expect(metrics.reduce((n, m) => n + m.mixedGroups, 0)).toBeGreaterThan(0);
    expect(candidates.length).toBe(metrics.reduce((n, m) => n + m.pairs, 0));
    const accepted = candidates.filter((c) => c.verdict!.accepted);
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.length).toBeLessThan(candidates.length);
    for (const rejected of candidates.filter((c) => !c.verdict!.accepted)) {
      expect(rejected.verdict!.detail).not.toBe('');
      if (rejected.verdict!.reason === 'unparseable') expect(rejected.parse.ok).toBe(false);
      if (rejected.verdict!.reason === 'replay-wrong-answer')
        expect(rejected.validation!.correct).toBe(false);
    }
    expect(await db.collection(COLLECTIONS.stepMetrics).countDocuments({ runId: config.runId })).toBe(3);

    // Each step is its own child workflow, listable by the run's search attribute.
    const query = `MelRunId = "${config.runId}" AND WorkflowType = "melStepWorkflow"`;
    await expect
      .poll(() => stack.temporal.workflow.count(query).then((c) => c.count), { timeout: 10_000 })
      .toBe(3);
    const steps: string[] = [];
    for await (const execution of stack.temporal.workflow.list({ query })) steps.push(execution.workflowId);
    expect(steps.sort()).toEqual([0, 1, 2].map((n) => `${config.runId}/step-${n}`));
  });

  it('attaches to the running workflow when the same run is started twice', async () => {
    const config = shortRunConfig({ steps: 1 });
    const first = await startRun(stack.temporal, config);
    const second = await startRun(stack.temporal, config);
    expect(second.firstExecutionRunId).toBe(first.firstExecutionRunId);
    await first.result();
  });
});
