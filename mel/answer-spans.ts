import { answerPhrases, boxedAnswers, matchingBraces } from './answer-extraction.js';

// The spans of a text that could give an answer away: statements (\boxed{…}, "the answer is …") and standalone
// values (math in $…$ or \(…\), \frac and \sqrt, numbers). Model output is hostile: every scanner is one linear
// pass and lazy, so a caller that takes a bounded number of spans does bounded work.

export interface AnswerSpan {
  text: string;
  /** Written as an answer (\boxed{} or "answer is"), not just mentioned. */
  statesAnswer: boolean;
}

interface Span {
  /** Where the construct begins, its delimiter included. */
  from: number;
  start: number;
  end: number;
}

const MATH_DELIMITERS: Readonly<Record<string, string>> = { $$: '$$', $: '$', '\\(': '\\)', '\\[': '\\]' };
const MATH_OPENER = /\$\$|\$|\\\(|\\\[/g;

/** The insides of $…$, $$…$$, \(…\) and \[…\]. An opener whose closer never follows ends that kind's scan. */
function* mathSpans(text: string): Generator<Span> {
  const opener = new RegExp(MATH_OPENER);
  const unclosed = new Set<string>();
  for (let match = opener.exec(text); match !== null; match = opener.exec(text)) {
    if (unclosed.has(match[0])) continue;
    const start = opener.lastIndex;
    const end = text.indexOf(MATH_DELIMITERS[match[0]]!, start);
    // No closer after this one means none after any later opener of the same kind: not looked for again.
    if (end < 0) unclosed.add(match[0]);
    else {
      yield { from: match.index, start, end };
      opener.lastIndex = end + MATH_DELIMITERS[match[0]]!.length;
    }
  }
}

const LATEX_VALUE = /\\(?:[dt]?frac|sqrt)(?![a-zA-Z])/g;

/** \frac{…}{…} and \sqrt{…} written outside math delimiters, with their brace groups. */
function* latexValues(text: string): Generator<Span> {
  let closing: Int32Array | undefined;
  for (const match of text.matchAll(LATEX_VALUE)) {
    closing ??= matchingBraces(text);
    const groups = match[0].endsWith('frac') ? 2 : 1;
    let end = match.index + match[0].length;
    for (let group = 0; group < groups && end >= 0; group++) end = braceGroupEnd(text, end, closing);
    if (end >= 0) yield { from: match.index, start: match.index, end };
  }
}

/** The index after the brace group that starts at `from` (spaces allowed before it), or -1. */
function braceGroupEnd(text: string, from: number, closing: Int32Array): number {
  let open = from;
  while (text[open] === ' ') open++;
  if (text[open] !== '{' || closing[open]! < 0) return -1;
  return closing[open]! + 1;
}

// Numbers not glued to words ("x12", "step3"): integers, decimals, thousands groups and fractions a/b.
const NUMBER = /(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*\/\s*\d+(?:\.\d+)?)?(?!\w)/g;

function* numbers(text: string): Generator<Span> {
  for (const match of text.matchAll(NUMBER)) {
    yield { from: match.index, start: match.index, end: match.index + match[0].length };
  }
}

const VALUE_SCANNERS = [mathSpans, latexValues, numbers] as const;

function* values(text: string): Generator<string> {
  for (const scan of VALUE_SCANNERS)
    for (const span of scan(text)) yield text.slice(span.start, span.end).trim();
}

/** The value an "answer is" phrase opens with ("31/24 and I am sure" -> "31/24"), or null. */
function leadingValue(phrase: string): string | null {
  for (const scan of VALUE_SCANNERS) {
    const first = scan(phrase).next();
    if (!first.done && first.value.from === 0) return phrase.slice(first.value.start, first.value.end).trim();
  }
  return null;
}

function* statements(text: string): Generator<string> {
  yield* boxedAnswers(text);
  for (const phrase of answerPhrases(text)) {
    yield phrase;
    const value = leadingValue(phrase);
    if (value !== null) yield value;
  }
}

/** Statements first, then values, in order within each kind; not deduplicated. */
export function* answerLikeSpans(text: string): Generator<AnswerSpan> {
  for (const span of statements(text)) yield { text: span, statesAnswer: true };
  for (const span of values(text)) yield { text: span, statesAnswer: false };
}
