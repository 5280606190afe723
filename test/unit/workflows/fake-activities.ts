/**
 * The run family's activities as a plain object of async functions, with plausible payloads typed by the
 * contracts and no MongoDB or engine behind them. A test can hold an activity until it releases it (to act while
 * a step is in flight) and make it fail (to see what the workflow does with a failed step).
 */
import { ApplicationFailure } from '@temporalio/common';
import type {
  CpuActivities,
  GpuInferenceActivities,
  GpuTrainingActivities,
} from '../../../activities/index.js';
import type { DatasetPin } from '../../../mel/dataset.js';
import type { ItemRange } from '../../../mel/fan-out.js';
import type { StepMetrics } from '../../../store/documents.js';
import type {
  PolicyRef,
  ReleasePolicyInput,
  RestorePolicyInput,
} from '../../../temporal/contracts/common.js';
import type {
  ContrastSummary,
  GrpoGradientsInput,
  GrpoGradientsSummary,
  InitPolicyInput,
  InternalizeRef,
  InternalizeSummary,
  PolicyStepRef,
  PolicyUpdateSummary,
  SamplingChunkRef,
  RecordStepInput,
  RegisterRunInput,
  RolloutSummary,
  StageName,
  StepChunkRef,
  StepRef,
  SummarizeSummary,
  ValidateSummary,
  VerifySummary,
} from '../../../temporal/contracts/run.js';

/** The activities the run, step and replay workflows call, as the real workers register them. */
export type RunFamilyActivities = Pick<
  CpuActivities,
  'registerRun' | 'verify' | 'contrast' | 'internalize' | 'recordStep'
> &
  Pick<GpuInferenceActivities, 'rollout' | 'summarize' | 'validate'> &
  Pick<
    GpuTrainingActivities,
    'initPolicy' | 'policyUpdate' | 'accumulateGrpoGradients' | 'restorePolicy' | 'releasePolicy'
  >;

/**
 * `<runId>/step-<n>/<stage>` for a stage, `<runId>/step-<n>/grpo-gradients` for the GRPO datums sent ahead of the
 * policy update, `<runId>/<activity>` for the run's own activities.
 */
export type CallKey =
  `${string}/step-${number}/${StageName | 'grpo-gradients'}` | `${string}/${RunActivityName}`;
type RunActivityName = 'registerRun' | 'initPolicy' | 'recordStep' | 'releasePolicy' | 'restorePolicy';

export function stageKey(runId: string, step: number, stage: StageName | 'grpo-gradients'): CallKey {
  return `${runId}/step-${step}/${stage}`;
}

/** A policy as the engine would name it: `updates` optimizer steps after the run's initial adapter. */
export function fakePolicy(runId: string, updates: number): PolicyRef {
  const model = `fake-${runId}-${updates}`;
  const name = updates === 0 ? `${runId}-init` : `${runId}-step-${updates - 1}`;
  return {
    modelId: model,
    statePath: `tinker://${model}/weights/${name}`,
    samplerPath: `tinker://${model}/${name}`,
    updates,
    rank: 8,
  };
}

/** The data set pin the workflow tests start their runs with. */
export const fakeDataPin: DatasetPin = {
  source: 'builtin',
  sha256: 'f'.repeat(64),
  problems: 300,
  skippedRows: 0,
};

export class FakeMel {
  /** Every activity call, in order. */
  readonly calls: CallKey[] = [];
  /** The policy each policy update started from, by run. */
  readonly updatesFrom = new Map<string, PolicyRef[]>();
  readonly released: PolicyRef[] = [];
  /** The item range of every call of a stage that fans out (absent: the whole stage), by stage key. */
  readonly ranges = new Map<CallKey, (ItemRange | undefined)[]>();
  /** Every internalize call's input, in order. */
  readonly internalized: InternalizeRef[] = [];
  /** The bound on the NLL datums each accumulateGrpoGradients call was given, by run. */
  readonly nllBounds = new Map<string, (number | undefined)[]>();
  /** How many pairs contrast reports (summarize and validate then cover as many candidates). */
  pairsPerStep = 3;
  /** Whether rollout chunks report usable trajectories (false: an engine that fails every item). */
  usableRollouts = true;
  /** The data set pin each run was registered with. */
  readonly registered = new Map<string, DatasetPin>();
  /** Held calls, by call key, or by `<call key>@<first item>` for one chunk of a stage. */
  private readonly gates = new Map<string, Promise<void>>();
  private readonly faults = new Map<CallKey, () => Error>();
  private readonly waiters: { key: CallKey; resolve: () => void }[] = [];

  /** The next calls of `key` wait until the returned function is called. */
  hold(key: CallKey): () => void {
    return this.gate(key);
  }

  /** The next calls of `key` for the chunk that starts at item `start` wait until the returned function is called. */
  holdChunk(key: CallKey, start: number): () => void {
    return this.gate(`${key}@${start}`);
  }

  /** Calls of `key` throw `error()` until `heal(key)`, or only once when `once`. */
  fail(key: CallKey, error: () => Error, { once = false } = {}): void {
    this.faults.set(key, () => {
      if (once) this.faults.delete(key);
      return error();
    });
  }

  heal(key: CallKey): void {
    this.faults.delete(key);
  }

  /** Resolves when `key` has been called (at once if it already was). */
  called(key: CallKey): Promise<void> {
    if (this.calls.includes(key)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ key, resolve }));
  }

  count(key: CallKey): number {
    return this.calls.filter((call) => call === key).length;
  }

  private gate(gateKey: string): () => void {
    let release!: () => void;
    this.gates.set(
      gateKey,
      new Promise<void>((resolve) => {
        release = resolve;
      }),
    );
    return () => {
      this.gates.delete(gateKey);
      release();
    };
  }

  private async enter(key: CallKey): Promise<void> {
    this.calls.push(key);
    for (const waiter of this.waiters.filter((w) => w.key === key)) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    await this.gates.get(key);
    const fault = this.faults.get(key);
    if (fault) throw fault();
  }

  /** Enters a sampling stage's call and returns the size of its chunk, or `whole` for the whole stage. */
  private async enterChunk(ref: StepChunkRef, stage: StageName, whole: number): Promise<number> {
    const key = stageKey(ref.runId, ref.step, stage);
    this.ranges.set(key, [...(this.ranges.get(key) ?? []), ref.items]);
    await this.enter(key);
    if (ref.items) await this.gates.get(`${key}@${ref.items.start}`);
    return ref.items ? ref.items.end - ref.items.start : whole;
  }

  readonly activities = {
    registerRun: async ({ config, data }: RegisterRunInput): Promise<void> => {
      this.registered.set(config.runId, data);
      await this.enter(`${config.runId}/registerRun`);
    },
    initPolicy: async ({ runId }: InitPolicyInput): Promise<PolicyRef> => {
      await this.enter(`${runId}/initPolicy`);
      return fakePolicy(runId, 0);
    },
    rollout: async (ref: SamplingChunkRef): Promise<RolloutSummary> => {
      const prompts = await this.enterChunk(ref, 'rollout', 2);
      if (!this.usableRollouts) {
        const excluded = { excludedPrompts: prompts, exclusionReasons: { 'engine-rejected': prompts } };
        return { prompts, trajectories: 0, truncated: 0, ...excluded };
      }
      return { prompts, trajectories: 4 * prompts, truncated: 0 };
    },
    /** Each prompt's 4 rollouts have one correct: every group mixed, a pass rate of 1/4. */
    verify: async (ref: StepChunkRef): Promise<VerifySummary> => {
      const prompts = await this.enterChunk(ref, 'verify', 2);
      return { passRate: 0.25, mixedGroups: prompts, rollouts: 4 * prompts, correct: prompts };
    },
    contrast: async ({ runId, step }: StepRef): Promise<ContrastSummary> => {
      await this.enter(stageKey(runId, step, 'contrast'));
      return { pairs: this.pairsPerStep };
    },
    summarize: async (ref: SamplingChunkRef): Promise<SummarizeSummary> => {
      const candidates = await this.enterChunk(ref, 'summarize', this.pairsPerStep);
      return { candidates, parsed: candidates, leaking: 0 };
    },
    /** Two in three accepted. */
    validate: async (ref: SamplingChunkRef): Promise<ValidateSummary> => {
      const judged = await this.enterChunk(ref, 'validate', this.pairsPerStep);
      const accepted = Math.round((judged * 2) / 3);
      return { accepted, rejected: judged - accepted };
    },
    /** 8 GRPO and 2 NLL datums, or those of the kind asked for; a prompt chunk's 2 GRPO datums a prompt. */
    internalize: async (ref: InternalizeRef): Promise<InternalizeSummary> => {
      const { runId, step, datums, items } = ref;
      this.internalized.push({ runId, step, datums, ...(items ? { items } : {}) });
      const prompts = await this.enterChunk(ref, 'internalize', 4);
      return { grpoDatums: datums === 'nll' ? 0 : 2 * prompts, nllDatums: datums === 'grpo' ? 0 : 2 };
    },
    accumulateGrpoGradients: async ({
      runId,
      step,
      nllAtMost,
    }: GrpoGradientsInput): Promise<GrpoGradientsSummary> => {
      this.nllBounds.set(runId, [...(this.nllBounds.get(runId) ?? []), nllAtMost]);
      await this.enter(stageKey(runId, step, 'grpo-gradients'));
      return { sent: true, grpoDatums: 8 };
    },
    policyUpdate: async ({ runId, step, policy }: PolicyStepRef): Promise<PolicyUpdateSummary> => {
      await this.enter(stageKey(runId, step, 'policy-update'));
      this.updatesFrom.set(runId, [...(this.updatesFrom.get(runId) ?? []), policy]);
      return { policy: fakePolicy(runId, policy.updates + 1), grpoLoss: 0.12, nllLoss: 1.5 };
    },
    recordStep: async ({ runId, result }: RecordStepInput): Promise<StepMetrics> => {
      await this.enter(`${runId}/recordStep`);
      return {
        prompts: result.rollout.prompts,
        trajectories: result.rollout.trajectories,
        passRate: result.verify.passRate,
        mixedGroups: result.verify.mixedGroups,
        pairs: result.contrast.pairs,
        candidates: result.summarize.candidates,
        parsedCandidates: result.summarize.parsed,
        accepted: result.validate.accepted,
        rejected: result.validate.rejected,
        retentionRatio: result.validate.accepted / result.summarize.candidates,
        grpoLoss: result.update.grpoLoss,
        nllLoss: result.update.nllLoss,
        stageDurationsMs: result.stageDurationsMs,
      };
    },
    restorePolicy: async ({ policy, name }: RestorePolicyInput): Promise<PolicyRef> => {
      await this.enter(`${name}/restorePolicy`);
      return { ...policy, modelId: `fake-${name}-restored` };
    },
    releasePolicy: async ({ policy }: ReleasePolicyInput): Promise<void> => {
      this.released.push(policy);
      await this.enter(`${runIdOf(policy)}/releasePolicy`);
    },
  } satisfies RunFamilyActivities;
}

/** What retrying cannot fix (listed as non-retryable in workflows/activity-options.ts): fails the step at once. */
export function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'InvalidInput');
}

function runIdOf(policy: PolicyRef): string {
  return policy.modelId.replace(/^fake-/, '').replace(/-(\d+|restored)$/, '');
}
