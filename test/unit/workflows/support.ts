/**
 * What the workflow unit tests share: the workflows' path, the Temporal CLI the local test server runs on, and a
 * test environment with workers whose activities are fakes.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { IllegalStateError } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { loadEnv } from '../../../common/env.js';
import { cachePaths } from '../../../stack/install.js';
import { SEARCH_ATTRIBUTES, TASK_QUEUES } from '../../../temporal/contracts/common.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../../../workflows/index.ts', import.meta.url));

/**
 * The Temporal CLI the stack installs (`.cache/bin/temporal`, or `temporal` on PATH, as stack/install.ts picks it).
 * Nothing is downloaded: without it the tests fail and say how to install it.
 */
export function temporalCliPath(): string {
  const installed = cachePaths(loadEnv()).temporalCli;
  if (existsSync(installed)) return installed;
  const onPath = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, 'temporal'))
    .find((candidate) => existsSync(candidate));
  if (onPath) return onPath;
  throw new Error(
    `no Temporal CLI at ${installed} nor on PATH: the workflow tests run a local Temporal test server on it. ` +
      'Install it with `npm run stack -- up` (`npm test` installs it before running the tests).',
  );
}

/** The SDK's own logs at WARN and above only (one Runtime per process; a second install is a no-op). */
export function installQuietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch (error) {
    if (!(error instanceof IllegalStateError)) throw error;
  }
}

/**
 * A local Temporal server on the stack's CLI with the project's search attributes, and one worker per task queue
 * running the project's workflows (on the cpu queue) and the given activities (on every queue).
 */
export async function startWorkflowTestEnv(activities: object): Promise<WorkflowTestEnv> {
  installQuietRuntime();
  const path = temporalCliPath();
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path }, searchAttributes: SEARCH_ATTRIBUTES },
  });
  try {
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      logger: new DefaultLogger('WARN'),
    });
    const workers = await Promise.all(
      Object.values(TASK_QUEUES).map((taskQueue) =>
        Worker.create({
          connection: env.nativeConnection,
          taskQueue,
          activities,
          ...(taskQueue === TASK_QUEUES.cpu ? { workflowBundle } : {}),
        }),
      ),
    );
    const running = workers.map((worker) => worker.run());
    return {
      env,
      client: env.client,
      async teardown() {
        for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
        await Promise.allSettled(running);
        await env.teardown();
      },
    };
  } catch (error) {
    await env.teardown();
    throw error;
  }
}

export interface WorkflowTestEnv {
  env: TestWorkflowEnvironment;
  client: Client;
  teardown(): Promise<void>;
}

/**
 * Polls `read` until `until` holds, then returns that value; fails after `timeoutMs`. A read that throws is
 * retried (a query sent while an execution is just starting can fail).
 */
export async function eventually<T>(
  read: () => Promise<T>,
  until: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    try {
      const value = await read();
      if (until(value)) return value;
      last = JSON.stringify(value);
    } catch (error) {
      last = `error: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms; last read: ${last}`);
    await sleep(50);
  }
}
