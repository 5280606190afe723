import { extractBoxed, extractFinalAnswer, type ExtractedAnswer } from './answer-extraction.js';
import { VerifierConfigSchema, type AnswerExtractor, type VerifierConfig } from './config.js';
import { nearlyEqual, symbolicallyEquivalent, type SymbolicComparison } from './symbolic.js';
import { canonicalNumber, either, isWhitespace, oneOf, skipWhile, trimEndWhile } from './text-scan.js';

// The rule-based verifier V(y, y*) of paper Eq. 1. Surface clean-up (dollar signs, units, thousands
// separators, \dfrac, ...) is done on the string in linear time; the mathematics (LaTeX parsing, exact rationals,
// radicals, symbolic equality) is left to the Compute Engine (mel/symbolic.ts), which on model output runs in a
// worker thread under a deadline: `verifySolution` takes that comparison as `compare` (mel/verifier-pool.ts).

export interface NormalisedAnswer {
  /** LaTeX after clean-up, ready for the parser. */
  latex: string;
  /** The answer carried a percent sign (removed from `latex`). */
  percent: boolean;
}

export const VERIFICATION_REASONS = [
  'equivalent',
  'not-equivalent',
  'no-answer',
  /** The solution is longer than `maxOutputChars`: scored 0 unread. */
  'output-too-large',
  /** The symbolic comparison ran past `comparisonDeadlineMs`: scored 0, its worker thread terminated. */
  'verifier-timeout',
  /** The symbolic comparison's worker thread died (e.g. out of memory): scored 0. */
  'verifier-error',
] as const;
export type VerificationReason = (typeof VERIFICATION_REASONS)[number];

/** What a symbolic comparison run under a deadline can end with. */
export type SymbolicOutcome = Extract<
  VerificationReason,
  'equivalent' | 'not-equivalent' | 'verifier-timeout' | 'verifier-error'
>;

/** Runs a symbolic comparison under a deadline, off the caller's event loop (mel/verifier-pool.ts). */
export type CompareSymbolically = (
  comparison: SymbolicComparison,
  deadlineMs: number,
) => Promise<SymbolicOutcome>;

export interface Verdict {
  correct: boolean;
  reason: VerificationReason;
}

export interface Verification extends Verdict {
  /** The final answer found in the solution, or null when none was found. */
  extracted: string | null;
  method: AnswerExtractor | null;
}

const DEFAULT_CONFIG = VerifierConfigSchema.parse({});

/** A run stored before a setting existed (maxOutputChars, comparisonDeadlineMs) gets that setting's default. */
function withDefaults(config: VerifierConfig): VerifierConfig {
  return { ...DEFAULT_CONFIG, ...config };
}

// A text command, and the exponent of a unit written after it ("15\mbox{ cm}^2").
const TEXT_COMMAND = /\\(?:text|textbf|textrm|mathrm|mbox|rm)\s*\{([^{}]*)\}(\s*\^\s*(?:\{\s*\d\s*\}|\d))?/g;
const UNIT_WORDS = /^[\sA-Za-z.]*$/;
// A row break (\\) is matched first so that its second backslash is never read as "\ " (a space) and dropped.
const SPACING_COMMANDS = /\\\\|\\[,;:! ]|~/g;
// "10,\!080" and "11,\! 111,\! 100": the thin-space-less thousands separator of MATH's answers.
const THOUSANDS_SEPARATOR = /,\\!\s*(?=\d)/g;
// \frac takes two arguments, each a brace group or a single character: "\frac9{19}", "\frac{270}7".
const FRAC_BARE_FIRST = /\\frac\s*([A-Za-z0-9])\s*(?=\{)/g;
const FRAC_BARE_SECOND = /\\frac\s*(\{[^{}]*\})\s*([A-Za-z0-9])/g;
const DEGREES = /\^\s*\{?\\circ\}?|\\circ|\\degree|°/g;
const THOUSANDS = /^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/;
const NUMBER_THEN_WORDS = /^(-?[\d.,/]+)\s+[A-Za-z][A-Za-z.\s]*$/;
const VARIABLE_ASSIGNMENT = /^[A-Za-z](?:_\{?\w+\}?)?\s*(?:=|\\in(?![A-Za-z]))\s*(.+)$/s;
const PLAIN_DECIMAL = /^-?\d+(?:\.\d+)?$/;

function stripMathDelimiters(text: string): string {
  let result = text.trim();
  for (const [open, close] of [
    ['$$', '$$'],
    ['$', '$'],
    ['\\(', '\\)'],
    ['\\[', '\\]'],
  ] as const) {
    if (result.startsWith(open) && result.endsWith(close) && result.length >= open.length + close.length) {
      result = result.slice(open.length, result.length - close.length).trim();
    }
  }
  return result;
}

/**
 * Keeps the words of \text{...} unless they are a trailing unit after a value ("10\text{ cm}"), which goes with its
 * exponent ("15\mbox{ cm}^2" is 15, not 15^2).
 */
function unwrapTextCommands(text: string): string {
  const firstVisible = skipWhile(text, 0, isWhitespace);
  return text.replace(
    TEXT_COMMAND,
    (whole, content: string, exponent: string | undefined, offset: number) => {
      const isUnit = UNIT_WORDS.test(content) && firstVisible < offset;
      return isUnit ? '' : content + (exponent ?? '');
    },
  );
}

/** "50\%" -> "50" and whether a percent sign was there; `text` is trimmed. */
function splitPercent(text: string): NormalisedAnswer {
  if (!text.endsWith('%')) return { latex: text, percent: false };
  const sign = text.endsWith('\\%') ? 2 : 1;
  return { latex: text.slice(0, -sign).trim(), percent: true };
}

export function normaliseAnswer(raw: string): NormalisedAnswer {
  let text = stripMathDelimiters(raw);
  const boxed = extractBoxed(text);
  if (boxed !== null) text = boxed;
  text = text
    .replace(/\\displaystyle/g, '')
    .replace(/\\[dt]frac/g, '\\frac')
    .replace(FRAC_BARE_FIRST, '\\frac{$1}')
    .replace(FRAC_BARE_SECOND, '\\frac$1{$2}')
    .replace(/\\left|\\right/g, '')
    .replace(/\{,\}/g, ',')
    .replace(THOUSANDS_SEPARATOR, ',')
    .replace(SPACING_COMMANDS, (command) => (command === '\\\\' ? command : ''))
    .replace(DEGREES, '')
    .replace(/\\\$|\$/g, '')
    .replace(/(?<!\\)\bsqrt\(([^()]*)\)/g, '\\sqrt{$1}');
  const { latex, percent } = splitPercent(unwrapTextCommands(text).trim());
  text = trimEndWhile(latex, either(oneOf('.'), isWhitespace));
  const assignment = VARIABLE_ASSIGNMENT.exec(text);
  if (assignment?.[1] !== undefined) text = assignment[1].trim();
  const numberThenWords = NUMBER_THEN_WORDS.exec(text);
  if (numberThenWords?.[1] !== undefined) text = numberThenWords[1];
  if (THOUSANDS.test(text)) text = text.replace(/,/g, '');
  return { latex: text, percent };
}

function candidates(answer: NormalisedAnswer, config: VerifierConfig): string[] {
  const forms = [answer.latex];
  if (answer.percent && config.percentMatchesFraction) forms.push(`\\frac{${answer.latex}}{100}`);
  return forms;
}

function compact(latex: string): string {
  return latex.replace(/\s+/g, '').toLowerCase();
}

/** "-007.50" -> "-7.5", "-0.0" -> "0": two decimals are equal exactly when their canonical forms are. */
function canonicalDecimal(text: string): string {
  const magnitude = canonicalNumber(text.replace(/^-/, ''));
  return text.startsWith('-') && magnitude !== '0' ? `-${magnitude}` : magnitude;
}

/** Two plain decimals as the Compute Engine compares them: integers exactly, others within the tolerance. */
function decimalsEqual(a: string, b: string, relativeTolerance: number): boolean {
  const [x, y] = [canonicalDecimal(a), canonicalDecimal(b)];
  if (x === y) return true;
  if (!x.includes('.') && !y.includes('.')) return false;
  const [u, v] = [Number(x), Number(y)];
  return Number.isFinite(u) && Number.isFinite(v) && nearlyEqual(u, v, relativeTolerance);
}

const verdictOf = (reason: VerificationReason): Verdict => ({ correct: reason === 'equivalent', reason });

type Plan = { verdict: Verdict } | { symbolic: SymbolicComparison };

/** The verdict where it needs no Compute Engine (empty answers, equal strings, plain decimals), else the comparison. */
function planComparison(predicted: string, groundTruth: string, config: VerifierConfig): Plan {
  const forms = {
    predicted: candidates(normaliseAnswer(predicted), config),
    truth: candidates(normaliseAnswer(groundTruth), config),
  };
  if (forms.predicted[0] === '' || forms.truth[0] === '') return { verdict: verdictOf('not-equivalent') };
  const pairs = forms.predicted.flatMap((p) => forms.truth.map((t) => [p, t] as const));
  if (pairs.some(([p, t]) => compact(p) === compact(t))) return { verdict: verdictOf('equivalent') };
  if (pairs.every(([p, t]) => PLAIN_DECIMAL.test(p) && PLAIN_DECIMAL.test(t))) {
    const equal = pairs.some(([p, t]) => decimalsEqual(p, t, config.relativeTolerance));
    return { verdict: verdictOf(equal ? 'equivalent' : 'not-equivalent') };
  }
  return { symbolic: { ...forms, relativeTolerance: config.relativeTolerance } };
}

/** Mathematical equivalence of two final answers (both may be LaTeX or plain text), bounded by the deadline. */
export async function compareAnswers(
  predicted: string,
  groundTruth: string,
  compare: CompareSymbolically,
  config: VerifierConfig = DEFAULT_CONFIG,
): Promise<Verdict> {
  const plan = planComparison(predicted, groundTruth, config);
  if ('verdict' in plan) return plan.verdict;
  return verdictOf(await compare(plan.symbolic, withDefaults(config).comparisonDeadlineMs));
}

/**
 * The same on the calling thread with no deadline: only for answers this code wrote itself (the built-in data set,
 * the engine double's corrupted answers); model output goes through `compareAnswers`.
 */
export function answersEquivalent(
  predicted: string,
  groundTruth: string,
  config: VerifierConfig = DEFAULT_CONFIG,
): boolean {
  const plan = planComparison(predicted, groundTruth, config);
  return 'verdict' in plan ? plan.verdict.correct : symbolicallyEquivalent(plan.symbolic);
}

/** The final answer of a solution, or the verification that ends without one (none found, output too large). */
function readFinalAnswer(solution: string, config: VerifierConfig): ExtractedAnswer | Verification {
  const unread = { correct: false, extracted: null, method: null } as const;
  if (solution.length > withDefaults(config).maxOutputChars) return { ...unread, reason: 'output-too-large' };
  return extractFinalAnswer(solution, config.extractors) ?? { ...unread, reason: 'no-answer' };
}

/** V(y, y*): extracts the final answer of a solution and compares it with the ground truth, under the deadline. */
export async function verifySolution(
  solution: string,
  groundTruth: string,
  compare: CompareSymbolically,
  config: VerifierConfig = DEFAULT_CONFIG,
): Promise<Verification> {
  const found = readFinalAnswer(solution, config);
  if ('reason' in found) return found;
  const verdict = await compareAnswers(found.answer, groundTruth, compare, config);
  return { ...verdict, extracted: found.answer, method: found.method };
}

/** `verifySolution` on the calling thread with no deadline: only for solutions this code wrote itself. */
export function verifyTrustedSolution(
  solution: string,
  groundTruth: string,
  config: VerifierConfig = DEFAULT_CONFIG,
): Verification {
  const found = readFinalAnswer(solution, config);
  if ('reason' in found) return found;
  const correct = answersEquivalent(found.answer, groundTruth, config);
  return {
    ...verdictOf(correct ? 'equivalent' : 'not-equivalent'),
    extracted: found.answer,
    method: found.method,
  };
}

/** What the store keeps of one verification: the verdict and why, the answer read from the solution and how, the truth. */
export interface VerificationRecord {
  correct: boolean;
  reason: VerificationReason;
  extractedAnswer: string | null;
  extractionMethod: string | null;
  groundTruth: string;
}

export async function verificationRecord(
  solution: string,
  groundTruth: string,
  compare: CompareSymbolically,
  config?: VerifierConfig,
): Promise<VerificationRecord> {
  const verdict = await verifySolution(solution, groundTruth, compare, config);
  return {
    correct: verdict.correct,
    reason: verdict.reason,
    extractedAnswer: verdict.extracted,
    extractionMethod: verdict.method,
    groundTruth,
  };
}

/** r_i = 1[V(y_i, y*) = 1] (paper Eq. 1). */
export async function binaryReward(
  solution: string,
  groundTruth: string,
  compare: CompareSymbolically,
  config?: VerifierConfig,
): Promise<0 | 1> {
  return (await verifySolution(solution, groundTruth, compare, config)).correct ? 1 : 0;
}
