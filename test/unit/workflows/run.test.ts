/**
 * melRunWorkflow and melStepWorkflow on a local Temporal server, with fake activities: the status query, the
 * pause / resume / stop updates and what their validators refuse, a failed step, continue-as-new. Seconds, no stack.
 */
import {
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_QUEUES } from '../../../temporal/contracts/common.js';
import {
  pauseUpdate,
  resumeUpdate,
  runWorkflowId,
  statusQuery,
  stopUpdate,
  type MelRunInput,
  type RunStatus,
  STAGES,
  REFLECTION_STAGES,
} from '../../../temporal/contracts/run.js';
import { failureChain } from '../../../temporal/errors.js';
import { parseRunConfig, type RunMode } from '../../../mel/run-config.js';
import type { melRunWorkflow } from '../../../workflows/run.js';
import { FakeMel, fakeDataPin, fakePolicy, invalidInput, stageKey } from './fake-activities.js';
import { eventually, startWorkflowTestEnv, type WorkflowTestEnv } from './support.js';

const fake = new FakeMel();
let testEnv: WorkflowTestEnv;
let client: Client;

beforeAll(async () => {
  testEnv = await startWorkflowTestEnv(fake.activities);
  client = testEnv.client;
}, 120_000);

afterAll(async () => {
  await testEnv?.teardown();
}, 60_000);

type RunHandle = WorkflowHandle<typeof melRunWorkflow>;

async function startRun(
  runId: string,
  totalSteps: number,
  options: Pick<MelRunInput, 'continueAsNewAfterSteps'> = {},
  mode: RunMode = 'mel',
): Promise<RunHandle> {
  const config = parseRunConfig({
    runId,
    mode,
    steps: totalSteps,
    batchSize: 2,
    groupSize: 4,
    sampling: {
      rollout: { temperature: 1, maxTokens: 64 },
      reflection: { temperature: 0.05, maxTokens: 128 },
      validation: { temperature: 0.3, maxTokens: 64 },
    },
    lora: { rank: 8 },
    optimizer: { learningRate: 1e-4 },
  });
  return client.workflow.start<typeof melRunWorkflow>('melRunWorkflow', {
    taskQueue: TASK_QUEUES.cpu,
    workflowId: runWorkflowId(runId),
    args: [{ runId, totalSteps, config, data: fakeDataPin, ...options }],
  });
}

const status = (handle: RunHandle) => handle.query(statusQuery);
// As the CLI sends them (cli/run-commands.ts): the reason is optional.
const withReason = (name: string) => (handle: RunHandle, reason?: string) =>
  handle.executeUpdate<RunStatus, [string | undefined]>(name, { args: [reason] });
const pause = withReason(pauseUpdate.name);
const stop = withReason(stopUpdate.name);
const resume = (handle: RunHandle) => handle.executeUpdate(resumeUpdate);

/** The reason an update was refused (its validator threw), or a failure of the test if it was accepted. */
async function refusal(update: Promise<RunStatus>): Promise<string> {
  const error: unknown = await update.then(
    (accepted) => new Error(`update accepted: ${JSON.stringify(accepted)}`),
    (refused: unknown) => refused,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  return failureChain(error);
}

describe('melRunWorkflow: status and controls', { timeout: 60_000 }, () => {
  it('reports its phase, pauses between steps, resumes, and stops after the step in flight', async () => {
    const runId = 'controls';
    const releaseRegister = fake.hold(`${runId}/registerRun`);
    const releaseStep0 = fake.hold(stageKey(runId, 0, 'rollout'));
    const handle = await startRun(runId, 3);

    await fake.called(`${runId}/registerRun`);
    expect(await status(handle)).toMatchObject({ runId, totalSteps: 3, phase: 'starting', nextStep: 0 });
    releaseRegister();

    await fake.called(stageKey(runId, 0, 'rollout'));
    const running = await eventually(
      () => status(handle),
      (s) => s.currentStep === 0,
    );
    expect(running).toMatchObject({ phase: 'running', nextStep: 0, paused: false, stopRequested: false });
    expect(running.policy).toEqual(fakePolicy(runId, 0));

    // Pause while step 0 runs: the step finishes, step 1 does not start.
    const paused = await pause(handle, 'look at step 0');
    expect(paused).toMatchObject({ phase: 'paused', paused: true, pauseReason: 'look at step 0' });
    expect(await refusal(pause(handle))).toContain(`run ${runId} is already paused`);
    releaseStep0();
    const between = await eventually(
      () => status(handle),
      (s) => s.nextStep === 1,
    );
    expect(between).toMatchObject({ phase: 'paused', lastStep: { step: 0 } });
    expect(between.currentStep).toBeUndefined();
    expect(between.policy).toEqual(fakePolicy(runId, 1));
    expect(fake.count(stageKey(runId, 1, 'rollout'))).toBe(0);

    // Resume: step 1 starts; resuming again is refused.
    const releaseStep1 = fake.hold(stageKey(runId, 1, 'rollout'));
    const resumed = await resume(handle);
    expect(resumed).toMatchObject({ phase: 'running', paused: false });
    expect(resumed.pauseReason).toBeUndefined();
    expect(await refusal(resume(handle))).toContain(`run ${runId} is not paused`);
    await fake.called(stageKey(runId, 1, 'rollout'));

    // Stop while step 1 runs: it finishes, step 2 never starts; stopping twice is refused.
    const stopping = await stop(handle, 'enough');
    expect(stopping).toMatchObject({ phase: 'stopping', stopRequested: true, pauseReason: 'enough' });
    expect(await refusal(stop(handle))).toContain(`run ${runId} is already stopping`);
    releaseStep1();

    const final = await handle.result();
    expect(final).toMatchObject({
      phase: 'stopped',
      nextStep: 2,
      lastStep: { step: 1 },
    });
    expect(final.currentStep).toBeUndefined();
    expect(final.policy).toEqual(fakePolicy(runId, 2));
    expect(fake.count(stageKey(runId, 2, 'rollout'))).toBe(0);
    expect(fake.released).toContainEqual(fakePolicy(runId, 2));

    // The run has ended: no update reaches it any more.
    await expect(pause(handle)).rejects.toThrow();
  });

  it('a pause before the first step holds the run until resumed; a stop while paused ends it', async () => {
    const runId = 'paused-at-start';
    const releaseInit = fake.hold(`${runId}/initPolicy`);
    const handle = await startRun(runId, 2);
    await fake.called(`${runId}/initPolicy`);
    await pause(handle);
    releaseInit();
    const paused = await eventually(
      () => status(handle),
      (s) => s.policy !== undefined,
    );
    expect(paused).toMatchObject({ phase: 'paused', pauseReason: 'paused by request', nextStep: 0 });
    expect(fake.count(stageKey(runId, 0, 'rollout'))).toBe(0);

    await stop(handle);
    const final = await handle.result();
    expect(final).toMatchObject({ phase: 'stopped', nextStep: 0, pauseReason: 'stopped by request' });
    expect(fake.count(stageKey(runId, 0, 'rollout'))).toBe(0);
  });
});

describe('melRunWorkflow: a failed step', { timeout: 60_000 }, () => {
  it('pauses the run with the error; resume retries that step and the run completes', async () => {
    const runId = 'failed-step';
    const key = stageKey(runId, 1, 'policy-update');
    fake.fail(key, () => invalidInput('the engine refused the update'));
    const handle = await startRun(runId, 3);

    const failed = await eventually(
      () => status(handle),
      (s) => s.lastError !== undefined,
    );
    expect(failed).toMatchObject({
      phase: 'paused',
      paused: true,
      pauseReason: 'step 1 failed',
      nextStep: 1,
      lastStep: { step: 0 },
      lastError: { step: 1 },
    });
    expect(failed.currentStep).toBeUndefined();
    // The whole chain: child workflow → activity → the activity's own message.
    expect(failed.lastError!.message).toMatch(
      /^Child Workflow execution failed: .*the engine refused the update$/,
    );
    expect(fake.count(key)).toBe(1); // non-retryable: no second attempt
    expect(await refusal(pause(handle))).toContain('is already paused');

    fake.heal(key);
    await resume(handle);
    const final = await handle.result();
    expect(final).toMatchObject({ phase: 'completed', nextStep: 3, lastStep: { step: 2 }, paused: false });
    expect(final.lastError).toBeUndefined();
    expect(final.policy).toEqual(fakePolicy(runId, 3));
    // Step 1 ran again from its first stage, from the same policy.
    expect(fake.count(stageKey(runId, 1, 'rollout'))).toBe(2);
    expect(fake.count(key)).toBe(2);
    expect(fake.updatesFrom.get(runId)?.map((p) => p.updates)).toEqual([0, 1, 2]);
  });

  it('a transient activity failure is retried by its retry policy and does not pause the run', async () => {
    const runId = 'transient';
    const key = stageKey(runId, 0, 'verify');
    fake.fail(key, () => ApplicationFailure.retryable('MongoDB is restarting', 'MongoNetworkError'), {
      once: true,
    });
    const handle = await startRun(runId, 1);
    const final = await handle.result();
    expect(final).toMatchObject({ phase: 'completed', nextStep: 1, paused: false });
    expect(final.lastError).toBeUndefined();
    expect(fake.count(key)).toBe(2);
  });
});

describe('melStepWorkflow: the GRPO baseline', { timeout: 60_000 }, () => {
  it('runs every stage in mel mode and skips the reflection stages in grpo mode', async () => {
    await startRun('full-mel', 1).then((handle) => handle.result());
    await startRun('grpo-only', 1, {}, 'grpo').then((handle) => handle.result());
    const ran = (runId: string) => STAGES.filter((stage) => fake.count(stageKey(runId, 0, stage)) > 0);

    expect(ran('full-mel')).toEqual([...STAGES]);
    expect(ran('grpo-only')).toEqual(STAGES.filter((stage) => !REFLECTION_STAGES.includes(stage as never)));
  });
});

describe('melRunWorkflow: a failed start', { timeout: 60_000 }, () => {
  it('an initPolicy failure pauses the run with the error; resume retries the start and the run completes', async () => {
    const runId = 'failed-init';
    const key = `${runId}/initPolicy` as const;
    fake.fail(key, () =>
      invalidInput('data set /data/train.jsonl changed since run failed-init was started'),
    );
    const handle = await startRun(runId, 2);

    const failed = await eventually(
      () => status(handle),
      (s) => s.lastError !== undefined,
    );
    expect(failed).toMatchObject({
      phase: 'paused',
      paused: true,
      pauseReason: 'the run failed to start',
      nextStep: 0,
      lastError: { step: 0, starting: true },
    });
    expect(failed.policy).toBeUndefined();
    expect(failed.lastError!.message).toMatch(/^Activity task failed: .*changed since run failed-init/);
    expect(fake.count(key)).toBe(1); // non-retryable: no second attempt
    expect(fake.count(stageKey(runId, 0, 'rollout'))).toBe(0);
    // The data set pin of the workflow's input reached the activity that records it with the run.
    expect(fake.registered.get(runId)).toEqual(fakeDataPin);

    fake.heal(key);
    await resume(handle);
    const final = await handle.result();
    expect(final).toMatchObject({ phase: 'completed', nextStep: 2, paused: false });
    expect(final.lastError).toBeUndefined();
    expect(fake.count(`${runId}/registerRun`)).toBe(2);
    expect(fake.count(key)).toBe(2);
  });

  it('a stop while paused on a failed start ends the run without a step', async () => {
    const runId = 'failed-init-stopped';
    fake.fail(`${runId}/initPolicy`, () => invalidInput('no engine model'));
    const handle = await startRun(runId, 2);
    await eventually(
      () => status(handle),
      (s) => s.phase === 'paused',
    );
    await stop(handle, 'give up');
    const final = await handle.result();
    expect(final).toMatchObject({ phase: 'stopped', nextStep: 0, pauseReason: 'give up' });
    expect(final.policy).toBeUndefined();
    expect(fake.count(stageKey(runId, 0, 'rollout'))).toBe(0);
  });

  it('a registration refused for good fails the run: there is no run to resume', async () => {
    const runId = 'refused';
    fake.fail(`${runId}/registerRun`, () =>
      invalidInput('run refused already exists with a different configuration; choose a new runId'),
    );
    const handle = await startRun(runId, 1);
    const error: unknown = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(failureChain(error)).toContain('already exists with a different configuration');
    expect(fake.count(`${runId}/registerRun`)).toBe(1);
    expect(fake.count(`${runId}/initPolicy`)).toBe(0);
  });
});

describe('melRunWorkflow: continue-as-new', { timeout: 60_000 }, () => {
  it('carries the run state into the next execution and finishes with the right total', async () => {
    const runId = 'continued';
    const handle = await startRun(runId, 4, { continueAsNewAfterSteps: 1 });
    const final = await handle.result();
    expect(final).toMatchObject({ phase: 'completed', nextStep: 4, totalSteps: 4, lastStep: { step: 3 } });
    expect(final.policy).toEqual(fakePolicy(runId, 4));

    // Registered and initialised once; each step started from the policy the previous one produced.
    expect(fake.count(`${runId}/registerRun`)).toBe(1);
    expect(fake.count(`${runId}/initPolicy`)).toBe(1);
    expect(fake.updatesFrom.get(runId)).toEqual([0, 1, 2, 3].map((n) => fakePolicy(runId, n)));
    expect(fake.released.filter((p) => p.modelId.startsWith(`fake-${runId}-`))).toEqual([
      fakePolicy(runId, 4),
    ]);

    // One execution per step; each continued with the next step and the policy of the step before.
    const carried = await continuedStates(runId);
    expect(carried.map((c) => [c.nextStep, c.policy?.updates])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
  });

  it('a pause requested during a step holds the continued execution', async () => {
    const runId = 'continued-paused';
    const release = fake.hold(stageKey(runId, 0, 'rollout'));
    const handle = await startRun(runId, 2, { continueAsNewAfterSteps: 1 });
    await fake.called(stageKey(runId, 0, 'rollout'));
    await pause(handle, 'hold');
    release();

    const [carried] = await eventually(
      () => continuedStates(runId),
      (states) => states.length === 1,
    );
    expect(carried).toMatchObject({ nextStep: 1, paused: true, pauseReason: 'hold' });
    const paused = await eventually(
      () => status(handle),
      (s) => s.phase === 'paused',
    );
    expect(paused).toMatchObject({ pauseReason: 'hold', nextStep: 1 });
    expect(paused.currentStep).toBeUndefined();
    expect(fake.count(stageKey(runId, 1, 'rollout'))).toBe(0);

    await resume(handle);
    expect(await handle.result()).toMatchObject({ phase: 'completed', nextStep: 2 });
  });
});

/** The `carried` state of each continue-as-new of a run's workflow, oldest first, read from the histories. */
async function continuedStates(runId: string): Promise<NonNullable<MelRunInput['carried']>[]> {
  const states: NonNullable<MelRunInput['carried']>[] = [];
  let runIdOfExecution: string | undefined = (
    await client.workflow.getHandle(runWorkflowId(runId)).describe()
  ).runId;
  while (runIdOfExecution) {
    const history: Awaited<ReturnType<RunHandle['fetchHistory']>> = await client.workflow
      .getHandle(runWorkflowId(runId), runIdOfExecution)
      .fetchHistory();
    const events = history.events ?? [];
    const continued = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes;
    if (continued) {
      const [input] = continued.input?.payloads ?? [];
      states.unshift(defaultPayloadConverter.fromPayload<MelRunInput>(input!).carried!);
    }
    runIdOfExecution =
      events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
  }
  return states;
}
