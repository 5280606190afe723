import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../common/env.js';
import { createLogger } from '../../common/logger.js';
import { connectMongo, type MongoHandle } from '../../store/mongo.js';
import { Stack } from '../../stack/stack.js';
import type { StageName } from '../../temporal/contracts/run.js';
import { currentProgress, followRun, startRun } from '../../temporal/client.js';
import { signalProcessGroup, spawnWorkerProcess } from '../../workers/process.js';
import { expectCompleteRun, shortRunConfig } from './mel-support.js';
import { client, endpoints, startWorkers } from './support.js';

const ENGINE_STAGES: StageName[] = ['rollout', 'summarize', 'validate', 'policy-update'];

/** A worker in its own process (and process group), as `npm run worker` runs it. */
function spawnWorker(name: string): ChildProcess {
  return spawnWorkerProcess({ logFile: path.join(loadEnv().MEL_STACK_DIR, `${name}.log`) });
}

async function waitForStage(temporal: Client, runId: string, step: number, stages: StageName[]) {
  await expect
    .poll(
      async () => {
        const progress = await currentProgress(temporal, runId).catch(() => undefined);
        return (
          progress?.status.currentStep === step &&
          progress.stage !== undefined &&
          stages.includes(progress.stage)
        );
      },
      { timeout: 240_000, interval: 200 },
    )
    .toBe(true);
}

describe('MEL training survives crashes', () => {
  let temporal: Client;
  let mongo: MongoHandle;

  beforeAll(async () => {
    temporal = await client();
    mongo = await connectMongo(endpoints);
  });

  afterAll(async () => {
    await temporal?.connection.close();
    await mongo?.close();
  });

  // Each about 2 minutes on an idle 2-core machine (the real engine); over 4.5 on a loaded one.
  it(
    'completes with the same guarantees after the worker process is killed with -9 mid-step',
    { timeout: 600_000 },
    async () => {
      const config = shortRunConfig();
      const first = spawnWorker('crash-worker-1');
      let replacement: ChildProcess | undefined;
      try {
        await startRun(temporal, config);
        await waitForStage(temporal, config.runId, 1, ENGINE_STAGES);
        signalProcessGroup(first);
        replacement = spawnWorker('crash-worker-2');
        const status = await followRun(temporal, config.runId, () => undefined);
        expect(status.phase).toBe('completed');
        await expectCompleteRun(mongo.db, config, status.policy!);
      } finally {
        for (const child of [first, replacement]) if (child) signalProcessGroup(child);
      }
    },
  );

  it(
    'completes with the same guarantees after the Temporal server is killed and restarted mid-run',
    { timeout: 600_000 },
    async () => {
      const config = shortRunConfig();
      const stack = await Stack.prepare(createLogger('test'));
      const workers = await startWorkers();
      try {
        await startRun(temporal, config);
        await waitForStage(temporal, config.runId, 1, ENGINE_STAGES);
        await stack.crashAndRestart('temporal');
        const status = await followRun(temporal, config.runId, () => undefined);
        expect(status.phase).toBe('completed');
        await expectCompleteRun(mongo.db, config, status.policy!);
      } finally {
        await workers.stop();
      }
    },
  );
});
