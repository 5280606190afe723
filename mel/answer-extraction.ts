import type { AnswerExtractor } from './config.js';
import { isWhitespace, oneOf, skipWhile, trimEndWhile } from './text-scan.js';

// Final-answer extraction from a generated solution. Order of preference (configurable):
// the last complete \boxed{...}, then the last "The answer is ...", then the last number.
// Every extractor is one linear pass: model output can be long and hostile (see docs/architecture.md).

export interface ExtractedAnswer {
  answer: string;
  method: AnswerExtractor;
}

const BOX_COMMAND = /\\(?:boxed|fbox)(?![a-zA-Z])/g;

/**
 * For each '{' of `text`, the index of its matching '}' (-1 when it is never closed, e.g. truncated output);
 * an escaped character (\{ \}) never opens or closes a group.
 */
export function matchingBraces(text: string): Int32Array {
  const closing = new Int32Array(text.length).fill(-1);
  const open: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '\\') i++;
    else if (char === '{') open.push(i);
    else if (char === '}' && open.length > 0) closing[open.pop()!] = i;
  }
  return closing;
}

interface Span {
  start: number;
  end: number;
}

const ENDS_BARE_ARGUMENT = (char: string) => isWhitespace(char) || char === '$';

/** The argument of the box command ending at `commandEnd`: a non-blank brace group, or a bare "\boxed 5". */
function boxArgument(text: string, commandEnd: number, closing: Int32Array): Span | null {
  const start = skipWhile(text, commandEnd, (char) => char === ' ');
  if (start === text.length) return null;
  if (text[start] === '{') {
    const end = closing[start]!;
    // Only the whitespace right after this brace is scanned, so all the scans together stay linear.
    const blank = end < 0 || skipWhile(text, start + 1, isWhitespace) >= end;
    return blank ? null : { start: start + 1, end };
  }
  // "\boxed 5" (no braces) is valid TeX: the argument runs to the next whitespace or '$'.
  if (ENDS_BARE_ARGUMENT(text[start]!)) return null;
  return { start, end: -1 };
}

interface BoxArgument extends Span {
  /** Where the next box command starts (the text's length after the last one). */
  nextCommand: number;
}

/** The argument of every box command, in order; a bare argument's end is left to `argumentText`. */
function* boxArguments(text: string): Generator<BoxArgument> {
  const commands = text.matchAll(BOX_COMMAND);
  let closing: Int32Array | undefined;
  for (let command = commands.next(); !command.done;) {
    const next = commands.next();
    closing ??= matchingBraces(text);
    const span = boxArgument(text, command.value.index + command.value[0].length, closing);
    if (span !== null) yield { ...span, nextCommand: next.done ? text.length : next.value.index };
    command = next;
  }
}

/** The argument's text; a bare one runs to the next whitespace or '$', or to `limit`. */
function argumentText(text: string, span: Span, limit = text.length): string {
  const end =
    span.end >= 0 ? span.end : skipWhile(text, span.start, (char) => !ENDS_BARE_ARGUMENT(char), limit);
  return text.slice(span.start, end).trim();
}

export function extractBoxed(text: string): string | null {
  let last: Span | null = null;
  for (const span of boxArguments(text)) last = span;
  // The end of a bare argument is looked for only for the winner: doing it for each would be quadratic.
  return last === null ? null : argumentText(text, last);
}

/**
 * Every box argument in order, lazily. A bare argument also ends at the next box command, so that all of them
 * together are read in linear time ("\boxed\boxed\boxed…").
 */
export function* boxedAnswers(text: string): Generator<string> {
  for (const span of boxArguments(text)) yield argumentText(text, span, span.nextCommand);
}

const ANSWER_WORD = /\banswer/gi;
const ANSWER_VERB = /\s*(?:is\b|:|=)/iy;

/** The rest of the line after "answer is", "answer:" or "answer =" at `wordEnd`, or null. */
function answerPhraseAt(text: string, wordEnd: number): Span | null {
  ANSWER_VERB.lastIndex = wordEnd;
  if (!ANSWER_VERB.test(text)) return null;
  const colon = skipWhile(text, ANSWER_VERB.lastIndex, isWhitespace);
  const hasColon = text[colon] === ':';
  const start = hasColon ? skipWhile(text, colon + 1, isWhitespace) : colon;
  if (start < text.length) {
    const newline = text.indexOf('\n', start);
    return { start, end: newline < 0 ? text.length : newline };
  }
  // Nothing follows. The regex this scan replaces then backtracked into the colon and read "answer is:" as ":";
  // kept so that verdicts do not change.
  const onlyLineBreaksAfterColon = hasColon && !/[^\n]/.test(text.slice(colon + 1));
  return onlyLineBreaksAfterColon ? { start: colon, end: colon + 1 } : null;
}

/** Every non-empty "answer is …" phrase in order, lazily (the rest of its line, cleaned). */
export function* answerPhrases(text: string): Generator<string> {
  const word = new RegExp(ANSWER_WORD); // its own lastIndex: callers may interleave generators
  for (let match = word.exec(text); match !== null; match = word.exec(text)) {
    const span = answerPhraseAt(text, word.lastIndex);
    if (span === null) continue;
    const phrase = cleanAnswerPhrase(text.slice(span.start, span.end));
    if (phrase !== '') yield phrase;
    word.lastIndex = span.end;
  }
}

export function extractAnswerPhrase(text: string): string | null {
  let last: string | null = null;
  for (const phrase of answerPhrases(text)) last = phrase;
  return last;
}

function cleanAnswerPhrase(phrase: string): string {
  return trimEndWhile(phrase.replace(/\*\*/g, '').trim(), oneOf('.;!')).trim();
}

// Thousands-separated numbers first so that "1,000" is not read as "000"; then fractions a/b; then decimals.
const NUMBER = /-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:\s*\/\s*\d+(?:\.\d+)?)?|-?\.\d+/g;

export function extractLastNumber(text: string): string | null {
  let last: string | null = null;
  for (const match of text.matchAll(NUMBER)) last = match[0];
  return last === null ? null : last.replace(/\s+/g, '');
}

const EXTRACTORS: Record<AnswerExtractor, (text: string) => string | null> = {
  boxed: extractBoxed,
  'answer-phrase': extractAnswerPhrase,
  'last-number': extractLastNumber,
};

export function extractFinalAnswer(
  text: string,
  extractors: readonly AnswerExtractor[] = ['boxed', 'answer-phrase', 'last-number'],
): ExtractedAnswer | null {
  for (const method of extractors) {
    const answer = EXTRACTORS[method](text);
    if (answer !== null) return { answer, method };
  }
  return null;
}
