import {
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  log,
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
  type StepResult,
} from '../temporal/contracts/run.js';
import { failureChain } from '../temporal/errors.js';
import { cpu, gpuTraining } from './activity-options.js';
import { melStepWorkflow } from './step.js';

/**
 * One MEL training run: registers the run, creates its starting policy, then runs one child workflow per step.
 * Pause, resume and stop are updates; `status` is a query. A step that fails after all its retries pauses the
 * run instead of failing it, so nothing is lost: fix the cause, then resume to retry that step.
 */
export async function melRunWorkflow(input: MelRunInput): Promise<RunStatus> {
  const { runId, totalSteps } = input;
  const state: RunState = input.carried ?? { nextStep: 0, paused: false, stopRequested: false };
  let phase: RunPhase = 'starting';
  let currentStep: number | undefined;

  const status = (): RunStatus => ({ ...state, runId, totalSteps, phase: effectivePhase(), currentStep });
  const effectivePhase = (): RunPhase =>
    state.stopRequested && phase === 'running'
      ? 'stopping'
      : state.paused && phase === 'running'
        ? 'paused'
        : phase;
  /** Update validators: a rejected update leaves no trace in history, and the caller gets the reason. */
  const assertCan = (allowed: boolean, otherwise: string) => {
    if (phase === 'completed' || phase === 'stopped') throw new Error(`run ${runId} has already ${phase}`);
    if (!allowed) throw new Error(`run ${runId} ${otherwise}`);
  };

  setHandler(statusQuery, status);
  setHandler(
    pauseUpdate,
    (reason?: string) => {
      state.paused = true;
      state.pauseReason = reason ?? 'paused by request';
      return status();
    },
    { validator: (_reason?: string) => assertCan(!state.paused, 'is already paused') },
  );
  setHandler(
    resumeUpdate,
    () => {
      state.paused = false;
      state.pauseReason = undefined;
      return status();
    },
    { validator: () => assertCan(state.paused, 'is not paused') },
  );
  setHandler(
    stopUpdate,
    (reason?: string) => {
      state.stopRequested = true;
      state.pauseReason = reason ?? 'stopped by request';
      return status();
    },
    { validator: (_reason?: string) => assertCan(!state.stopRequested, 'is already stopping') },
  );

  upsertSearchAttributes([{ key: MelRunId, value: runId }]);
  if (!state.policy) {
    await cpu.registerRun({ config: input.config, workflowId: workflowInfo().workflowId });
    state.policy = await gpuTraining.initPolicy({ runId });
  }
  phase = 'running';

  while (state.nextStep < totalSteps && !state.stopRequested) {
    await condition(() => !state.paused || state.stopRequested);
    if (state.stopRequested) break;
    const step = state.nextStep;
    currentStep = step;
    upsertSearchAttributes([
      { key: MelStep, value: step },
      { key: MelPhase, value: 'running' },
    ]);
    try {
      const result: StepResult = await executeChild(melStepWorkflow, {
        workflowId: stepWorkflowId(runId, step),
        args: [{ runId, step, policy: state.policy! }],
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
    } catch (error) {
      state.lastError = { step, message: failureChain(error) };
      // No step runs while the run waits on a failure (status must not report the failed step as running).
      currentStep = undefined;
      state.paused = true;
      state.pauseReason = `step ${step} failed`;
      upsertSearchAttributes([{ key: MelPhase, value: 'paused-on-failure' }]);
      log.error('step failed after its retries; the run is paused until resumed', {
        step,
        error: state.lastError.message,
      });
      continue;
    }
    currentStep = undefined;
    if (workflowInfo().continueAsNewSuggested && state.nextStep < totalSteps) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof melRunWorkflow>({ ...input, carried: state });
    }
  }

  if (state.policy) await gpuTraining.releasePolicy({ policy: state.policy });
  phase = state.stopRequested && state.nextStep < totalSteps ? 'stopped' : 'completed';
  upsertSearchAttributes([{ key: MelPhase, value: phase }]);
  await condition(allHandlersFinished);
  return status();
}
