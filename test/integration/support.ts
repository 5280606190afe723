import type { Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { resolveEndpoints } from '../../common/env.js';
import { connectClient, connectWorker } from '../../temporal/connection.js';
import type { TaskQueueRole } from '../../temporal/shared.js';
import { connectActivityDeps, createWorkers, type ActivityDeps } from '../../workers/workers.js';

export const endpoints = resolveEndpoints();

export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Real workers in this test process, against the running stack; `stop()` shuts them down. */
export async function startWorkers(roles?: TaskQueueRole[]) {
  const deps: ActivityDeps = await connectActivityDeps(endpoints);
  const connection: NativeConnection = await connectWorker(endpoints);
  const workers: Worker[] = await createWorkers(connection, deps, roles);
  const running = workers.map((worker) => worker.run());
  return {
    deps,
    async stop() {
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await Promise.all(running);
      await connection.close();
      await deps.mongo.close();
    },
  };
}

export function client(): Promise<Client> {
  return connectClient(endpoints);
}
