/**
 * MongoDB documents of a MEL run. Every id is a business key built from run, step, prompt and sample (never
 * from an attempt), so a retried or replayed activity overwrites its own documents instead of adding new ones.
 */
import type {
  DatasetPin,
  EvalSampleKey,
  Exclusion,
  ExclusionReason,
  GrpoBatchPart,
  LeakageReport,
  MetaExperience,
  Problem,
  VerificationReason,
} from '../mel/index.js';
import type { ItemRange } from '../mel/fan-out.js';
import type { RunConfig } from '../mel/run-config.js';
import type { PolicyRef } from '../temporal/contracts/common.js';
import type { EvalDefinition, EvalResult } from '../temporal/contracts/eval.js';
import type { StageName } from '../temporal/contracts/run.js';
import type { StoredDatum } from './datum-codec.js';
import type { StoredLogprobs, StoredTokens } from './token-codec.js';

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
  grpoBatch: (runId: string, step: number, { start, end }: ItemRange) =>
    `${runId}/step-${step}/grpo-batch/p${start}-${end}`,
  datum: (runId: string, step: number, kind: DatumKind, sourceId: string) =>
    `${runId}/step-${step}/${kind}/${ids.withinRun(runId, sourceId)}`,
  /**
   * An id without its run prefix (`step-0/p1/...`): what sampling seeds derive from, so that a replay of a step
   * under another run id draws the same samples.
   */
  withinRun: (runId: string, id: string) => id.slice(runId.length + 1),
  evalProblem: (evalId: string, problemIndex: number) => `${evalId}/p${problemIndex}`,
  /** `<eval>/p<i>/greedy`, or `<eval>/p<i>/s<j>` for sampled answer j. */
  evalSample: (evalProblemId: string, sample: EvalSampleKey) =>
    `${evalProblemId}/${sample.kind === 'greedy' ? 'greedy' : `s${sample.index}`}`,
};

/** The ids of the step's prompts in `items`. */
export function promptIdsIn(runId: string, step: number, { start, end }: ItemRange): string[] {
  return Array.from({ length: end - start }, (_, offset) => ids.prompt(runId, step, start + offset));
}

export interface IdRange {
  $gte: string;
  $lt: string;
}

/**
 * A filter on `_id` matching exactly the ids under `parentId` (`<parentId>/…`): `/` is the separator of every id
 * level, and `0` the character right after it, so the range holds every id that starts with `<parentId>/` and
 * nothing else. MongoDB and the stack's FerretDB both answer it from the `_id` index (stack/ferretdb-fix.ts).
 */
export function idsUnder(parentId: string): IdRange {
  return { $gte: `${parentId}/`, $lt: `${parentId}0` };
}

/**
 * The documents of one step of a run (prompts, trajectories, rewards, pairs, meta-experiences, datums, GRPO batch
 * statistics, exclusions).
 */
export function stepScope(runId: string, step: number) {
  return { runId, step, _id: idsUnder(ids.step(runId, step)) };
}

export interface RunDoc {
  _id: string;
  config: RunConfig;
  /** The data set the run was started on; absent on runs registered before data sets were pinned. */
  data?: DatasetPin;
  baseModel: string;
  createdAt: Date;
  initialPolicy?: PolicyRef;
  /** The checkpoint the run forked from (configuration `initialPolicy`), as initPolicy found it. */
  forkedFrom?: { runId: string; step: number | null; statePath: string };
  /** Set on a replay's run (`mel replay`): the step it replays and the policy it restored. */
  replayOf?: { runId: string; step: number; policy: PolicyRef };
  workflowId: string;
}

export interface PromptDoc {
  _id: string;
  runId: string;
  step: number;
  promptIndex: number;
  problem: Problem;
  promptText: string;
  /** Through store/token-codec.ts. */
  promptTokens: StoredTokens;
  origin: TemporalOrigin;
}

/** Which engine sampled, and from which policy version (its saved state, its sampler, the updates behind it). */
export interface SampledBy {
  engine: string;
  policy: Pick<PolicyRef, 'statePath' | 'samplerPath' | 'updates'>;
}

/** One answer sampled for a problem, verbatim from the sampler, with the seed and weights that produced it. */
export interface SampledAnswer {
  problemId: string;
  sampleIndex: number;
  seed: number;
  /** Exactly the sampled ids and their logprobs, never re-encoded from the text; through store/token-codec.ts. */
  tokens: StoredTokens;
  logprobs: StoredLogprobs;
  text: string;
  stopReason: 'stop' | 'length';
  samplerPath: string;
  /** Absent on samples stored before engines and policy versions were recorded. */
  sampledBy?: SampledBy;
  origin: TemporalOrigin;
}

/** A rollout answer: its tokens and logprobs are what the policy update trains on. */
export interface TrajectoryDoc extends SampledAnswer {
  _id: string;
  runId: string;
  step: number;
  promptId: string;
}

export interface RewardDoc {
  _id: string;
  runId: string;
  step: number;
  promptId: string;
  sampleIndex: number;
  reward: 0 | 1;
  /** Why the verifier scored it so (absent on rewards stored before the reason was recorded). */
  reason?: VerificationReason;
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

/** One turn of a reflection as sampled. */
export interface SampledTurn {
  /** The prompt exactly as sampled: with the earlier turns, the retrospective context C_retro of the NLL. */
  promptTokens: number[];
  outputTokens: number[];
  text: string;
  stopReason: 'stop' | 'length';
}

/** A turn as stored: its token ids through store/token-codec.ts (`storedTurn`, `turnTokens`). */
export interface GenerationTurn extends Omit<SampledTurn, 'promptTokens' | 'outputTokens'> {
  promptTokens: StoredTokens;
  outputTokens: StoredTokens;
}

export type VerdictReason =
  | 'replay-verified'
  | 'replay-wrong-answer'
  | 'unparseable'
  | 'leaks-problem-specifics'
  /** The reflection or the replay could not be sampled (docs/mel.md, "Bad items"); the detail says which and why. */
  | 'sampling-failed'
  /** It writes the answer down (\boxed{}, "answer is"): rejected before its replay, whatever the leakage policy. */
  | 'states-answer';

/** The leakage check of a meta-experience; the fields after `offendingTokens` are absent on older candidates. */
export type LeakageRecord = Pick<LeakageReport, 'leaked' | 'offendingTokens'> &
  Partial<Pick<LeakageReport, 'answerStatements' | 'answerSpans'>> & { rejected: boolean };

/** One validation replay (Eq. 6): the policy re-solving the question with the meta-experience in context. */
/** One replay of a candidate as sampled and verified. */
export interface SampledReplay {
  /** The whole replay prompt, meta-experience included (its raw text when it did not parse, gate 'replay-only'). */
  promptText: string;
  tokens: number[];
  text: string;
  stopReason: 'stop' | 'length';
  seed: number;
  extractedAnswer: string | null;
  groundTruth: string;
  correct: boolean;
  /** Why the verifier scored the replay so (absent on replays verified before the reason was recorded). */
  verifierReason?: VerificationReason;
  /** Absent on replays stored before engines and policy versions were recorded. */
  sampledBy?: SampledBy;
}

/** A replay as stored: its token ids through store/token-codec.ts (number arrays in replays stored before). */
export interface ReplayRecord extends Omit<SampledReplay, 'tokens'> {
  tokens: StoredTokens;
}

/** Every replay of a candidate, in order (replay 0 first); empty when it was not replayed. */
export function replaysOf(doc: Pick<MetaExperienceDoc, 'validation' | 'laterReplays'>): ReplayRecord[] {
  return doc.validation ? [doc.validation, ...(doc.laterReplays ?? [])] : [];
}

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
    /** The policy's sampler at the time (the policy reflects unless `reflector` names another engine). */
    samplerPath: string;
    /** An external reflection engine that wrote the turns instead of the policy. */
    reflector?: string;
    /** The policy's engine and version when the policy wrote the turns (absent with a reflector, and on older ones). */
    sampledBy?: SampledBy;
    /** Why a turn could not be sampled; `turns` holds the ones before it. */
    failure?: Exclusion;
  };
  parse: { ok: true; metaExperience: MetaExperience } | { ok: false; reason: string };
  leakage?: LeakageRecord;
  /** The first replay (replay 0), where it has always been; `replaysOf` gives all of them. */
  validation?: ReplayRecord;
  /** Replays 1 … k−1 when `mel.validation.replays` is k > 1 (absent when k = 1, and on older candidates). */
  laterReplays?: ReplayRecord[];
  verdict?: { accepted: boolean; reason: VerdictReason; detail: string };
  internalization?: { step: number; datumId: string; nll: number; tokens: number; tokenWeight: number };
  origin: Partial<Record<StageName, TemporalOrigin>>;
}

/**
 * An item of a step left out as unusable (docs/mel.md, "Bad items"), under the business key the item would have
 * had: `<run>/step-n/p<i>` for a whole prompt, `…/p<i>/s<j>` for one of its samples.
 */
export interface ExclusionDoc {
  _id: string;
  runId: string;
  step: number;
  stage: StageName;
  promptId: string;
  /** Absent when the whole prompt was excluded. */
  sampleIndex?: number;
  reason: ExclusionReason;
  /** What exactly was wrong, in the engine's words where it gave any. */
  detail: string;
  origin: TemporalOrigin;
}

export type DatumKind = 'grpo' | 'nll';

/**
 * One prompt chunk's GRPO datum count and batch statistics (`<run>/step-n/grpo-batch/p<start>-<end>`): the policy
 * update sums the step's and scales the chunks' datums by the step's factor (mel/grpo-batch.ts). A document of its
 * own, not a field of the step's: FerretDB rewrites a whole document on update, so concurrent chunks setting fields of
 * one document would lose each other's writes.
 */
export interface GrpoBatchDoc extends GrpoBatchPart {
  _id: string;
  runId: string;
  step: number;
  items: ItemRange;
}

export interface DatumDoc {
  _id: string;
  runId: string;
  step: number;
  kind: DatumKind;
  /** The trajectory (grpo) or meta-experience (nll) this datum trains on. */
  sourceId: string;
  index: number;
  /** Through store/datum-codec.ts. */
  datum: StoredDatum;
  /**
   * The rollout's group advantage (GRPO datums); built a chunk at a time under REINFORCE++, before the division by
   * the batch's standard deviation, which the policy update applies (mel/grpo-batch.ts).
   */
  advantage?: number;
  /** Copied from the sample it trains on, for the policy update's check that it came from the policy it updates. */
  sampledBy?: SampledBy;
  origin: TemporalOrigin;
}

export interface PolicyUpdateRecord {
  policyBefore?: PolicyRef;
  policyAfter: PolicyRef;
  grpoLoss: number | null;
  nllLoss: number | null;
  grpoDatums: number;
  nllDatums: number;
  /** The NLL of each meta-experience trained on, copied onto it (absent on records written before this field). */
  internalized?: {
    metaExperienceId: string;
    datumId: string;
    nll: number;
    tokens: number;
    tokenWeight: number;
  }[];
  optimizerMetrics: Record<string, number>;
  engineModelId: string;
  /**
   * Where the update started: the model the worker kept loaded from the previous update, or the previous policy's
   * saved state restored into a fresh model (absent on records written before models were kept).
   */
  startedFrom?: 'kept-model' | 'saved-state';
  /**
   * The GRPO datums were sent to this model while the step's reflection stages sampled (`accumulateGrpoGradients`),
   * and the update sent the NLL datums after them; absent when the update sent both.
   */
  grpoSentWhileReflecting?: true;
  /**
   * Zero-weight datums sent after the NLL datums so that the engine's datum count, by which it divides the gradient
   * (SkyRL), is the one the GRPO datums sent while reflecting were scaled for (mel/objective.ts, `countOnlyDatums`).
   */
  countOnlyDatums?: number;
  origin: TemporalOrigin;
}

export interface StepDoc {
  _id: string;
  runId: string;
  step: number;
  /** Written once: a later write (a stale attempt's) changes nothing. */
  update?: PolicyUpdateRecord;
  /** Engine models created by policy-update attempts, so a retry can free the slots of crashed ones. */
  engineModels?: string[];
  /**
   * How many datums internalize wrote, of each kind: the policy update normalises by the step's count before it has
   * read them all (absent on steps internalized before the count was recorded). A step whose GRPO datums were
   * built a prompt chunk at a time counts them in its GrpoBatchDocs instead.
   */
  datums?: Partial<Record<DatumKind, number>>;
  /** Set when `checkpoints.keepLast` deleted the policy this step saved (its state and sampler weights). */
  checkpointsPruned?: { at: Date; keepLast: number; afterStep: number };
  metrics?: StepMetrics;
}

export interface StepMetrics {
  prompts: number;
  trajectories: number;
  passRate: number;
  mixedGroups: number;
  pairs: number;
  candidates: number;
  parsedCandidates: number;
  accepted: number;
  rejected: number;
  /** Rollout items left out as unusable (absent on steps recorded before items were isolated). */
  excludedPrompts?: number;
  excludedSamples?: number;
  /** Accepted / candidates (paper App. B "retention ratio"); null when there were no candidates. */
  retentionRatio: number | null;
  grpoLoss: number | null;
  nllLoss: number | null;
  stageDurationsMs: Partial<Record<StageName, number>>;
}

/** One `mel eval`: what it evaluates and, once finished, its metrics. Keyed by the eval id. */
export interface EvalDoc {
  _id: string;
  definition: EvalDefinition;
  workflowId: string;
  createdAt: Date;
  problems: number;
  status: 'running' | 'completed';
  result?: EvalResult;
  origin: { prepare: TemporalOrigin; finish?: TemporalOrigin };
}

/** A problem of the held-out data, with its rollout prompt as sampled. */
export interface EvalProblemDoc {
  _id: string;
  evalId: string;
  problemIndex: number;
  problem: Problem;
  promptText: string;
  promptTokens: StoredTokens;
  origin: TemporalOrigin;
}

/** One answer of the policy to an eval problem: the greedy one or one of the k sampled ones, and its score. */
export interface EvalSampleDoc extends SampledAnswer {
  _id: string;
  evalId: string;
  problemIndex: number;
  kind: EvalSampleKey['kind'];
  /** `sampleIndex` is 0 for the greedy answer. */
  temperature: number;
  /** Set by scoring. */
  verification?: {
    correct: boolean;
    /** Absent on answers scored before the reason was recorded. */
    reason?: VerificationReason;
    extractedAnswer: string | null;
    extractionMethod: string | null;
    groundTruth: string;
    origin: TemporalOrigin;
  };
}

/** Who wrote a write-once field first, and what (store/writes.ts `setOnce`): `<collection>/<document id>/<key>`. */
export interface WriteOnceDoc {
  _id: string;
  /** The fields, by path (FerretDB v1 stores no nested arrays). */
  set: { path: string; value: unknown }[];
}
