// Validation by replay (paper Eq. 6) and what is rejected before it: which text the replay sees, the seed item of
// each replay, and the acceptance rule over several replays (docs/mel.md, items 11 and 13).
import { ValidationConfigSchema, type MetaExperienceGate, type ValidationConfig } from './config.js';
import type { MetaExperience } from './types.js';
import type { VerificationReason } from './verifier.js';

/** The reflection's generated text as the parser read it: one turn, or the chained turns joined by a blank line. */
export function reflectionText(turnTexts: readonly string[]): string {
  return turnTexts.join('\n\n');
}

/** The parse result as stored with a candidate (the raw text is not stored twice: it is in the turns). */
export type StoredParse = { ok: true; metaExperience: MetaExperience } | { ok: false; reason: string };

export type ReplayGate =
  /** Replay with `experience` in the prompt; `unparsed` is the parse failure when it did not parse. */
  | { replay: true; experience: string; unparsed?: string }
  | { replay: false; reason: 'unparseable'; detail: string };

/**
 * Whether a sampled reflection goes on to its replay, and with which text (the leakage check reads the same text).
 * A parsed one is replayed with its raw text, under either gate. One that did not parse is rejected as
 * `unparseable` under 'strict'; under 'replay-only' (the paper) only when its text is empty, and otherwise replayed
 * with its raw text, exactly as generated. Sampling failures and stated answers are decided elsewhere, in both.
 */
export function gateForReplay(
  gate: MetaExperienceGate,
  parse: StoredParse,
  turnTexts: readonly string[],
): ReplayGate {
  if (parse.ok) return { replay: true, experience: parse.metaExperience.rawText };
  const text = reflectionText(turnTexts);
  if (gate === 'strict') return { replay: false, reason: 'unparseable', detail: parse.reason };
  if (text.trim() === '') {
    const detail = parse.reason.startsWith('empty-output') ? parse.reason : `empty-output (${parse.reason})`;
    return { replay: false, reason: 'unparseable', detail };
  }
  return { replay: true, experience: text, unparsed: parse.reason };
}

/** What is replayed and how often; a run stored before these settings existed gets their defaults (strict, 1 of 1). */
export function replaySettings(mel: {
  metaExperience: { gate?: MetaExperienceGate };
  validation?: Partial<ValidationConfig>;
}): ValidationConfig & { gate: MetaExperienceGate } {
  return { gate: mel.metaExperience.gate ?? 'strict', ...ValidationConfigSchema.parse(mel.validation ?? {}) };
}

/**
 * The item a replay's sampling seed derives from: replay 0 keeps the candidate's own item (so the seed of a single
 * replay is what it always was), replay i > 0 appends `/replay-i`.
 */
export function replaySeedItem(candidateItem: string, replay: number): string {
  return replay === 0 ? candidateItem : `${candidateItem}/replay-${replay}`;
}

/** What the acceptance rule reads of one replay. */
export interface ReplayOutcome {
  correct: boolean;
  extractedAnswer: string | null;
  verifierReason?: VerificationReason;
}

export interface ReplayDecision {
  accepted: boolean;
  /** How many replays verified. */
  correct: number;
  detail: string;
}

/**
 * Accepted iff at least `minCorrect` of the replays verify. One replay keeps the original wording ("replay answered
 * 13, which matches 13"); several say how many verified: "2 of 3 replays answered 5, 2 needed; the other answered 7".
 */
export function decideReplays(
  replays: readonly ReplayOutcome[],
  minCorrect: number,
  groundTruth: string,
): ReplayDecision {
  const correct = replays.filter((replay) => replay.correct).length;
  const accepted = correct >= minCorrect;
  const [only] = replays;
  if (replays.length === 1 && only) {
    const detail = only.correct
      ? `replay answered ${only.extractedAnswer}, which matches ${groundTruth}`
      : `replay answered ${only.extractedAnswer ?? NO_ANSWER}, expected ${groundTruth}${unjudged(only)}`;
    return { accepted, correct, detail };
  }
  const wrong = replays.filter((replay) => !replay.correct);
  const others =
    wrong.length === 0
      ? ''
      : `; the other${wrong.length === 1 ? '' : 's'} answered ${wrong.map(answerOf).join(', ')}`;
  const detail = `${correct} of ${replays.length} replays answered ${groundTruth}, ${minCorrect} needed${others}`;
  return { accepted, correct, detail };
}

const NO_ANSWER = '(no answer found)';

/** "12", or "(no answer found)", and why when the verifier scored it 0 unjudged (too large, timed out). */
function answerOf(replay: ReplayOutcome): string {
  return `${replay.extractedAnswer ?? NO_ANSWER}${unjudged(replay)}`;
}

function unjudged({ verifierReason: reason }: ReplayOutcome): string {
  return !reason || reason === 'not-equivalent' || reason === 'no-answer' ? '' : ` (${reason})`;
}
