/**
 * MongoDB documents of a MEL run. Every id is a business key built from run, step, prompt and sample (never
 * from an attempt), so a retried or replayed activity overwrites its own documents instead of adding new ones.
 */
import type { Datum, MetaExperience, Problem } from '../mel/index.js';
import type { RunConfig } from '../training/run-config.js';
import type { PolicyRef, StageName } from '../temporal/shared.js';

/** Where a record came from in Temporal: enough to open the raw history. The attempt is for audit only. */
export interface TemporalOrigin {
  workflowId: string;
  workflowRunId: string;
  activityId: string;
  activityType: string;
  attempt: number;
}

export const ids = {
  step: (runId: string, step: number) => `${runId}/step-${step}`,
  prompt: (runId: string, step: number, promptIndex: number) => `${runId}/step-${step}/p${promptIndex}`,
  trajectory: (promptId: string, sampleIndex: number) => `${promptId}/s${sampleIndex}`,
  pair: (promptId: string, positiveIndex: number, negativeIndex: number) =>
    `${promptId}/pair-s${positiveIndex}-s${negativeIndex}`,
  metaExperience: (pairId: string) => `${pairId}/me`,
  datum: (runId: string, step: number, kind: DatumKind, sourceId: string) =>
    `${runId}/step-${step}/${kind}/${ids.withinRun(runId, sourceId)}`,
  /**
   * An id without its run prefix (`step-0/p1/...`): what sampling seeds derive from, so that a replay of a step
   * under another run id draws the same samples.
   */
  withinRun: (runId: string, id: string) => id.slice(runId.length + 1),
};

export interface RunDoc {
  _id: string;
  config: RunConfig;
  baseModel: string;
  createdAt: Date;
  initialPolicy?: PolicyRef;
  workflowId: string;
}

export interface PromptDoc {
  _id: string;
  runId: string;
  step: number;
  promptIndex: number;
  problem: Problem;
  promptText: string;
  promptTokens: number[];
  origin: TemporalOrigin;
}

export interface TrajectoryDoc {
  _id: string;
  runId: string;
  step: number;
  promptId: string;
  problemId: string;
  sampleIndex: number;
  seed: number;
  /** Verbatim sampler output: these tokens and logprobs are what the policy update trains on. */
  tokens: number[];
  logprobs: number[];
  text: string;
  stopReason: 'stop' | 'length';
  samplerPath: string;
  origin: TemporalOrigin;
}

export interface RewardDoc {
  _id: string;
  runId: string;
  step: number;
  promptId: string;
  sampleIndex: number;
  reward: 0 | 1;
  extractedAnswer: string | null;
  extractionMethod: string | null;
  groundTruth: string;
  origin: TemporalOrigin;
}

export interface PairDoc {
  _id: string;
  runId: string;
  step: number;
  promptId: string;
  problemId: string;
  positiveTrajectoryId: string;
  negativeTrajectoryId: string;
  origin: TemporalOrigin;
}

export interface GenerationTurn {
  /** The prompt exactly as sampled: with the earlier turns, the retrospective context C_retro of the NLL. */
  promptTokens: number[];
  outputTokens: number[];
  text: string;
  stopReason: 'stop' | 'length';
}

export type VerdictReason =
  'replay-verified' | 'replay-wrong-answer' | 'unparseable' | 'leaks-problem-specifics';

export interface MetaExperienceDoc {
  _id: string;
  runId: string;
  step: number;
  promptId: string;
  pairId: string;
  problemId: string;
  mode: 'single-call' | 'chained';
  generation: {
    /** One turn in single-call mode, three (s*, C, H) in chained mode. */
    turns: GenerationTurn[];
    seed: number;
    samplerPath: string;
  };
  parse: { ok: true; metaExperience: MetaExperience } | { ok: false; reason: string };
  leakage?: { leaked: boolean; offendingTokens: string[]; rejected: boolean };
  validation?: {
    promptText: string;
    tokens: number[];
    text: string;
    stopReason: 'stop' | 'length';
    seed: number;
    extractedAnswer: string | null;
    groundTruth: string;
    correct: boolean;
  };
  verdict?: { accepted: boolean; reason: VerdictReason; detail: string };
  internalization?: { step: number; datumId: string; nll: number; tokens: number; tokenWeight: number };
  origin: Partial<Record<StageName, TemporalOrigin>>;
}

export type DatumKind = 'grpo' | 'nll';

export interface DatumDoc {
  _id: string;
  runId: string;
  step: number;
  kind: DatumKind;
  /** The trajectory (grpo) or meta-experience (nll) this datum trains on. */
  sourceId: string;
  index: number;
  datum: Datum;
  advantage?: number;
  origin: TemporalOrigin;
}

export interface PolicyUpdateRecord {
  policyBefore?: PolicyRef;
  policyAfter: PolicyRef;
  grpoLoss: number | null;
  nllLoss: number | null;
  grpoDatums: number;
  nllDatums: number;
  optimizerMetrics: Record<string, number>;
  engineModelId: string;
  origin: TemporalOrigin;
}

export interface StepDoc {
  _id: string;
  runId: string;
  step: number;
  update?: PolicyUpdateRecord;
  /** Engine models created by policy-update attempts, so a retry can free the slots of crashed ones. */
  engineModels?: string[];
  metrics?: StepMetrics;
}

export interface StepMetrics {
  prompts: number;
  trajectories: number;
  rewardMean: number;
  passRate: number;
  mixedGroups: number;
  pairs: number;
  candidates: number;
  parsedCandidates: number;
  accepted: number;
  rejected: number;
  /** Accepted / candidates (paper App. B "retention ratio"); null when there were no candidates. */
  retentionRatio: number | null;
  grpoLoss: number | null;
  nllLoss: number | null;
  stageDurationsMs: Partial<Record<StageName, number>>;
}
