import { z } from 'zod';

// MEL-specific knobs. Every default is either the paper's value or, where the paper is silent,
// the choice documented in docs/mel.md ("Choices where the paper is silent").

export const ADVANTAGE_ESTIMATORS = ['grpo', 'dr_grpo', 'rloo', 'reinforce_pp', 'rft'] as const;
export type AdvantageEstimator = (typeof ADVANTAGE_ESTIMATORS)[number];

export const AdvantageConfigSchema = z.object({
  estimator: z.enum(ADVANTAGE_ESTIMATORS).default('grpo'),
  /** Added to the standard deviation before dividing (verl's GRPO default). */
  stdEpsilon: z.number().nonnegative().default(1e-6),
  /** 'sample' divides by n-1 (torch.std, as verl does); 'population' divides by n. */
  stdEstimator: z.enum(['sample', 'population']).default('sample'),
});
export type AdvantageConfig = z.infer<typeof AdvantageConfigSchema>;

export const PairConfigSchema = z.object({
  /** At most this many (correct, incorrect) pairs per mixed group; absent means all k·(G−k) pairs. */
  maxPairsPerGroup: z.number().int().positive().optional(),
  seed: z.number().int().default(0),
});
export type PairConfig = z.infer<typeof PairConfigSchema>;

export const ANSWER_EXTRACTORS = ['boxed', 'answer-phrase', 'last-number'] as const;
export type AnswerExtractor = (typeof ANSWER_EXTRACTORS)[number];

export const VerifierConfigSchema = z.object({
  /** Tried in this order; the first that finds an answer wins. */
  extractors: z.array(z.enum(ANSWER_EXTRACTORS)).min(1).default(['boxed', 'answer-phrase', 'last-number']),
  /** Relative tolerance when two answers are compared as floating-point numbers. */
  relativeTolerance: z.number().nonnegative().default(1e-9),
  /** A percentage p% also matches p/100 (it always matches p). */
  percentMatchesFraction: z.boolean().default(true),
  /** A solution longer than this (UTF-16 code units) is scored 0, reason 'output-too-large', without being read. */
  maxOutputChars: z.number().int().positive().default(65_536),
  /**
   * The symbolic comparison of one answer runs in a worker thread terminated after this long: scored 0, reason
   * 'verifier-timeout' (the Compute Engine's parser backtracks exponentially on some truncated answers).
   */
  comparisonDeadlineMs: z.number().int().positive().default(2_000),
});
export type VerifierConfig = z.infer<typeof VerifierConfigSchema>;

export const META_EXPERIENCE_MODES = ['single-call', 'chained'] as const;
export type MetaExperienceMode = (typeof META_EXPERIENCE_MODES)[number];

export const LeakageConfigSchema = z.object({
  /**
   * 'report' keeps a meta-experience that mentions the problem's numbers or its answer and records them; 'reject'
   * discards it. One that states the answer (\boxed{}, "answer is") is discarded under either policy.
   */
  policy: z.enum(['report', 'reject']).default('report'),
  /** Numbers too common to count as problem-specific, or as a mention of the answer, unless stated as the answer. */
  ignoredNumbers: z.array(z.string()).default(['0', '1', '2']),
  /** At most this many distinct answer-like spans of a meta-experience are compared with the answer, statements first. */
  maxComparedSpans: z.number().int().positive().default(32),
});
export type LeakageConfig = z.infer<typeof LeakageConfigSchema>;

export const META_EXPERIENCE_PROMPT_STYLES = ['appendix-c', 'compact'] as const;
export type MetaExperiencePromptStyle = (typeof META_EXPERIENCE_PROMPT_STYLES)[number];

/**
 * What is rejected before the replay (docs/mel.md, item 13). 'strict': a reflection that does not parse (or was cut
 * by the token limit) is rejected as `unparseable`. 'replay-only' (the paper: replay, Eq. 6, is its only filter):
 * only an empty reflection is; one that does not parse is replayed with its raw text. In both, a reflection that
 * states the answer (`states-answer`) or could not be sampled (`sampling-failed`) is never replayed.
 */
export const META_EXPERIENCE_GATES = ['strict', 'replay-only'] as const;
export type MetaExperienceGate = (typeof META_EXPERIENCE_GATES)[number];

export const MetaExperienceConfigSchema = z.object({
  mode: z.enum(META_EXPERIENCE_MODES).default('single-call'),
  gate: z.enum(META_EXPERIENCE_GATES).default('strict'),
  /** Single-call prompt: the paper's Appendix C, or a compact one for very small models (chained mode always uses Appendix C). */
  prompt: z.enum(META_EXPERIENCE_PROMPT_STYLES).default('appendix-c'),
  /** Heuristics must be phrased as conditional rules ("If … then …", "When … I should …"). */
  requireConditionalHeuristics: z.boolean().default(false),
  leakage: LeakageConfigSchema.prefault({}),
});
export type MetaExperienceConfig = z.infer<typeof MetaExperienceConfigSchema>;

/** The most replays per candidate: each is one more sampled solution of the question. */
export const MAX_VALIDATION_REPLAYS = 32;

/**
 * Validation by replay (Eq. 6): `replays` independent replays of the question with the meta-experience in context
 * (each with its own seed); accepted iff at least `minCorrect` of them verify. The paper replays once (1 of 1).
 * `minCorrect` defaults to `replays` (every replay must verify) and is filled in when parsed.
 */
export const ValidationConfigSchema = z
  .object({
    replays: z.number().int().min(1).max(MAX_VALIDATION_REPLAYS).default(1),
    minCorrect: z.number().int().min(1).optional(),
  })
  .superRefine(({ replays, minCorrect }, context) => {
    if (minCorrect !== undefined && minCorrect > replays) {
      context.addIssue({
        code: 'custom',
        path: ['minCorrect'],
        message: `must be between 1 and replays (${replays}), got ${minCorrect}`,
      });
    }
  })
  .transform(({ replays, minCorrect }) => ({ replays, minCorrect: minCorrect ?? replays }));
export type ValidationConfig = z.infer<typeof ValidationConfigSchema>;

export const GRPO_LOSS_AGGREGATIONS = ['seq-mean-token-mean', 'token-mean', 'token-sum'] as const;
export type GrpoLossAggregation = (typeof GRPO_LOSS_AGGREGATIONS)[number];

export const NLL_NORMALISATIONS = ['eq7', 'per-sequence', 'token-sum'] as const;
export type NllNormalisation = (typeof NLL_NORMALISATIONS)[number];

export const LossConfigSchema = z.object({
  /** Eq. 10: token mean per trajectory, then mean over trajectories. */
  grpoAggregation: z.enum(GRPO_LOSS_AGGREGATIONS).default('seq-mean-token-mean'),
  /** Eq. 7: token mean per meta-experience, then mean over meta-experiences. */
  nllNormalisation: z.enum(NLL_NORMALISATIONS).default('eq7'),
  /** The weight of J_NLL against J_GRPO in the step's objective (1 in Eq. 9). */
  nllCoefficient: z.number().positive().finite().default(1),
});
export type LossConfig = z.infer<typeof LossConfigSchema>;

export const DatasetConfigSchema = z.object({
  idField: z.string().min(1).default('id'),
  /** Tried in order: the first present, non-empty field is the question. Dotted paths reach nested fields. */
  questionFields: z.array(z.string().min(1)).min(1).default(['question', 'prompt', 'problem']),
  answerFields: z.array(z.string().min(1)).min(1).default(['answer', 'ground_truth']),
  /** 'skip' drops a bad row and reports it; 'fail' throws on the first bad row. */
  onBadRow: z.enum(['skip', 'fail']).default('fail'),
});
export type DatasetConfig = z.infer<typeof DatasetConfigSchema>;

export const MelConfigSchema = z.object({
  advantage: AdvantageConfigSchema.prefault({}),
  pairs: PairConfigSchema.prefault({}),
  verifier: VerifierConfigSchema.prefault({}),
  metaExperience: MetaExperienceConfigSchema.prefault({}),
  validation: ValidationConfigSchema.prefault({}),
  loss: LossConfigSchema.prefault({}),
  dataset: DatasetConfigSchema.prefault({}),
});
export type MelConfig = z.infer<typeof MelConfigSchema>;

/** Parses (and fills defaults into) a partial MEL config; throws a ZodError naming the bad field. */
export function parseMelConfig(input: unknown = {}): MelConfig {
  return MelConfigSchema.parse(input);
}
