/**
 * Worker Versioning: a run starts on build A; build B, whose workflow code is not replay-compatible with A
 * (worker-versioning-build-b.ts), is deployed and made current while a step runs. The step in flight completes on
 * A, the run workflow moves to B by continue-as-new at the next step boundary, and the run finishes on B without a
 * single failed workflow task, with one optimizer update per step.
 *
 * The server is a Temporal of its own on the stack's CLI: a deployment's routing belongs to its task queues, and
 * the stack's shared queues must stay unversioned for every other test (and for the user's runs on the same stack).
 */
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../../temporal/contracts/common.js';
import { runWorkflowId, stepWorkflowId, statusQuery } from '../../temporal/contracts/run.js';
import { followRun, startRun } from '../../temporal/client.js';
import { setCurrentVersion } from '../../workers/versioning.js';
import { startWorkersInProcess, type InProcessWorkers } from '../../workers/in-process.js';
import { eventually, temporalCliPath } from '../unit/workflows/support.js';
import { expectCompleteRun, shortRunConfig } from './mel-support.js';
import { doubleOptimizerSteps, uniqueId, useEngineDouble } from './support.js';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const BUILD_B_INTERCEPTORS = fileURLToPath(new URL('./worker-versioning-build-b.ts', import.meta.url));

describe('Worker Versioning: a run started on one build finishes on the next', () => {
  // Each policy update takes a few seconds, so build B becomes current while a step is in flight.
  const engine = useEngineDouble({ latency: { optimStepMs: 3_000 } });
  let server: TestWorkflowEnvironment;
  let temporalClient: Client;
  const workers: InProcessWorkers[] = [];

  beforeAll(async () => {
    server = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalCliPath() },
        searchAttributes: SEARCH_ATTRIBUTES,
      },
    });
    temporalClient = server.client;
  });
  afterAll(async () => {
    for (const set of workers) await set.stop();
    await server?.teardown();
  });

  it('keeps each step on the build it started on and moves the run at a step boundary', async () => {
    const deploymentName = uniqueId('mel-deploy');
    const endpoints = { ...engine.endpoints, temporalAddress: server.address, temporalNamespace: 'default' };
    const config = shortRunConfig({ steps: 5, batchSize: 2 });

    // Build A: the first version of the deployment becomes current by itself.
    workers.push(
      await startWorkersInProcess(endpoints, undefined, undefined, {
        deployment: { deploymentName, buildId: 'A' },
      }),
    );
    const handle = await startRun(temporalClient, config);
    const runHandle = temporalClient.workflow.getHandle(runWorkflowId(config.runId));
    await eventually(
      () => runHandle.query(statusQuery),
      (status) => status.currentStep === 1,
      120_000,
    );

    // Build B is deployed and rolled out while step 1 runs.
    const buildB = { deploymentName, buildId: 'B' };
    workers.push(
      await startWorkersInProcess(endpoints, undefined, undefined, {
        deployment: buildB,
        workflowInterceptorModules: [BUILD_B_INTERCEPTORS],
      }),
    );
    await setCurrentVersion(temporalClient.connection.workflowService, 'default', buildB, {
      identity: 'test',
    });
    const inFlight = (await runHandle.query(statusQuery)).currentStep;

    const status = await followRun(temporalClient, config.runId, () => undefined);
    expect(status.phase).toBe('completed');

    const runBuilds = await runExecutionBuilds(
      temporalClient,
      runWorkflowId(config.runId),
      handle.firstExecutionRunId,
    );
    expect(runBuilds[0]).toBe('A');
    expect(runBuilds.at(-1)).toBe('B');
    expect(isAThenB(runBuilds)).toBe(true);

    const stepHistories = await Promise.all(
      [...Array(config.steps).keys()].map((step) =>
        temporalClient.workflow.getHandle(stepWorkflowId(config.runId, step)).fetchHistory(),
      ),
    );
    const stepBuilds = stepHistories.map((history) => {
      const builds = new Set(buildsOf(history.events ?? []));
      expect(builds.size).toBe(1); // pinned: every workflow task of a step on one build
      return [...builds][0]!;
    });
    console.info(
      `run executions on ${runBuilds.join(' ')}; steps on ${stepBuilds.join(' ')}; in flight: ${inFlight}`,
    );
    expect(stepBuilds[0]).toBe('A');
    if (inFlight !== undefined) expect(stepBuilds[inFlight]).toBe('A');
    expect(stepBuilds.at(-1)).toBe('B');
    expect(isAThenB(stepBuilds)).toBe(true);

    // B's code really differs: its steps scheduled a timer before each activity, A's none.
    stepHistories.forEach((history, step) => {
      const timers = (history.events ?? []).filter((event) => event.timerStartedEventAttributes).length;
      if (stepBuilds[step] === 'B') expect(timers).toBeGreaterThan(0);
      else expect(timers).toBe(0);
    });
    for (const history of stepHistories) {
      expect((history.events ?? []).filter((event) => event.workflowTaskFailedEventAttributes)).toEqual([]);
    }

    await expectCompleteRun(
      workers[0]!.deps.mongo.db,
      config,
      status.policy!,
      doubleOptimizerSteps(engine.double),
    );
  });
});

/** The build that completed each workflow task of a history. */
function buildsOf(events: HistoryEvent[]): string[] {
  return events.flatMap((event) => {
    const buildId = event.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId;
    return buildId ? [buildId] : [];
  });
}

/** The build of each execution of a continue-as-new chain, in order; no execution may have a failed task. */
async function runExecutionBuilds(client: Client, workflowId: string, firstRunId: string): Promise<string[]> {
  const builds: string[] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history: { events?: HistoryEvent[] | null } = await client.workflow
      .getHandle(workflowId, runId)
      .fetchHistory();
    const events = history.events ?? [];
    expect(events.filter((event) => event.workflowTaskFailedEventAttributes)).toEqual([]);
    const executionBuilds = new Set(buildsOf(events));
    expect(executionBuilds.size).toBe(1);
    builds.push([...executionBuilds][0]!);
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return builds;
}

/** A, …, A, then B, …, B: nothing moved back. */
function isAThenB(builds: string[]): boolean {
  return /^A*B*$/.test(builds.join(''));
}
