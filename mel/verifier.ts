import { ComputeEngine } from '@cortex-js/compute-engine';
import { extractBoxed, extractFinalAnswer } from './answer-extraction.js';
import { VerifierConfigSchema, type AnswerExtractor, type VerifierConfig } from './config.js';
import { either, isWhitespace, oneOf, skipWhile, trimEndWhile } from './text-scan.js';

// The rule-based verifier V(y, y*) of paper Eq. 1. Surface clean-up (dollar signs, units, thousands
// separators, \dfrac, ...) is done on the string, in linear time; the mathematics (LaTeX parsing, exact
// rationals, radicals, symbolic equality) is left to the Compute Engine.

export interface NormalisedAnswer {
  /** LaTeX after clean-up, ready for the parser. */
  latex: string;
  /** The answer carried a percent sign (removed from `latex`). */
  percent: boolean;
}

export interface Verification {
  correct: boolean;
  /** The final answer found in the solution, or null when none was found. */
  extracted: string | null;
  method: AnswerExtractor | null;
}

// The package's own .d.ts re-exports do not resolve under NodeNext; take the type from parse().
type BoxedExpression = ReturnType<ComputeEngine['parse']>;

let engine: ComputeEngine | undefined;
function computeEngine(): ComputeEngine {
  if (engine === undefined) {
    engine = new ComputeEngine();
    // Enough digits that large integers (2^100 against its 31 digits) compare exactly.
    engine.precision = 100;
  }
  return engine;
}

const TEXT_COMMAND = /\\(?:text|textbf|textrm|mathrm|mbox|rm)\s*\{([^{}]*)\}/g;
const UNIT_WORDS = /^[\sA-Za-z.]*$/;
const SPACING_COMMANDS = /\\[,;:! ]|~/g;
const DEGREES = /\^\s*\{?\\circ\}?|\\circ|\\degree|°/g;
const THOUSANDS = /^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/;
const NUMBER_THEN_WORDS = /^(-?[\d.,/]+)\s+[A-Za-z][A-Za-z.\s]*$/;
const VARIABLE_ASSIGNMENT = /^[A-Za-z](?:_\{?\w+\}?)?\s*=\s*(.+)$/s;

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

/** Keeps the words of \text{...} unless they are a trailing unit after a value ("10\text{ cm}"). */
function unwrapTextCommands(text: string): string {
  const firstVisible = skipWhile(text, 0, isWhitespace);
  return text.replace(TEXT_COMMAND, (whole, content: string, offset: number) => {
    const isUnit = UNIT_WORDS.test(content) && firstVisible < offset;
    return isUnit ? '' : content;
  });
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
    .replace(/\\left|\\right/g, '')
    .replace(/\{,\}/g, ',')
    .replace(SPACING_COMMANDS, '')
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

function parse(latex: string): BoxedExpression | null {
  try {
    const expression = computeEngine().parse(latex);
    return expression.isValid ? expression : null;
  } catch {
    return null;
  }
}

function numericValue(expression: BoxedExpression): number | null {
  if (expression.freeVariables.length > 0) return null;
  const value = expression.N().re;
  return Number.isFinite(value) ? value : null;
}

function nearlyEqual(a: number, b: number, relativeTolerance: number): boolean {
  return Math.abs(a - b) <= relativeTolerance * Math.max(Math.abs(a), Math.abs(b), Number.MIN_VALUE);
}

function mathematicallyEqual(left: BoxedExpression, right: BoxedExpression, config: VerifierConfig): boolean {
  if (left.isEqual(right) === true) return true;
  // Two integers are either equal or not: no tolerance (2^100 differs from 2^100 + 1).
  if (left.evaluate().isInteger === true && right.evaluate().isInteger === true) return false;
  const x = numericValue(left);
  const y = numericValue(right);
  return x !== null && y !== null && nearlyEqual(x, y, config.relativeTolerance);
}

function latexEquivalent(a: string, b: string, config: VerifierConfig): boolean {
  const compact = (s: string) => s.replace(/\s+/g, '').toLowerCase();
  if (compact(a) === compact(b)) return true;
  const left = parse(a);
  const right = parse(b);
  if (left === null || right === null) return false;
  try {
    return mathematicallyEqual(left, right, config);
  } catch {
    return false; // the engine throws on some malformed inputs (e.g. odd tuples): not equivalent
  }
}

/** Mathematical equivalence of two final answers (both may be LaTeX or plain text). */
export function answersEquivalent(
  predicted: string,
  groundTruth: string,
  config: VerifierConfig = VerifierConfigSchema.parse({}),
): boolean {
  const predictedForms = candidates(normaliseAnswer(predicted), config);
  const truthForms = candidates(normaliseAnswer(groundTruth), config);
  if (predictedForms[0] === '' || truthForms[0] === '') return false;
  return predictedForms.some((p) => truthForms.some((t) => latexEquivalent(p, t, config)));
}

/** V(y, y*): extracts the final answer of a solution and compares it with the ground truth. */
export function verifySolution(
  solution: string,
  groundTruth: string,
  config: VerifierConfig = VerifierConfigSchema.parse({}),
): Verification {
  const extracted = extractFinalAnswer(solution, config.extractors);
  if (extracted === null) return { correct: false, extracted: null, method: null };
  return {
    correct: answersEquivalent(extracted.answer, groundTruth, config),
    extracted: extracted.answer,
    method: extracted.method,
  };
}

/** What the store keeps of one verification: the verdict, the answer read from the solution and how, the truth. */
export interface VerificationRecord {
  correct: boolean;
  extractedAnswer: string | null;
  extractionMethod: string | null;
  groundTruth: string;
}

export function verificationRecord(
  solution: string,
  groundTruth: string,
  config?: VerifierConfig,
): VerificationRecord {
  const verdict = verifySolution(solution, groundTruth, config);
  return {
    correct: verdict.correct,
    extractedAnswer: verdict.extracted,
    extractionMethod: verdict.method,
    groundTruth,
  };
}

/** r_i = 1[V(y_i, y*) = 1] (paper Eq. 1). */
export function binaryReward(solution: string, groundTruth: string, config?: VerifierConfig): 0 | 1 {
  return verifySolution(solution, groundTruth, config).correct ? 1 : 0;
}
