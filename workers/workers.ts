/**
 * Builds the workers for each role. One process can run every role (the local default) or a single one
 * (a GPU host runs only gpuInference/gpuTraining, a CPU host only cpu).
 */
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { Runtime, Worker, type NativeConnection } from '@temporalio/worker';
import { z } from 'zod';
import { engineRefusalInterceptors } from '../activities/engine-failures.js';
import {
  attemptsUnderLiveness,
  createMelActivities,
  createSmokeActivities,
  DEFAULT_LIVENESS,
  type LivenessSettings,
} from '../activities/index.js';
import { ConfigError, engineIdOf, type Endpoints } from '../common/env.js';
import { createLogger } from '../common/logger.js';
import { createPolicyEngine, createReflectionEngine, reflectionEngineConfig } from '../engine/config.js';
import type { PolicyEngine } from '../engine/engine.js';
import { loadModelTokenizer } from '../engine/model-files.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../engine/tinker.js';
import { VerifierPool, verifierPoolConfigFromEnv } from '../mel/verifier-pool.js';
import { ensureIndexes } from '../store/indexes.js';
import { melMetrics, type MelMetrics } from '../telemetry/mel-metrics.js';
import { observedEngine } from '../telemetry/observed-engine.js';
import { processTracing, traceMongoCommands, type Tracing } from '../telemetry/tracing.js';
import { connectMongo, type MongoHandle } from '../store/mongo.js';
import { TASK_QUEUES, type TaskQueueRole } from '../temporal/contracts/common.js';
import { metricsDirFromEnv } from '../trackers/metrics-file.js';
import { trackersFromEnv } from '../trackers/tracker.js';
import { promoteFirstVersion, versioningOptions, workerDeploymentFromEnv } from './versioning.js';

const log = createLogger('worker');

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
export const ALL_ROLES = Object.keys(TASK_QUEUES) as TaskQueueRole[];

const concurrency = z.coerce.number().int().positive();
const workerEnvSchema = z.object({
  MEL_WORKER_CONCURRENCY_CPU: concurrency.default(16),
  // Twice what fills one GPU engine's slots with the default chunks (mel/fan-out.ts): the engine queues the rest and
  // starts a queued sequence as soon as one ends, instead of idling until a chunk's longest sequence is done.
  MEL_WORKER_CONCURRENCY_GPU_INFERENCE: concurrency.default(4),
  MEL_WORKER_CONCURRENCY_GPU_TRAINING: concurrency.default(1),
  MEL_WORKER_SHUTDOWN_GRACE_S: z.coerce.number().nonnegative().default(10),
  MEL_STALL_TIMEOUT_S: z.coerce.number().positive().optional(),
});

export interface ActivityDeps {
  mongo: MongoHandle;
  engine: PolicyEngine;
  endpoints: Endpoints;
  /** The verifier's worker threads (MEL_VERIFIER_THREADS): closed with the workers. */
  verifierPool: VerifierPool;
  liveness: LivenessSettings;
  /** MEL's metrics, through the worker runtime's meter (exported only when telemetry/settings.ts asks). */
  metrics: MelMetrics;
  /** Traces of workflows, activities, engine calls and MongoDB commands, when telemetry/settings.ts asks. */
  tracing?: Tracing;
}

/**
 * The stall bound of every activity attempt: MEL_STALL_TIMEOUT_S, by default 120 s, or longer than one call to an
 * external reflector may take. No single engine or store call may be allowed longer, or it would count as a stall.
 */
export function livenessFromEnv(source: NodeJS.ProcessEnv = process.env): LivenessSettings {
  const { MEL_STALL_TIMEOUT_S } = workerEnvSchema.parse(source);
  const reflection = reflectionEngineConfig(source);
  const longestCallMs = Math.max(
    DEFAULT_REQUEST_TIMEOUT_MS,
    reflection.kind === 'openai-compatible' ? reflection.timeoutMs : 0,
  );
  const stallTimeoutMs =
    MEL_STALL_TIMEOUT_S === undefined
      ? Math.max(DEFAULT_LIVENESS.stallTimeoutMs, longestCallMs + 30_000)
      : MEL_STALL_TIMEOUT_S * 1000;
  if (stallTimeoutMs <= longestCallMs) {
    throw new ConfigError(
      `MEL_STALL_TIMEOUT_S=${MEL_STALL_TIMEOUT_S} is not longer than one engine call may take ` +
        `(${longestCallMs / 1000} s, MEL_REFLECTION_TIMEOUT_S included): a slow call would count as a stall`,
    );
  }
  return { ...DEFAULT_LIVENESS, stallTimeoutMs };
}

/**
 * MongoDB and the engine, with deadlines that fit the stall bound: a MongoDB command fails when it goes
 * unanswered for the bound (or an engine request's deadline, if longer), and the engine's long-polls end within
 * half of it (then a health check answers).
 */
export async function connectActivityDeps(
  endpoints: Endpoints,
  liveness: LivenessSettings = livenessFromEnv(),
): Promise<ActivityDeps> {
  const commandTimeoutMs = Math.max(liveness.stallTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS);
  const mongo = await connectMongo(endpoints, { commandTimeoutMs });
  await ensureIndexes(mongo.db);
  const tracing = processTracing();
  if (tracing) traceMongoCommands(mongo.client, tracing.tracer);
  const verifierPool = new VerifierPool(verifierPoolConfigFromEnv());
  const metrics = melMetrics(
    () => Runtime.instance().metricMeter,
    (error) => log.warn({ err: error }, 'a metric could not be recorded'),
  );
  const engine = observedEngine(
    createPolicyEngine(endpoints, process.env, {
      pollTimeoutMs: Math.min(60_000, liveness.stallTimeoutMs / 2),
    }),
    metrics.engineCall,
    tracing?.tracer,
  );
  return { mongo, engine, endpoints, verifierPool, liveness, metrics, ...(tracing ? { tracing } : {}) };
}

async function activitiesByRole(deps: ActivityDeps): Promise<Record<TaskQueueRole, object>> {
  const tokenizer = await loadModelTokenizer(deps.endpoints.baseModel);
  const reflectionConfig = reflectionEngineConfig();
  const shared = {
    db: deps.mongo.db,
    engine: deps.engine,
    engineId: engineIdOf(deps.endpoints),
    tokenizer,
    baseModel: deps.endpoints.baseModel,
    metricsDir: metricsDirFromEnv(),
    trackers: trackersFromEnv(),
    compareSymbolically: deps.verifierPool.compare,
    liveness: deps.liveness,
    metrics: deps.metrics,
    ...(reflectionConfig.kind === 'openai-compatible'
      ? { reflection: createReflectionEngine(reflectionConfig) }
      : {}),
  };
  const smoke = attemptsUnderLiveness(deps.liveness, createSmokeActivities(shared));
  const mel = createMelActivities(shared);
  return { cpu: mel.cpu, gpuInference: { ...smoke, ...mel.gpuInference }, gpuTraining: mel.gpuTraining };
}

/** `<role>/<pid>@<host>`: which process on which machine polled a task, as the Temporal UI shows it. */
export function workerIdentity(role: TaskQueueRole): string {
  return `${role}/${process.pid}@${hostname()}`;
}

export interface WorkerSetOptions {
  /** The deployment version the workers declare; by default from the environment (workers/versioning.ts). */
  deployment?: WorkerDeploymentVersion;
  /** Workflow interceptor modules added to the workflow bundle. */
  workflowInterceptorModules?: string[];
}

export async function createWorkers(
  connection: NativeConnection,
  deps: ActivityDeps,
  roles: TaskQueueRole[] = ALL_ROLES,
  options: WorkerSetOptions = {},
): Promise<Worker[]> {
  const settings = workerEnvSchema.parse(process.env);
  const deployment = options.deployment ?? workerDeploymentFromEnv();
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
        taskQueue: TASK_QUEUES[role],
        identity: workerIdentity(role),
        ...(role === 'cpu' ? { workflowsPath: WORKFLOWS_PATH } : {}),
        ...(hasActivities ? { activities: activities[role] } : {}),
        interceptors: {
          activity: [engineRefusalInterceptors],
          ...(options.workflowInterceptorModules
            ? { workflowModules: options.workflowInterceptorModules }
            : {}),
        },
        ...versioningOptions(deployment),
        ...(deps.tracing ? { plugins: [deps.tracing.plugin] } : {}),
        maxConcurrentActivityTaskExecutions: maxConcurrent[role],
        shutdownGraceTime: `${settings.MEL_WORKER_SHUTDOWN_GRACE_S}s`,
      }),
    );
  }
  return workers;
}

/**
 * Once the workers poll: the first versioned deploy of a deployment becomes its current version by itself
 * (workers/versioning.ts); a later one is rolled out by hand.
 */
export async function promoteFirstDeployment(
  connection: NativeConnection,
  namespace: string,
  workers: Worker[],
): Promise<void> {
  const deployment = workers[0]?.options.workerDeploymentOptions;
  if (!deployment?.useWorkerVersioning) return;
  await promoteFirstVersion(connection.workflowService, namespace, deployment.version, {
    identity: `promote/${process.pid}@${hostname()}`,
    log,
  });
}
