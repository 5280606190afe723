// MEL core: everything Meta-Experience Learning computes without I/O (paper arXiv 2602.10224).
// See docs/mel.md for the map from the paper's equations and prompts to these functions.
// Free of Node built-ins so that workflow code may import it; file reading is in mel/node.ts, the verifier's
// worker threads in mel/verifier-pool.ts.

export type * from './types.js';
export * from './config.js';
export {
  extractFinalAnswer,
  extractBoxed,
  extractAnswerPhrase,
  extractLastNumber,
} from './answer-extraction.js';
export type { ExtractedAnswer } from './answer-extraction.js';
export {
  normaliseAnswer,
  answersEquivalent,
  compareAnswers,
  verifySolution,
  verifyTrustedSolution,
  verificationRecord,
  binaryReward,
  VERIFICATION_REASONS,
} from './verifier.js';
export type {
  CompareSymbolically,
  NormalisedAnswer,
  SymbolicOutcome,
  Verdict,
  Verification,
  VerificationReason,
  VerificationRecord,
} from './verifier.js';
export type { SymbolicComparison } from './symbolic.js';
export {
  computeAdvantages,
  grpoAdvantages,
  drGrpoAdvantages,
  rlooAdvantages,
  reinforcePlusPlusAdvantages,
  rftAdvantages,
  isMixedGroup,
  MIN_GROUP_SIZE,
} from './advantages.js';
export { groupSamples, sampleAdvantages, summariseRewards, type RewardSummary } from './groups.js';
export type { ScoredSample } from './groups.js';
export { allContrastivePairs, selectContrastivePairs, selectSamplePairs } from './pairs.js';
export { sampleDefect, screenSamples } from './screening.js';
export type {
  Exclusion,
  ExclusionReason,
  SampleToScreen,
  ScreenedSamples,
  ScreeningRules,
} from './screening.js';
export {
  ANSWER_FORMAT_INSTRUCTION,
  SECTION_TITLES,
  CHAINED_STEP_COUNT,
  rolloutMessages,
  metaExperiencePrompt,
  metaExperienceMessages,
  compactMetaExperiencePrompt,
  metaExperienceMessagesFor,
  chainedMetaExperienceMessages,
  validationPrompt,
  validationMessages,
} from './prompts.js';
export type { ContrastiveInput } from './prompts.js';
export { parseMetaExperience, parseChainedMetaExperience } from './parser.js';
export type { ParseOptions, ChainedOutputs } from './parser.js';
export { checkLeakage, findAnswerMentions, leakedTokens } from './leakage.js';
export type {
  AnswerMentions,
  AnswerSpanTally,
  LeakageReport,
  LeakageSettings,
  LeakageVerdict,
} from './leakage.js';
export { decideReplays, gateForReplay, reflectionText, replaySeedItem, replaySettings } from './replays.js';
export type { ReplayDecision, ReplayGate, ReplayOutcome, StoredParse } from './replays.js';
export { answerLikeSpans } from './answer-spans.js';
export type { AnswerSpan } from './answer-spans.js';
export {
  IM_START,
  IM_END,
  END_OF_TEXT,
  QWEN3_STOP_TOKEN,
  renderMessage,
  renderGenerationPrompt,
  renderContinuation,
  completionText,
} from './chat.js';
export type { Decoder } from './chat.js';
export { createTokenizer } from './tokenizer.js';
export type { MelTokenizer } from './tokenizer.js';
export {
  rolloutDatum,
  rolloutDatums,
  rolloutCoefficients,
  nllDatum,
  nllDatums,
  nllTokenWeight,
  trainedTokenCount,
  singleCallNllExample,
  chainedNllExample,
  datumNll,
} from './datums.js';
export type { RolloutSample, RolloutBatch, NllExample, NllSegment, DatumNll } from './datums.js';
export {
  UNIT_BATCH,
  chunkAdvantageConfig,
  combineGrpoBatch,
  grpoBatchPart,
  grpoBatchScale,
  scaleAdvantages,
  type GrpoBatchPart,
} from './grpo-batch.js';
export {
  LOSS_REDUCTIONS,
  countOnlyDatums,
  dividesByDatumCount,
  grpoCall,
  nllCall,
  nllNeedsCurrentLogprobs,
  surrogateLoss,
} from './objective.js';
export type { EngineCall, LossReduction, ObjectiveLossFn, SurrogateConfig } from './objective.js';
export {
  parseJsonlProblems,
  rowsToProblems,
  describeBadRow,
  describeSkippedRows,
  unverifiableAnswer,
  requireProblems,
  assertUnchanged,
  DatasetError,
  DatasetRowError,
} from './dataset.js';
export type { BadRow, DatasetLoadResult, DatasetPin, NumberedRow } from './dataset.js';
export {
  generateBuiltinDataset,
  builtinProblems,
  formatWorkedSolution,
  BUILTIN_KINDS,
} from './builtin-dataset.js';
export type { BuiltinProblem, BuiltinKind, BuiltinDatasetOptions } from './builtin-dataset.js';
export { seededRandom, deriveSeed, shuffle } from './random.js';
export {
  passAtK,
  evalMetrics,
  evalSampleSeed,
  problemOutcomes,
  EvalSettingsSchema,
  EvalIdSchema,
} from './eval.js';
export type { EvalMetrics, EvalSettings, ProblemOutcome, EvalSampleKey, ScoredAnswer } from './eval.js';
