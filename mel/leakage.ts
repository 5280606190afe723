import { answerLikeSpans } from './answer-spans.js';
import { LeakageConfigSchema, type LeakageConfig, type VerifierConfig } from './config.js';
import { canonicalNumber } from './text-scan.js';
import type { Problem } from './types.js';
import { compareAnswers, type CompareSymbolically, type VerificationReason } from './verifier.js';

// The generalisation constraint of Appendix C: the Heuristics and the Reflective Summary must not mention the
// problem's specific numbers or its answer. The paper enforces it only in the prompt, and the replay (Eq. 6) sees
// the whole meta-experience: one that writes the answer down is "replay-verified" by a replay that copies it. So
// the whole text is checked, and the answer is recognised in any form the verifier accepts.

export interface LeakageReport {
  leaked: boolean;
  /**
   * The problem-specific numbers (canonical form) or answer text found, in order of first appearance, then the
   * values equivalent to the answer; the leakage policy decides what they cost.
   */
  offendingTokens: string[];
  /** Statements of the answer (\boxed{}, "answer is"): always rejected. */
  answerStatements: string[];
  answerSpans: AnswerSpanTally;
}

export interface AnswerSpanTally {
  /** Distinct answer-like spans compared with the ground truth. */
  compared: number;
  /** Of those, comparisons that ran past the verifier's deadline or failed: counted as not equivalent. */
  undecided: number;
  /** More spans followed than `maxComparedSpans`; they were not compared. */
  capReached: boolean;
}

export interface LeakageVerdict {
  report: LeakageReport;
  /** True when the answer is stated, or when the policy is 'reject' and something leaked. */
  rejected: boolean;
}

export interface LeakageSettings {
  leakage?: LeakageConfig;
  verifier?: VerifierConfig;
}

const DEFAULT_LEAKAGE = LeakageConfigSchema.parse({});

/** A run stored before a setting existed (maxComparedSpans) gets that setting's default. */
function withDefaults(config: LeakageConfig = DEFAULT_LEAKAGE): LeakageConfig {
  return { ...DEFAULT_LEAKAGE, ...config };
}

// Digits not glued to letters or other digits, so "x2" or "step3b" do not count as the number 2 or 3.
const NUMBER = /(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.])\d+(?:\.\d+)?(?![\d])/g;

export function numbersIn(text: string): string[] {
  return (text.match(NUMBER) ?? []).map(canonicalNumber);
}

function compact(text: string): string {
  return text.replace(/\s+/g, '').toLowerCase();
}

function isPlainNumber(text: string): boolean {
  return /^-?[\d,]+(?:\.\d+)?$/.test(text.trim());
}

/** Offending tokens of `text` with respect to a problem (exported for reuse on any text). */
export function leakedTokens(
  text: string,
  problem: Pick<Problem, 'question' | 'answer'>,
  config: LeakageConfig = DEFAULT_LEAKAGE,
): string[] {
  const ignored = new Set(config.ignoredNumbers.map(canonicalNumber));
  const specific = new Set(numbersIn(`${problem.question} ${problem.answer}`).filter((n) => !ignored.has(n)));
  const found = numbersIn(text).filter((n) => specific.has(n));
  const answer = compact(problem.answer);
  if (!isPlainNumber(problem.answer) && answer.length >= 2 && compact(text).includes(answer)) {
    found.push(problem.answer.trim());
  }
  return [...new Set(found)];
}

export interface AnswerMentions {
  /** \boxed{} or "answer is" statements equivalent to the ground truth, as written. */
  statements: string[];
  /** Standalone values equivalent to the ground truth (ignored numbers left out), as written. */
  values: string[];
  tally: AnswerSpanTally;
}

const UNDECIDED: ReadonlySet<VerificationReason> = new Set(['verifier-timeout', 'verifier-error']);

function isIgnoredNumber(span: string, ignored: ReadonlySet<string>): boolean {
  return isPlainNumber(span) && !span.includes('-') && ignored.has(canonicalNumber(span.trim()));
}

/**
 * The answer-like spans of `text` equal to the ground truth under the verifier's own equivalence (0.5 =
 * \frac{1}{2} = 1/2): each distinct span compared once, statements first, at most `maxComparedSpans` of them, each
 * comparison under the verifier's deadline. A tiny common number (`ignoredNumbers`) counts only when stated.
 */
export async function findAnswerMentions(
  text: string,
  answer: string,
  compare: CompareSymbolically,
  settings: LeakageSettings = {},
): Promise<AnswerMentions> {
  const { ignoredNumbers, maxComparedSpans } = withDefaults(settings.leakage);
  const ignored = new Set(ignoredNumbers.map(canonicalNumber));
  const tally: AnswerSpanTally = { compared: 0, undecided: 0, capReached: false };
  const mentions: AnswerMentions = { statements: [], values: [], tally };
  const seen = new Set<string>();
  for (const span of answerLikeSpans(text)) {
    const key = compact(span.text);
    if (key === '' || seen.has(key) || (!span.statesAnswer && isIgnoredNumber(span.text, ignored))) continue;
    if (seen.size === maxComparedSpans) {
      tally.capReached = true;
      break;
    }
    seen.add(key);
    const verdict = await compareAnswers(span.text, answer, compare, settings.verifier);
    tally.compared++;
    if (UNDECIDED.has(verdict.reason)) tally.undecided++;
    if (verdict.correct) (span.statesAnswer ? mentions.statements : mentions.values).push(span.text);
  }
  return mentions;
}

// "## 3. Title", "**2.** item", "1) item": numbering at the start of a line is layout, not one of the problem's
// numbers. The second run of blanks must follow a '#', so a line of blanks is not read quadratically.
const LINE_NUMBERING = /^[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*)?\d{1,2}[.)](?=[\s*])/gm;

/**
 * Checks `text`, everything the replay will see of a meta-experience, and applies the policy: a statement of the
 * answer is always rejected, since a replay that copies it would be "verified"; the problem's numbers and other
 * mentions of the answer are rejected only under the 'reject' policy.
 */
export async function checkLeakage(
  text: string,
  problem: Pick<Problem, 'question' | 'answer'>,
  compare: CompareSymbolically,
  settings: LeakageSettings = {},
): Promise<LeakageVerdict> {
  const leakage = withDefaults(settings.leakage);
  const content = text.replace(LINE_NUMBERING, '');
  const mentions = await findAnswerMentions(content, problem.answer, compare, settings);
  const offendingTokens = [...new Set([...leakedTokens(content, problem, leakage), ...mentions.values])];
  const statesAnswer = mentions.statements.length > 0;
  const report: LeakageReport = {
    leaked: statesAnswer || offendingTokens.length > 0,
    offendingTokens,
    answerStatements: mentions.statements,
    answerSpans: mentions.tally,
  };
  return { report, rejected: statesAnswer || (report.leaked && leakage.policy === 'reject') };
}
