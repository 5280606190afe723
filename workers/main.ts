/**
 * Worker process. `tsx workers/main.ts` runs every role; `--roles cpu` or `--roles gpuInference,gpuTraining`
 * runs a subset (one process per GPU host, say). Stops gracefully on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { resolveEndpoints } from '../common/env.js';
import { createLogger } from '../common/logger.js';
import { connectWorker } from '../temporal/connection.js';
import { installTemporalRuntime } from '../temporal/runtime.js';
import type { TaskQueueRole } from '../temporal/contracts/common.js';
import { describeVersion } from './versioning.js';
import { ALL_ROLES, connectActivityDeps, createWorkers, promoteFirstDeployment } from './workers.js';

const log = createLogger('worker');

function parseRoles(value: string | undefined): TaskQueueRole[] {
  if (!value) return ALL_ROLES;
  const roles = value.split(',').map((role) => role.trim());
  const unknown = roles.filter((role) => !ALL_ROLES.includes(role as TaskQueueRole));
  if (unknown.length > 0) {
    throw new Error(`unknown role(s) ${unknown.join(', ')}; choose from ${ALL_ROLES.join(', ')}`);
  }
  return roles as TaskQueueRole[];
}

async function main() {
  const { values } = parseArgs({ options: { roles: { type: 'string' } } });
  const roles = parseRoles(values.roles);
  installTemporalRuntime(log);
  const endpoints = resolveEndpoints();
  const deps = await connectActivityDeps(endpoints);
  const connection = await connectWorker(endpoints);
  const workers = await createWorkers(connection, deps, roles);
  const deployment = workers[0]?.options.workerDeploymentOptions;
  log.info(
    {
      roles,
      temporal: endpoints.temporalAddress,
      queues: workers.map((w) => w.options.taskQueue),
      version: deployment?.useWorkerVersioning ? describeVersion(deployment.version) : 'unversioned',
    },
    'workers running',
  );
  const running = workers.map((worker) => worker.run());
  try {
    await promoteFirstDeployment(connection, endpoints.temporalNamespace, workers).catch((error: unknown) => {
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      throw error;
    });
    await Promise.all(running);
  } finally {
    await Promise.allSettled(running);
    await deps.tracing?.flush();
    await deps.verifierPool.close();
    await connection.close();
    await deps.mongo.close();
    log.info('workers stopped');
  }
}

main().catch((error: unknown) => {
  log.fatal({ err: error }, 'worker failed');
  process.exit(1);
});
