/**
 * Worker Versioning (Temporal's Worker Deployments). With TEMPORAL_DEPLOYMENT_NAME set, every worker declares the
 * deployment version `<deployment name>` + `<build id>` (TEMPORAL_WORKER_BUILD_ID, by default the git revision),
 * and Temporal routes each workflow to the version it started on: a workflow is pinned and completes on the code it
 * began with, so a deploy during a multi-day run cannot cause a nondeterminism error. The run workflow moves to a
 * new current version at its next step boundary, by continue-as-new (workflows/run.ts).
 *
 * The variable names are those Temporal's worker controller sets for a versioned worker.
 */
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { NativeConnection } from '@temporalio/worker';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ConfigError } from '../common/env.js';
import { gitRevision, type GitRevision } from '../common/git-revision.js';
import type { Logger } from '../common/logger.js';

const versioningEnvSchema = z.object({
  TEMPORAL_DEPLOYMENT_NAME: z
    .string()
    .trim()
    .regex(/^[^.\s]+$/, 'no dots or spaces (Temporal joins the name and the build id with a dot)')
    .max(200)
    .optional()
    .or(z.literal('').transform(() => undefined)),
  TEMPORAL_WORKER_BUILD_ID: z
    .string()
    .trim()
    .regex(/^\S+$/, 'no spaces')
    .max(200)
    .optional()
    .or(z.literal('').transform(() => undefined)),
});

/** `<commit>`, or `<commit>-dirty-<digest of the changes>` so that every edited tree is a version of its own. */
export function buildIdOf(revision: GitRevision): string {
  return revision.changesDigest ? `${revision.commit}-dirty-${revision.changesDigest}` : revision.commit;
}

/** The version this process's workers declare, or undefined when versioning is off (no deployment name). */
export function workerDeploymentFromEnv(
  source: NodeJS.ProcessEnv = process.env,
  revision: () => GitRevision | undefined = gitRevision,
): WorkerDeploymentVersion | undefined {
  const parsed = versioningEnvSchema.safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${issue.path.join('.')}: ${issue.message}`);
  }
  const { TEMPORAL_DEPLOYMENT_NAME: deploymentName, TEMPORAL_WORKER_BUILD_ID: buildId } = parsed.data;
  if (!deploymentName) {
    if (buildId) {
      throw new ConfigError(
        'TEMPORAL_WORKER_BUILD_ID is set but TEMPORAL_DEPLOYMENT_NAME is not: name the deployment to turn on ' +
          'Worker Versioning, or unset the build id',
      );
    }
    return undefined;
  }
  if (buildId) return { deploymentName, buildId };
  const checkout = revision();
  if (!checkout) {
    throw new ConfigError(
      'TEMPORAL_DEPLOYMENT_NAME is set but this checkout has no git revision to use as the build id: ' +
        'set TEMPORAL_WORKER_BUILD_ID',
    );
  }
  return { deploymentName, buildId: buildIdOf(checkout) };
}

/** The worker options that declare the version; every workflow is pinned unless its definition says otherwise. */
export function versioningOptions(version: WorkerDeploymentVersion | undefined) {
  if (!version) return {};
  return {
    workerDeploymentOptions: {
      useWorkerVersioning: true as const,
      version,
      defaultVersioningBehavior: 'PINNED' as const,
    },
  };
}

export function describeVersion({ deploymentName, buildId }: WorkerDeploymentVersion): string {
  return `${deploymentName}/${buildId}`;
}

type WorkflowService = NativeConnection['workflowService'];

/** The deployment's current version, or undefined when it has none (or does not exist yet). */
export async function currentVersion(
  service: WorkflowService,
  namespace: string,
  deploymentName: string,
): Promise<WorkerDeploymentVersion | undefined> {
  try {
    const { workerDeploymentInfo } = await service.describeWorkerDeployment({ namespace, deploymentName });
    const current = workerDeploymentInfo?.routingConfig?.currentDeploymentVersion;
    return current?.buildId ? { deploymentName, buildId: current.buildId } : undefined;
  } catch (error) {
    if (grpcCode(error) === GRPC_NOT_FOUND) return undefined;
    throw error;
  }
}

/**
 * Makes `version` the deployment's current version: new runs start on it, and running runs move to it at their
 * next step boundary. The server knows a version only once its workers poll, so a refusal for that reason is
 * retried for up to `waitMs`.
 */
export async function setCurrentVersion(
  service: WorkflowService,
  namespace: string,
  version: WorkerDeploymentVersion,
  { identity, waitMs = 60_000 }: { identity: string; waitMs?: number },
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await service.setWorkerDeploymentCurrentVersion({ namespace, ...version, identity });
      return;
    } catch (error) {
      const code = grpcCode(error);
      const notYetKnown = code === GRPC_NOT_FOUND || code === GRPC_FAILED_PRECONDITION;
      if (!notYetKnown || Date.now() > deadline) throw error;
      await sleep(500);
    }
  }
}

/**
 * At a worker's start: the first version of a deployment becomes current by itself, so a first deploy needs no
 * manual step. A later version waits to be made current (README, "Worker Versioning"): a rollout is a decision.
 */
export async function promoteFirstVersion(
  service: WorkflowService,
  namespace: string,
  version: WorkerDeploymentVersion,
  { identity, log }: { identity: string; log: Logger },
): Promise<void> {
  const current = await currentVersion(service, namespace, version.deploymentName);
  if (current?.buildId === version.buildId) {
    log.info({ version: describeVersion(version) }, 'this build is the current version of the deployment');
    return;
  }
  if (current) {
    log.info(
      { version: describeVersion(version), current: describeVersion(current) },
      'another build is current: running workflows stay on it; to roll this build out, run ' +
        `temporal worker deployment set-current-version --deployment-name ${version.deploymentName} ` +
        `--build-id ${version.buildId}`,
    );
    return;
  }
  await setCurrentVersion(service, namespace, version, { identity });
  log.info(
    { version: describeVersion(version) },
    'the deployment had no current version: this build is now current',
  );
}

const GRPC_NOT_FOUND = 5;
const GRPC_FAILED_PRECONDITION = 9;

function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
