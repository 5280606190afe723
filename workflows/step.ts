import { ApplicationFailure, patched, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { combineRewardSummaries, describeCounts, sumCounts, type ItemRange } from '../mel/fan-out.js';
import { MelPhase } from '../temporal/contracts/common.js';
import {
  stageQuery,
  type ContrastSummary,
  type InternalizeSummary,
  type PolicyStepRef,
  type RolloutSummary,
  type SamplingChunkRef,
  type StageName,
  type StepFanOut,
  type StepInput,
  type StepRef,
  type StepResult,
  type SummarizeSummary,
  type ValidateSummary,
  type VerifySummary,
} from '../temporal/contracts/run.js';
import { cpu, gpuInference, gpuTraining } from './activity-options.js';
import { workflowChunks } from './chunks.js';

interface Reflection {
  contrast: ContrastSummary;
  summarize: SummarizeSummary;
  validate: ValidateSummary;
}

const NO_ROLLOUT: RolloutSummary = { prompts: 0, trajectories: 0, truncated: 0 };
const NO_DATUMS: InternalizeSummary = { grpoDatums: 0, nllDatums: 0 };

/** What the GRPO baseline reports for the stages it skips. */
const NO_REFLECTION: Reflection = {
  contrast: { pairs: 0 },
  summarize: { candidates: 0, parsed: 0, leaking: 0 },
  validate: { accepted: 0, rejected: 0 },
};

/**
 * One MEL training step: rollout → verify → contrast → summarize → validate → internalize → policy update.
 * Each stage is an activity that reads its inputs from MongoDB and writes its outputs there; only ids and counts
 * pass through this workflow's history. verify scores each prompt chunk as its rollout ends, and the GRPO half of
 * internalize builds the chunk's datums as it is verified; once all are built and contrast has counted the pairs,
 * they are sent to the training model while summarize and validate sample, and the NLL half follows validate. In `grpo` mode the three reflection stages
 * are skipped. An overlapped stage's duration is what remains of it after the stage before.
 */
export async function melStepWorkflow({ runId, step, policy, mode, fanOut }: StepInput): Promise<StepResult> {
  let current: StageName | undefined;
  setHandler(stageQuery, () => current);
  const stageDurationsMs: Partial<Record<StageName, number>> = {};

  async function stage<T>(name: StageName, run: () => Promise<T>): Promise<T> {
    current = name;
    upsertSearchAttributes([{ key: MelPhase, value: name }]);
    const started = Date.now();
    const result = await run();
    stageDurationsMs[name] = Date.now() - started;
    return result;
  }

  const ref = { runId, step };
  const withPolicy = { ...ref, policy };
  const sampling = samplingStages(withPolicy, fanOut);
  const { rollout, verify, grpoDatums } =
    fanOut && patched(VERIFY_AS_ROLLED_PATCH)
      ? await verifyEachChunkAsRolled(withPolicy, fanOut, stage)
      : {
          rollout: await stage('rollout', sampling.rollout),
          verify: await stage('verify', () => verifyStage(ref, fanOut)),
          grpoDatums: undefined,
        };
  let contrastDone: (summary: ContrastSummary) => void = () => undefined;
  const contrasted = new Promise<ContrastSummary>((resolve) => (contrastDone = resolve));
  const reflect = async (): Promise<Reflection> => {
    const contrast = await stage('contrast', () => cpu.contrast(ref));
    contrastDone(contrast);
    const summarize = await stage('summarize', () => sampling.summarize(contrast.pairs));
    const validate = await stage('validate', () => sampling.validate(summarize.candidates));
    return { contrast, summarize, validate };
  };
  let internalizeRest = () => cpu.internalize(ref);
  if (grpoDatums) {
    internalizeRest = async () =>
      sumCounts([
        mode === 'grpo' ? NO_DATUMS : await cpu.internalize({ ...ref, datums: 'nll' }),
        await grpoDatums,
      ]);
  } else if (mode !== 'grpo' && patched(OVERLAP_PATCH)) {
    // The GRPO datums depend only on rollout and verify: built while the reflection stages run.
    const stepGrpoDatums = cpu.internalize({ ...ref, datums: 'grpo' });
    stepGrpoDatums.catch(() => undefined); // awaited below; a failure fails the step there, not as unhandled
    internalizeRest = async () =>
      sumCounts([await cpu.internalize({ ...ref, datums: 'nll' }), await stepGrpoDatums]);
  }
  const grpoGradients =
    grpoDatums && mode !== 'grpo' && patched(GRPO_GRADIENTS_PATCH)
      ? sendGrpoGradients(withPolicy, grpoDatums, contrasted)
      : undefined;
  const { contrast, summarize, validate } = mode === 'grpo' ? NO_REFLECTION : await reflect();
  const internalize = await stage('internalize', internalizeRest);
  const update = await stage('policy-update', async () => {
    await grpoGradients;
    return gpuTraining.policyUpdate(withPolicy);
  });
  current = undefined;
  upsertSearchAttributes([{ key: MelPhase, value: 'done' }]);

  const result: StepResult = {
    step,
    policy: update.policy,
    rollout,
    verify,
    contrast,
    summarize,
    validate,
    internalize,
    update,
    stageDurationsMs,
  };
  await cpu.recordStep({ runId, result });
  return result;
}

const FAN_OUT_PATCH = 'sampling-fan-out';
/** MEL steps build their GRPO datums while reflecting; histories recorded before build all datums after. */
const OVERLAP_PATCH = 'grpo-datums-while-reflecting';

/**
 * MEL steps send their GRPO datums for their gradients while the reflection stages sample (where the engine allows
 * it, activities/policy.ts); histories recorded before send them all in the policy update.
 */
const GRPO_GRADIENTS_PATCH = 'grpo-gradients-while-reflecting';

/** MEL steps send their GRPO datums once the step's pairs bound its NLL datums; histories recorded before, at once. */
const GRPO_GRADIENTS_BOUND_PATCH = 'grpo-gradients-bounded-by-pairs';

/**
 * The GRPO datums' gradients, which depend only on them, sent to the training model while the reflection stages
 * sample: once every GRPO datum is built and contrast has counted the pairs, which bound the step's NLL datums
 * (the engine may scale each datum by the step's datum count). Settles either way: only a head start, since the
 * policy update sends the GRPO datums itself when they were not sent.
 */
function sendGrpoGradients(
  ref: PolicyStepRef,
  grpoDatums: Promise<InternalizeSummary>,
  contrasted: Promise<ContrastSummary>,
): Promise<void> {
  const sent = patched(GRPO_GRADIENTS_BOUND_PATCH)
    ? Promise.all([grpoDatums, contrasted]).then(([, { pairs }]) =>
        gpuTraining.accumulateGrpoGradients({ ...ref, nllAtMost: pairs }),
      )
    : grpoDatums.then(() => gpuTraining.accumulateGrpoGradients(ref));
  return sent.then(
    () => undefined,
    () => undefined,
  );
}

/**
 * The sampling stages, each split into activities that any inference worker takes (`fanOut`), their summaries
 * summed. Histories recorded before the fan-out, and steps started without `fanOut`, call one activity per stage.
 */
function samplingStages(ref: SamplingChunkRef, fanOut: StepFanOut | undefined) {
  if (!fanOut || !patched(FAN_OUT_PATCH)) {
    return {
      rollout: () => gpuInference.rollout(ref),
      summarize: () => gpuInference.summarize(ref),
      validate: () => gpuInference.validate(ref),
    };
  }
  // A stage without items (no mixed group, so no pair) runs no activity and sums to its zero.
  const inChunks = async <T extends object>(
    total: number,
    perChunk: number,
    zero: T,
    activity: (input: SamplingChunkRef) => Promise<T>,
  ): Promise<T> => {
    const chunks = workflowChunks(total, perChunk);
    return sumCounts([
      zero,
      ...(await Promise.all(chunks.map((items: ItemRange) => activity({ ...ref, items })))),
    ]);
  };
  const { prompts, promptsPerChunk, generationsPerChunk } = fanOut;
  return {
    rollout: async () =>
      usableRollouts(ref, await inChunks(prompts, promptsPerChunk, NO_ROLLOUT, gpuInference.rollout)),
    summarize: (pairs: number) =>
      inChunks(pairs, generationsPerChunk, NO_REFLECTION.summarize, gpuInference.summarize),
    validate: (candidates: number) =>
      inChunks(candidates, generationsPerChunk, NO_REFLECTION.validate, gpuInference.validate),
  };
}

const VERIFY_FAN_OUT_PATCH = 'verify-fan-out';

/**
 * verify in the rollout's prompt chunks, which any CPU worker takes; histories recorded before, and steps started
 * without `fanOut`, verify the whole step in one activity.
 */
async function verifyStage(ref: StepRef, fanOut: StepFanOut | undefined): Promise<VerifySummary> {
  if (!fanOut || !patched(VERIFY_FAN_OUT_PATCH)) return cpu.verify(ref);
  const chunks = workflowChunks(fanOut.prompts, fanOut.promptsPerChunk);
  const parts = await Promise.all(chunks.map((items) => cpu.verify({ ...ref, items })));
  return combineRewardSummaries(parts);
}

/** Steps verify each prompt chunk as soon as its rollout ends; histories recorded before verify after all rollouts. */
const VERIFY_AS_ROLLED_PATCH = 'verify-each-chunk-as-rolled';
/**
 * Steps build each prompt chunk's GRPO datums as soon as it is verified; histories recorded before build them for
 * the whole step (after verify, or beside the reflection stages).
 */
const GRPO_PER_CHUNK_PATCH = 'grpo-datums-per-chunk';

/**
 * rollout, verify and the GRPO half of internalize in the same prompt chunks, each chunk verified (on a CPU worker)
 * as soon as its own rollout ends and its datums built as soon as it is verified, so that both overlap the
 * rollout's last chunks instead of following them. The verify stage's duration is what remains of it after the last
 * rollout; `grpoDatums` settles when every chunk's datums are written.
 */
async function verifyEachChunkAsRolled(
  ref: SamplingChunkRef,
  fanOut: StepFanOut,
  stage: <T>(name: StageName, run: () => Promise<T>) => Promise<T>,
): Promise<{ rollout: RolloutSummary; verify: VerifySummary; grpoDatums?: Promise<InternalizeSummary> }> {
  const { runId, step } = ref;
  const perChunk = patched(GRPO_PER_CHUNK_PATCH);
  const chunks = workflowChunks(fanOut.prompts, fanOut.promptsPerChunk).map((items) => {
    const rolled = gpuInference.rollout({ ...ref, items });
    const verified = rolled.then(() => cpu.verify({ runId, step, items }));
    const internalized = perChunk
      ? verified.then(() => cpu.internalize({ runId, step, items, datums: 'grpo' }))
      : undefined;
    return { rolled, verified, internalized };
  });
  const grpoDatums = perChunk
    ? Promise.all(chunks.map((c) => c.internalized!)).then((parts) => sumCounts([NO_DATUMS, ...parts]))
    : undefined;
  // Awaited later; a failure fails the step there, not as unhandled.
  for (const settled of [grpoDatums, ...chunks.map((c) => c.verified)]) settled?.catch(() => undefined);
  const rollout = await stage('rollout', async () =>
    usableRollouts(ref, sumCounts([NO_ROLLOUT, ...(await Promise.all(chunks.map((c) => c.rolled)))])),
  );
  const verify = await stage('verify', async () =>
    combineRewardSummaries(await Promise.all(chunks.map((c) => c.verified))),
  );
  return { rollout, verify, ...(grpoDatums ? { grpoDatums } : {}) };
}

/** A rollout where no prompt gave a usable sample is the engine failing, not an item: the step fails. */
function usableRollouts(ref: SamplingChunkRef, summary: RolloutSummary): RolloutSummary {
  if (summary.trajectories === 0) {
    throw ApplicationFailure.nonRetryable(
      `no rollout of step ${ref.step} is usable (${describeCounts(summary.exclusionReasons ?? {})}): ` +
        'the engine fails them all',
      'NoUsableRollout',
    );
  }
  return summary;
}
