/**
 * `npm run demo`: installs and starts the local stack, runs workers in this process, and runs the smoke
 * workflow end to end (MongoDB write, LoRA model on the engine, sampling). The stack stays up afterwards so the
 * run can be inspected in the Temporal UI; `npm run stack -- down` stops it.
 */
import { resolveEndpoints } from '../common/env.js';
import { createLogger } from '../common/logger.js';
import { Stack } from '../stack/stack.js';
import { COLLECTIONS } from '../store/mongo.js';
import { connectClient, connectWorker } from '../temporal/connection.js';
import { installTemporalRuntime } from '../temporal/runtime.js';
import { TASK_QUEUES } from '../temporal/shared.js';
import { smokeWorkflow } from '../workflows/index.js';
import { connectActivityDeps, createWorkers } from '../workers/workers.js';
import type { SmokeRecord } from '../activities/smoke.js';

const log = createLogger('demo');

async function main() {
  installTemporalRuntime(createLogger('temporal-sdk'), 'WARN');
  const stack = await Stack.prepare(log);
  await stack.up();
  const endpoints = resolveEndpoints(stack.env);

  const deps = await connectActivityDeps(endpoints);
  const connection = await connectWorker(endpoints);
  const workers = await createWorkers(connection, deps);
  const running = workers.map((worker) => worker.run());
  const client = await connectClient(endpoints);
  try {
    const smokeId = `demo-smoke-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    console.log(`\nRunning workflow ${smokeId} ...`);
    const result = await client.workflow.execute(smokeWorkflow, {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: smokeId,
      args: [{ smokeId, promptText: 'What is 12 + 30?', maxTokens: 12 }],
    });
    const record = await deps.mongo.db
      .collection<SmokeRecord>(COLLECTIONS.smokeRuns)
      .findOne({ _id: smokeId });
    console.log(`  LoRA model on the engine: ${result.modelId}`);
    console.log(`  sampled ${result.sampledTokenCount} tokens: ${JSON.stringify(record?.sampledText)}`);
    console.log(
      `  MongoDB document: ${endpoints.mongoDb}.${result.record.collection} _id=${result.record.id}`,
    );
    if (endpoints.temporalUiUrl) {
      console.log(
        `  Temporal UI: ${endpoints.temporalUiUrl}/namespaces/${endpoints.temporalNamespace}/workflows/${smokeId}`,
      );
    }
    console.log('\nThe stack is still running. Stop it with: npm run stack -- down');
  } finally {
    for (const worker of workers) worker.shutdown();
    await Promise.all(running);
    await client.connection.close();
    await connection.close();
    await deps.mongo.close();
  }
}

main().catch((error: unknown) => {
  log.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
