import { WorkflowNotFoundError } from '@temporalio/client';
import { beforeAll } from 'vitest';
import { createLogger } from '../../common/logger.js';
import { installTemporalRuntime } from '../../temporal/runtime.js';
import { client } from './support.js';

installTemporalRuntime(createLogger('temporal-sdk'), 'WARN');

// Every file starts with no workflow running on the shared stack. A run an earlier file left running (its workers
// are gone) would otherwise be taken up by this file's workers and call this file's engine, where it could consume
// a fault a test planned for its own run.
beforeAll(async () => {
  const temporal = await client();
  try {
    for await (const execution of temporal.workflow.list({ query: 'ExecutionStatus = "Running"' })) {
      await temporal.workflow
        .getHandle(execution.workflowId, execution.runId)
        .terminate('left running by an earlier test file')
        .catch((error: unknown) => {
          if (!(error instanceof WorkflowNotFoundError)) throw error;
        });
    }
  } finally {
    await temporal.connection.close();
  }
});
