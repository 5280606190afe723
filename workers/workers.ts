/**
 * Builds the workers for each role. One process can run every role (the local default) or a single one
 * (a GPU host runs only gpuInference/gpuTraining, a CPU host only cpu).
 */
import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { z } from 'zod';
import { engineRefusalInterceptors } from '../activities/engine-failures.js';
import { createMelActivities, createSmokeActivities } from '../activities/index.js';
import type { Endpoints } from '../common/env.js';
import { createPolicyEngine, createReflectionEngine, reflectionEngineConfig } from '../engine/config.js';
import type { PolicyEngine } from '../engine/engine.js';
import { loadModelTokenizer } from '../engine/model-files.js';
import { VerifierPool, verifierPoolConfigFromEnv } from '../mel/verifier-pool.js';
import { ensureIndexes } from '../store/indexes.js';
import { connectMongo, type MongoHandle } from '../store/mongo.js';
import { TASK_QUEUES, type TaskQueueRole } from '../temporal/contracts/common.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
export const ALL_ROLES = Object.keys(TASK_QUEUES) as TaskQueueRole[];

const concurrency = z.coerce.number().int().positive();
const workerEnvSchema = z.object({
  MEL_WORKER_CONCURRENCY_CPU: concurrency.default(16),
  MEL_WORKER_CONCURRENCY_GPU_INFERENCE: concurrency.default(2),
  MEL_WORKER_CONCURRENCY_GPU_TRAINING: concurrency.default(1),
  MEL_WORKER_SHUTDOWN_GRACE_S: z.coerce.number().nonnegative().default(10),
});

export interface ActivityDeps {
  mongo: MongoHandle;
  engine: PolicyEngine;
  endpoints: Endpoints;
  /** The verifier's worker threads (MEL_VERIFIER_THREADS): closed with the workers. */
  verifierPool: VerifierPool;
}

export async function connectActivityDeps(endpoints: Endpoints): Promise<ActivityDeps> {
  const mongo = await connectMongo(endpoints);
  await ensureIndexes(mongo.db);
  const verifierPool = new VerifierPool(verifierPoolConfigFromEnv());
  return { mongo, engine: createPolicyEngine(endpoints), endpoints, verifierPool };
}

async function activitiesByRole(deps: ActivityDeps): Promise<Record<TaskQueueRole, object>> {
  const tokenizer = await loadModelTokenizer(deps.endpoints.baseModel);
  const reflectionConfig = reflectionEngineConfig();
  const shared = {
    db: deps.mongo.db,
    engine: deps.engine,
    tokenizer,
    baseModel: deps.endpoints.baseModel,
    compareSymbolically: deps.verifierPool.compare,
    ...(reflectionConfig.kind === 'openai-compatible'
      ? { reflection: createReflectionEngine(reflectionConfig) }
      : {}),
  };
  const smoke = createSmokeActivities(shared);
  const mel = createMelActivities(shared);
  return { cpu: mel.cpu, gpuInference: { ...smoke, ...mel.gpuInference }, gpuTraining: mel.gpuTraining };
}

export async function createWorkers(
  connection: NativeConnection,
  deps: ActivityDeps,
  roles: TaskQueueRole[] = ALL_ROLES,
  options: { taskQueuePrefix?: string } = {},
): Promise<Worker[]> {
  const settings = workerEnvSchema.parse(process.env);
  const maxConcurrent: Record<TaskQueueRole, number> = {
    cpu: settings.MEL_WORKER_CONCURRENCY_CPU,
    gpuInference: settings.MEL_WORKER_CONCURRENCY_GPU_INFERENCE,
    gpuTraining: settings.MEL_WORKER_CONCURRENCY_GPU_TRAINING,
  };
  const activities = await activitiesByRole(deps);
  const workers: Worker[] = [];
  for (const role of roles) {
    const hasActivities = Object.keys(activities[role]).length > 0;
    if (role !== 'cpu' && !hasActivities) continue;
    workers.push(
      await Worker.create({
        connection,
        namespace: deps.endpoints.temporalNamespace,
        taskQueue: `${options.taskQueuePrefix ?? ''}${TASK_QUEUES[role]}`,
        identity: `${role}@${process.pid}`,
        ...(role === 'cpu' ? { workflowsPath: WORKFLOWS_PATH } : {}),
        ...(hasActivities ? { activities: activities[role] } : {}),
        interceptors: { activity: [engineRefusalInterceptors] },
        maxConcurrentActivityTaskExecutions: maxConcurrent[role],
        shutdownGraceTime: `${settings.MEL_WORKER_SHUTDOWN_GRACE_S}s`,
      }),
    );
  }
  return workers;
}
