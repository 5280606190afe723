import { RetryState } from '@temporalio/common';
import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  executeChild,
  log,
  makeContinueAsNewFunc,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { MelPhase, MelRunId, MelStep } from '../temporal/contracts/common.js';
import {
  pauseUpdate,
  resumeUpdate,
  statusQuery,
  stepWorkflowId,
  stopUpdate,
  type MelRunInput,
  type RunPhase,
  type RunState,
  type RunStatus,
  type StepFanOut,
  type StepResult,
} from '../temporal/contracts/run.js';
import type { RunMode } from '../mel/run-config.js';
import { failureChain } from '../temporal/errors.js';
import { cpu, gpuTraining } from './activity-options.js';
import { melStepWorkflow } from './step.js';
import { stepFanOut } from '../mel/fan-out.js';

/** Everything one execution of the run workflow knows. `state` is what continue-as-new carries on. */
interface Run {
  readonly runId: string;
  readonly totalSteps: number;
  readonly mode: RunMode;
  readonly fanOut: StepFanOut;
  /** `checkpoints.keepLast`, when old checkpoints are pruned. */
  readonly keepLast?: number;
  readonly state: RunState;
  phase: RunPhase;
  /** The step whose child workflow is running. */
  currentStep?: number;
  /** `state.nextStep` when this execution began: its steps count towards `continueAsNewAfterSteps`. */
  readonly firstStep: number;
}

/**
 * One MEL training run: registers the run, creates its starting policy, then runs one child workflow per step.
 * Pause, resume and stop are updates; `status` is a query. A step (or the start) that fails after all its retries
 * pauses the run instead of failing it, so nothing is lost: fix the cause, then resume to retry it.
 */
export async function melRunWorkflow(input: MelRunInput): Promise<RunStatus> {
  const run = startRun(input);
  setHandler(statusQuery, () => statusOf(run));
  installControls(run);

  upsertSearchAttributes([{ key: MelRunId, value: run.runId }]);
  await createStartingPolicy(run, input);
  run.phase = 'running';

  while (run.state.nextStep < run.totalSteps && !run.state.stopRequested) {
    await condition(() => !run.state.paused || run.state.stopRequested);
    if (run.state.stopRequested) break;
    // A run that waited out a deploy (paused) moves to the new build before its next step.
    if (workflowInfo().targetWorkerDeploymentVersionChanged) return continueRun(run, input);
    const succeeded = await runStep(run);
    if (succeeded && shouldContinueAsNew(run, input)) return continueRun(run, input);
  }
  return finish(run);
}

/**
 * Continue-as-new, on the deployment's current build. Under Worker Versioning every execution is pinned to the
 * build it started on (the workers' default, workers/versioning.ts), so this is the only place a run changes
 * build. An unversioned execution must not ask for it: the server refuses versioning options without a version.
 */
async function continueRun(run: Run, input: MelRunInput): Promise<never> {
  await condition(allHandlersFinished);
  const versioned = workflowInfo().currentDeploymentVersion !== undefined;
  const continueAsNew = makeContinueAsNewFunc<typeof melRunWorkflow>(
    versioned ? { initialVersioningBehavior: 'AUTO_UPGRADE' } : {},
  );
  return continueAsNew({ ...input, carried: run.state });
}

function startRun({ runId, totalSteps, carried, config }: MelRunInput): Run {
  const state: RunState = carried ?? { nextStep: 0, paused: false, stopRequested: false };
  const fanOut = stepFanOut(config);
  return {
    runId,
    totalSteps,
    mode: config.mode,
    fanOut,
    keepLast: config.checkpoints?.keepLast, // absent from the input of runs started before it existed
    state,
    phase: 'starting',
    firstStep: state.nextStep,
  };
}

function statusOf(run: Run): RunStatus {
  const { runId, totalSteps, state, currentStep } = run;
  return { ...state, runId, totalSteps, phase: effectivePhase(run), currentStep };
}

/** While starting or running, a requested stop or pause shows as the phase. */
function effectivePhase({ phase, state }: Run): RunPhase {
  if (phase !== 'running' && phase !== 'starting') return phase;
  if (state.stopRequested) return 'stopping';
  return state.paused ? 'paused' : phase;
}

/**
 * Pause, resume and stop. Their validators refuse what makes no sense (resuming a run that is not paused, anything
 * after the run ended): a refused update leaves no trace in history, and the caller gets the reason.
 */
function installControls(run: Run): void {
  const { state } = run;
  const assertCan = (allowed: boolean, otherwise: string) => {
    if (run.phase === 'completed' || run.phase === 'stopped') {
      throw new Error(`run ${run.runId} has already ${run.phase}`);
    }
    if (!allowed) throw new Error(`run ${run.runId} ${otherwise}`);
  };
  setHandler(
    pauseUpdate,
    (reason?: string) => {
      state.paused = true;
      state.pauseReason = reason ?? 'paused by request';
      return statusOf(run);
    },
    { validator: (_reason?: string) => assertCan(!state.paused, 'is already paused') },
  );
  setHandler(
    resumeUpdate,
    () => {
      state.paused = false;
      state.pauseReason = undefined;
      return statusOf(run);
    },
    { validator: () => assertCan(state.paused, 'is not paused') },
  );
  setHandler(
    stopUpdate,
    (reason?: string) => {
      state.stopRequested = true;
      state.pauseReason = reason ?? 'stopped by request';
      return statusOf(run);
    },
    { validator: (_reason?: string) => assertCan(!state.stopRequested, 'is already stopping') },
  );
}

/**
 * Registers the run and creates its starting policy (unless continue-as-new carried it). A failure pauses the run
 * as a failed step does, and resuming tries both again (they are idempotent). Only a registration refused for
 * good (another configuration or data set under this run id) fails the run: there is no run to resume.
 */
async function createStartingPolicy(run: Run, { config, data }: MelRunInput): Promise<void> {
  const { state } = run;
  while (!state.policy && !state.stopRequested) {
    try {
      await cpu.registerRun({ config, data, workflowId: workflowInfo().workflowId });
      state.policy = await gpuTraining.initPolicy({ runId: run.runId });
      state.lastError = undefined;
    } catch (error) {
      if (isRefusedRegistration(error)) throw error;
      pauseOnFailure(run, { step: state.nextStep, message: failureChain(error), starting: true });
      await condition(() => !state.paused || state.stopRequested);
    }
  }
}

function isRefusedRegistration(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    error.activityType === 'registerRun' &&
    error.retryState === RetryState.NON_RETRYABLE_FAILURE
  );
}

/** Records the error and pauses the run until it is resumed (or stopped). */
function pauseOnFailure(run: Run, lastError: NonNullable<RunState['lastError']>): void {
  const { state } = run;
  state.lastError = lastError;
  state.paused = true;
  state.pauseReason = lastError.starting ? 'the run failed to start' : `step ${lastError.step} failed`;
  upsertSearchAttributes([{ key: MelPhase, value: 'paused-on-failure' }]);
  log.error('the run is paused on a failure until resumed', { ...lastError });
}

/**
 * Runs step `state.nextStep` as a child workflow. On success the run moves to the next step with the new policy;
 * a step that failed after all its retries pauses the run with the error, and resuming retries the same step.
 */
async function runStep(run: Run): Promise<boolean> {
  const { runId, state } = run;
  const step = state.nextStep;
  run.currentStep = step;
  upsertSearchAttributes([
    { key: MelStep, value: step },
    { key: MelPhase, value: 'running' },
  ]);
  try {
    const result: StepResult = await executeChild(melStepWorkflow, {
      workflowId: stepWorkflowId(runId, step),
      args: [{ runId, step, policy: state.policy!, mode: run.mode, fanOut: run.fanOut }],
      typedSearchAttributes: [
        { key: MelRunId, value: runId },
        { key: MelStep, value: step },
      ],
      parentClosePolicy: 'REQUEST_CANCEL',
    });
    state.policy = result.policy;
    state.lastStep = { step, verify: result.verify, validate: result.validate, update: result.update };
    state.lastError = undefined;
    state.nextStep = step + 1;
    if (run.keepLast !== undefined) await pruneCheckpoints(runId, step);
    return true;
  } catch (error) {
    pauseOnFailure(run, { step, message: failureChain(error) });
    return false;
  } finally {
    // No step runs between steps, nor while the run waits on a failure.
    run.currentStep = undefined;
  }
}

/** `checkpoints.keepLast`: housekeeping, so a failure is logged and the run goes on (the next step prunes again). */
async function pruneCheckpoints(runId: string, step: number): Promise<void> {
  try {
    await gpuTraining.pruneCheckpoints({ runId, step });
  } catch (error) {
    log.warn('old checkpoints could not be pruned; the next step tries again', {
      step,
      error: failureChain(error),
    });
  }
}

/**
 * When Temporal suggests it (history growing large), when a new build became current (Worker Versioning), or
 * after `continueAsNewAfterSteps` steps (tests).
 */
function shouldContinueAsNew(run: Run, { continueAsNewAfterSteps }: MelRunInput): boolean {
  if (run.state.nextStep >= run.totalSteps) return false;
  const stepsHere = run.state.nextStep - run.firstStep;
  const info = workflowInfo();
  return (
    info.continueAsNewSuggested ||
    info.targetWorkerDeploymentVersionChanged ||
    (continueAsNewAfterSteps !== undefined && stepsHere >= continueAsNewAfterSteps)
  );
}

/** Frees the final policy's engine slot and reports the run completed, or stopped if steps were left. */
async function finish(run: Run): Promise<RunStatus> {
  const { state } = run;
  if (state.policy) await gpuTraining.releasePolicy({ policy: state.policy });
  run.phase = state.stopRequested && state.nextStep < run.totalSteps ? 'stopped' : 'completed';
  upsertSearchAttributes([{ key: MelPhase, value: run.phase }]);
  await condition(allHandlersFinished);
  return statusOf(run);
}
