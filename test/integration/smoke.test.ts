import { describe, expect, it } from 'vitest';
import type { SmokeRecord } from '../../activities/smoke.js';
import { COLLECTIONS } from '../../store/mongo.js';
import { TASK_QUEUES } from '../../temporal/contracts/common.js';
import { smokeWorkflow } from '../../workflows/index.js';
import { uniqueId, useClientAndWorkers } from './support.js';

describe('smoke workflow on the real stack', () => {
  const stack = useClientAndWorkers();

  it('writes to MongoDB, creates a LoRA model and samples tokens from the tiny model', async () => {
    const smokeId = uniqueId('smoke');
    const maxTokens = 6;
    const result = await stack.temporal.workflow.execute(smokeWorkflow, {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: smokeId,
      args: [{ smokeId, promptText: 'What is 2 + 3?', maxTokens }],
    });

    expect(result.record).toEqual({ collection: COLLECTIONS.smokeRuns, id: smokeId });
    expect(result.modelId).toMatch(/\S+/);
    expect(result.sampledTokenCount).toBeGreaterThan(0);
    expect(result.sampledTokenCount).toBeLessThanOrEqual(maxTokens);

    const records = stack.workers.deps.mongo.db.collection<SmokeRecord>(COLLECTIONS.smokeRuns);
    const record = await records.findOne({ _id: smokeId });
    expect(record).not.toBeNull();
    expect(record!.phase).toBe('sampled');
    expect(record!.workflowId).toBe(smokeId);
    expect(record!.modelId).toBe(result.modelId);
    expect(record!.promptTokens.length).toBeGreaterThan(0);
    expect(record!.sampledTokens).toHaveLength(result.sampledTokenCount);
    expect(record!.sampledLogprobs).toHaveLength(result.sampledTokenCount);
    for (const logprob of record!.sampledLogprobs!) expect(logprob).toBeLessThanOrEqual(0);
  });

  it('keys its document by the smoke id, so running it again overwrites instead of adding', async () => {
    const smokeId = uniqueId('smoke-twice');
    const input = { smokeId, promptText: '1 + 1 =', maxTokens: 2 };
    for (const attempt of [1, 2]) {
      await stack.temporal.workflow.execute(smokeWorkflow, {
        taskQueue: TASK_QUEUES.cpu,
        workflowId: `${smokeId}-run-${attempt}`,
        args: [input],
      });
    }
    const records = stack.workers.deps.mongo.db.collection<SmokeRecord>(COLLECTIONS.smokeRuns);
    expect(await records.countDocuments({ _id: smokeId })).toBe(1);
    expect((await records.findOne({ _id: smokeId }))!.workflowId).toBe(`${smokeId}-run-2`);
  });
});
