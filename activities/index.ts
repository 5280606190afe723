import { attemptsUnderLiveness, DEFAULT_LIVENESS } from './attempt.js';
import { createCheckpointActivities } from './checkpoints.js';
import { createEvalActivities } from './eval.js';
import { createInternalizeActivities } from './internalize.js';
import { createPolicyActivities } from './policy.js';
import { createRecordActivities } from './records.js';
import { createReflectActivities } from './reflect.js';
import { createRolloutActivities } from './rollout.js';
import type { MelActivityDeps } from './support.js';

export { createSmokeActivities, type SmokeActivities, type SmokeDeps } from './smoke.js';
export type { MelActivityDeps } from './support.js';
export { attemptsUnderLiveness, DEFAULT_LIVENESS, type LivenessSettings } from './attempt.js';

/**
 * The MEL activities (training steps and `mel eval`) grouped by the task queue that runs them; every attempt
 * heartbeats from its progress and stops when it stalls or is cancelled (attempt.ts).
 */
export function createMelActivities(deps: MelActivityDeps) {
  const liveness = deps.liveness ?? DEFAULT_LIVENESS;
  const { rollout, verify } = createRolloutActivities(deps);
  const { contrast, summarize, validate } = createReflectActivities(deps);
  const { internalize } = createInternalizeActivities(deps);
  const { initPolicy, policyUpdate, accumulateGrpoGradients, releasePolicy, restorePolicy } =
    createPolicyActivities(deps);
  const { registerRun, recordStep } = createRecordActivities(deps);
  const { pruneCheckpoints } = createCheckpointActivities(deps);
  const { prepareEval, sampleEvalChunk, scoreEvalChunk, finishEval } = createEvalActivities(deps);
  return {
    cpu: attemptsUnderLiveness(liveness, {
      verify,
      contrast,
      internalize,
      registerRun,
      recordStep,
      prepareEval,
      scoreEvalChunk,
      finishEval,
    }),
    gpuInference: attemptsUnderLiveness(liveness, { rollout, summarize, validate, sampleEvalChunk }),
    gpuTraining: attemptsUnderLiveness(liveness, {
      initPolicy,
      policyUpdate,
      accumulateGrpoGradients,
      releasePolicy,
      restorePolicy,
      pruneCheckpoints,
    }),
  };
}

type MelActivities = ReturnType<typeof createMelActivities>;
export type CpuActivities = MelActivities['cpu'];
export type GpuInferenceActivities = MelActivities['gpuInference'];
export type GpuTrainingActivities = MelActivities['gpuTraining'];
