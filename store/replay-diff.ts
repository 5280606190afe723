/**
 * What differs between a step and its replay (`mel replay`). Documents are matched by their id within the run
 * (`step-1/p0/s2`), since the replay runs under its own run id. Pure.
 */
import {
  ids,
  type MetaExperienceDoc,
  type PairDoc,
  type PromptDoc,
  type RewardDoc,
  type StepDoc,
  type TrajectoryDoc,
} from './documents.js';
import { decodeTokens } from './token-codec.js';

export interface StepEvidence {
  runId: string;
  step: number;
  prompts: PromptDoc[];
  trajectories: TrajectoryDoc[];
  rewards: RewardDoc[];
  pairs: PairDoc[];
  candidates: MetaExperienceDoc[];
  stepDoc: StepDoc | null;
}

export interface Comparison {
  original: number;
  replay: number;
  /** Items present in both with equal values. */
  same: number;
  /** Ids (within the run) missing on one side or with different values; at most `DIFF_LIMIT`. */
  differing: string[];
}

export interface LossComparison {
  original: number | null;
  replay: number | null;
  same: boolean;
}

export interface ReplayDiff {
  original: { runId: string; step: number };
  replay: { runId: string; step: number };
  /** Prompt tokens: a difference here means the code that renders prompts changed, not the sampling. */
  prompts: Comparison;
  trajectories: Comparison;
  rewards: Comparison;
  pairs: Comparison;
  candidates: Comparison;
  verdicts: Comparison;
  grpoLoss: LossComparison;
  nllLoss: LossComparison;
  identical: boolean;
}

const DIFF_LIMIT = 20;
/** Losses are sums of float32 terms: equal up to this relative error counts as the same. */
const LOSS_TOLERANCE = 1e-5;

export function compareSteps(original: StepEvidence, replay: StepEvidence): ReplayDiff {
  const compare = <T extends { _id: string; runId: string }>(
    pick: (e: StepEvidence) => T[],
    value: (doc: T) => unknown,
  ) => compareBy(pick(original), pick(replay), value);
  const diff = {
    original: { runId: original.runId, step: original.step },
    replay: { runId: replay.runId, step: replay.step },
    prompts: compare(
      (e) => e.prompts,
      (p) => decodeTokens(p.promptTokens, `prompts ${p._id} promptTokens`),
    ),
    trajectories: compare(
      (e) => e.trajectories,
      (t) => decodeTokens(t.tokens, `trajectories ${t._id} tokens`),
    ),
    rewards: compare(
      (e) => e.rewards,
      (r) => r.reward,
    ),
    pairs: compare(
      (e) => e.pairs,
      () => true,
    ),
    candidates: compare(
      (e) => e.candidates,
      (c) =>
        c.generation.turns.map((turn, i) =>
          decodeTokens(turn.outputTokens, `metaExperiences ${c._id} turn ${i} outputTokens`),
        ),
    ),
    verdicts: compare(
      (e) => e.candidates,
      (c) => (c.verdict ? [c.verdict.accepted, c.verdict.reason] : null),
    ),
    grpoLoss: compareLoss(original.stepDoc?.update?.grpoLoss, replay.stepDoc?.update?.grpoLoss),
    nllLoss: compareLoss(original.stepDoc?.update?.nllLoss, replay.stepDoc?.update?.nllLoss),
  };
  const comparisons = [
    diff.prompts,
    diff.trajectories,
    diff.rewards,
    diff.pairs,
    diff.candidates,
    diff.verdicts,
  ];
  const identical =
    comparisons.every((c) => c.differing.length === 0) && diff.grpoLoss.same && diff.nllLoss.same;
  return { ...diff, identical };
}

function compareBy<T extends { _id: string; runId: string }>(
  originals: T[],
  replays: T[],
  value: (doc: T) => unknown,
): Comparison {
  const keyed = (docs: T[]) =>
    new Map(docs.map((doc) => [ids.withinRun(doc.runId, doc._id), JSON.stringify(value(doc))]));
  const before = keyed(originals);
  const after = keyed(replays);
  const keys = [...new Set([...before.keys(), ...after.keys()])].sort();
  const differing = keys.filter((key) => !before.has(key) || before.get(key) !== after.get(key));
  return {
    original: originals.length,
    replay: replays.length,
    same: keys.length - differing.length,
    differing: differing.slice(0, DIFF_LIMIT),
  };
}

function compareLoss(original: number | null | undefined, replay: number | null | undefined): LossComparison {
  const a = original ?? null;
  const b = replay ?? null;
  const same =
    a === null || b === null ? a === b : Math.abs(a - b) <= LOSS_TOLERANCE * Math.max(1, Math.abs(a));
  return { original: a, replay: b, same };
}
