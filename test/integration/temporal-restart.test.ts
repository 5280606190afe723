import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { createLogger } from '../../common/logger.js';
import { Stack } from '../../stack/stack.js';
import { TASK_QUEUES } from '../../temporal/contracts/common.js';
import { smokeWorkflow } from '../../workflows/index.js';
import { client, startWorkers, uniqueId } from './support.js';

describe('Temporal dev server persistence', () => {
  let temporal: Client;
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.prepare(createLogger('test'));
    temporal = await client();
  });

  afterAll(async () => {
    await temporal?.connection.close();
  });

  it('keeps a started workflow across a kill -9 and restart of the server, and then completes it', async () => {
    const smokeId = uniqueId('restart');
    // No worker runs yet: the workflow is recorded by the server but cannot progress.
    const handle = await temporal.workflow.start(smokeWorkflow, {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: smokeId,
      args: [{ smokeId, promptText: '2 + 2 =', maxTokens: 2 }],
    });
    const before = await handle.describe();
    expect(before.status.name).toBe('RUNNING');

    await stack.crashAndRestart('temporal');

    const after = await temporal.workflow.getHandle(smokeId).describe();
    expect(after.runId).toBe(before.runId);
    expect(after.status.name).toBe('RUNNING');
    expect(after.startTime.getTime()).toBe(before.startTime.getTime());

    const workers = await startWorkers();
    try {
      const result = await handle.result();
      expect(result.sampledTokenCount).toBeGreaterThan(0);
    } finally {
      await workers.stop();
    }
  });
});
