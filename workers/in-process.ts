/** Every worker role inside the calling process (`mel train --with-workers`, tests): started and stopped as one. */
import type { LivenessSettings } from '../activities/index.js';
import type { Endpoints } from '../common/env.js';
import { connectWorker } from '../temporal/connection.js';
import type { TaskQueueRole } from '../temporal/contracts/common.js';
import {
  connectActivityDeps,
  createWorkers,
  promoteFirstDeployment,
  type ActivityDeps,
  type WorkerSetOptions,
} from './workers.js';

export interface InProcessWorkers {
  deps: ActivityDeps;
  /** Drains in-flight tasks, then closes the connections. */
  stop(): Promise<void>;
}

export async function startWorkersInProcess(
  endpoints: Endpoints,
  roles?: TaskQueueRole[],
  liveness?: LivenessSettings,
  options?: WorkerSetOptions,
): Promise<InProcessWorkers> {
  const deps = await connectActivityDeps(endpoints, liveness);
  const connection = await connectWorker(endpoints);
  const workers = await createWorkers(connection, deps, roles, options);
  const running = workers.map((worker) => worker.run());
  const stop = async () => {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.all(running);
    await deps.tracing?.flush();
    await deps.verifierPool.close();
    await connection.close();
    await deps.mongo.close();
  };
  try {
    await promoteFirstDeployment(connection, endpoints.temporalNamespace, workers);
  } catch (error) {
    await stop();
    throw error;
  }
  return { deps, stop };
}
