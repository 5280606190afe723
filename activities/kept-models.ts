import type { PolicyRef } from '../temporal/contracts/common.js';

/**
 * The training models a worker keeps loaded between steps, one per run: the engine model of the run's last update
 * that this worker recorded with its own model. Such a model holds exactly that update's saved state (weights,
 * optimizer state, no gradient left), since only two things ever touch it: the attempt that trained, saved and
 * recorded it, and the one attempt that takes it here. Taking is once only and synchronous (one worker process),
 * so a retried or concurrent attempt of the next step, or one on another worker, finds nothing and restores the
 * saved state into a fresh model instead; so does a step started from any other policy than the one recorded.
 */
export class KeptModels {
  private readonly byRun = new Map<string, PolicyRef>();

  /** `policy` was just recorded as the run's update, trained on its own model `policy.modelId`. */
  keep(runId: string, policy: PolicyRef): void {
    this.byRun.set(runId, policy);
  }

  /**
   * The model holding `policy`'s state when this worker kept exactly that policy for the run; whatever it kept for
   * the run is gone from here afterwards, so no second attempt can train on the same model.
   */
  take(runId: string, policy: PolicyRef): string | undefined {
    const kept = this.byRun.get(runId);
    this.byRun.delete(runId);
    return kept && samePolicy(kept, policy) ? kept.modelId : undefined;
  }

  /** The model is unloaded: a later step must not take it. */
  forgetModel(modelId: string): void {
    for (const [runId, kept] of this.byRun) if (kept.modelId === modelId) this.byRun.delete(runId);
  }
}

function samePolicy(a: PolicyRef, b: PolicyRef): boolean {
  return (
    a.modelId === b.modelId &&
    a.statePath === b.statePath &&
    a.samplerPath === b.samplerPath &&
    a.updates === b.updates &&
    a.rank === b.rank
  );
}

/** A training model on which this worker sent a step's GRPO datums, for the same worker's policy update to finish. */
export interface GrpoGradients {
  step: number;
  /** The policy the model held before the GRPO datums: the step's. */
  policy: PolicyRef;
  modelId: string;
  grpoLoss: number | null;
  grpoDatums: number;
  /** The step's datum count the GRPO datums were scaled for (activities/step-objective.ts, `SentGrpoHalf`). */
  stepDatums: number;
  startedFrom: 'kept-model' | 'saved-state';
}

/**
 * Models holding exactly one step's GRPO gradients (and the step's policy), one per run, put here by the attempt
 * that sent them once every request was answered. Each model was taken (`KeptModels`) or created by that one
 * attempt, so no other attempt sent anything to it. Taking is once only, so of two policy-update attempts at most
 * one finishes on it; the other, and one on another worker or after a restart, finds nothing and sends the whole
 * step to a model restored from the saved state instead.
 */
export class StepGradients {
  private readonly byRun = new Map<string, GrpoGradients>();

  put(runId: string, gradients: GrpoGradients): void {
    this.byRun.set(runId, gradients);
  }

  /** The model with step `step`'s GRPO gradients on `policy`; whatever this worker held for the run goes. */
  take(runId: string, step: number, policy: PolicyRef): GrpoGradients | undefined {
    const held = this.byRun.get(runId);
    this.byRun.delete(runId);
    return held && held.step === step && samePolicy(held.policy, policy) ? held : undefined;
  }
}
