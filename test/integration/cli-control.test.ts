/**
 * The operator's control loop against the real stack: train --detach, pause, a step that fails (a controlled
 * fault: the run's stored data-set path is pointed at a missing file, which the rollout rejects as non-retryable),
 * the error in `mel status`, the fix, resume (the failed step is retried and completes), and stop. The workers
 * train on the engine double: what is tested is the control loop, which no engine behaviour should change. Its
 * latency model makes each step take several seconds (creating, loading and saving models), so a pause or stop
 * sent while a step runs lands in that step, as it would on a real engine.
 */
import type { Client } from '@temporalio/client';
import type { Collection } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../cli/run-state.js';
import type { RunDoc, StepDoc } from '../../store/documents.js';
import { COLLECTIONS } from '../../store/mongo.js';
import { stepWorkflowId } from '../../temporal/contracts/run.js';
import { mel, melJson, melOk, waitForStatus, writeConfigFile } from './cli-support.js';
import { shortRunConfig } from './mel-support.js';
import { client, startWorkers, useEngineDouble } from './support.js';

describe('mel pause / resume / stop and a failed step, end to end', () => {
  const engine = useEngineDouble({ latency: { createMs: 10_000, loadMs: 1_000, saveMs: 1_000 } });
  let temporal: Client;
  let workers: Awaited<ReturnType<typeof startWorkers>>;
  let runs: Collection<RunDoc>;
  // Steps enough that the stop, sent by a CLI process after another polled the status, finds one still to run
  // on a loaded machine (it arrived after the last step once, with 3).
  const config = shortRunConfig({ steps: 6, batchSize: 2 });
  const runId = config.runId;
  const missingDataset = `/nonexistent/${runId}/problems.jsonl`;

  beforeAll(async () => {
    temporal = await client();
    workers = await startWorkers(undefined, engine.endpoints);
    runs = workers.deps.mongo.db.collection<RunDoc>(COLLECTIONS.runs);
  });

  afterAll(async () => {
    // Leave nothing running on the shared stack, whatever happened above.
    await mel(['stop', runId, '--reason', 'test cleanup']);
    await workers?.stop();
    await temporal?.connection.close();
  });

  it('pauses on a failed step with the error in status, resumes into the same step after the fix, stops', async () => {
    const file = await writeConfigFile(config);
    expect(await melOk(['train', file, '--detach'])).toContain(`started run ${runId}`);

    expect(await melOk(['train', file, '--detach'])).toContain(`attached to run ${runId}`);

    const paused = await melJson<{ paused: boolean; pauseReason: string }>([
      'pause',
      runId,
      '--reason',
      'maintenance',
    ]);
    expect(paused).toMatchObject({ paused: true, pauseReason: 'maintenance' });
    const again = await mel(['pause', runId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is already paused');

    const idle = await waitForStatus<StatusReport>(
      runId,
      (s) => s.run?.phase === 'paused' && s.run.currentStep === undefined,
    );
    const faultStep = idle.run!.nextStep;
    expect(faultStep).toBeLessThan(config.steps - 1);

    await runs.updateOne({ _id: runId }, { $set: { 'config.dataset.source': missingDataset } });
    expect((await mel(['resume', runId])).code).toBe(0);
    const failed = await waitForStatus<StatusReport>(runId, (s) => s.run?.lastError !== undefined);
    expect(failed.run).toMatchObject({ phase: 'paused', paused: true, nextStep: faultStep });
    expect(failed.run!.lastError!.step).toBe(faultStep);
    expect(failed.run!.currentStep).toBeUndefined();
    expect(failed.run!.lastError!.message).toContain(missingDataset);

    const text = await mel(['status', runId]);
    expect(text.stdout).toMatch(new RegExp(`last error: +step ${faultStep}: .*${missingDataset}`));
    expect(text.stdout).toContain(`fix the cause, then: mel resume ${runId}`);

    await runs.updateOne({ _id: runId }, { $set: { 'config.dataset.source': config.dataset.source } });
    expect((await mel(['resume', runId])).code).toBe(0);
    await waitForStatus<StatusReport>(
      runId,
      (s) => s.run?.currentStep === faultStep || s.run!.nextStep > faultStep,
    );
    const stopping = await melJson<{ stopRequested: boolean }>(['stop', runId, '--reason', 'enough']);
    expect(stopping.stopRequested).toBe(true);

    const stopped = await waitForStatus<StatusReport>(
      runId,
      (s) => s.workflow?.executionStatus === 'COMPLETED',
    );
    // The stop ends the run after the step it finds running: the fault step, or the next one when that had finished.
    expect(stopped.run!.phase).toBe('stopped');
    expect(stopped.run!.nextStep).toBeGreaterThan(faultStep);
    expect(stopped.run!.lastError).toBeUndefined();
    expect(stopped.recentMetrics.map((m) => m.step)).toEqual([...Array(stopped.run!.nextStep).keys()]);

    const resumeStopped = await mel(['resume', runId]);
    expect(resumeStopped.code).toBe(1);
    expect(resumeStopped.stderr).toContain(`cannot resume run ${runId}: it is not running`);

    // The failed attempt and the retry are two executions of the same step workflow.
    const step = await workers.deps.mongo.db
      .collection<StepDoc>(COLLECTIONS.steps)
      .findOne({ runId, step: faultStep });
    expect(step?.update?.policyAfter.updates).toBe(faultStep + 1);
    const executions: string[] = [];
    for await (const e of temporal.workflow.list({
      query: `WorkflowId = "${stepWorkflowId(runId, faultStep)}"`,
    })) {
      executions.push(e.status.name);
    }
    expect(executions.sort()).toEqual(['COMPLETED', 'FAILED']);
  });
});
