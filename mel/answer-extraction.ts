import type { AnswerExtractor } from './config.js';

// Final-answer extraction from a generated solution. Order of preference (configurable):
// the last complete \boxed{...}, then the last "The answer is ...", then the last number.

export interface ExtractedAnswer {
  answer: string;
  method: AnswerExtractor;
}

const BOX_COMMAND = /\\(?:boxed|fbox)(?![a-zA-Z])/g;

/**
 * Returns the content of the brace group opening at `openIndex`, honouring nesting and
 * escaped braces (\{ \}); null when the group is never closed (e.g. truncated output).
 */
export function readBraceGroup(text: string, openIndex: number): string | null {
  if (text[openIndex] !== '{') return null;
  let depth = 0;
  for (let i = openIndex; i < text.length; i++) {
    const char = text[i];
    if (char === '\\') {
      i++; // an escaped character never opens or closes a group
      continue;
    }
    if (char === '{') depth++;
    if (char === '}') depth--;
    if (depth === 0) return text.slice(openIndex + 1, i);
  }
  return null;
}

function boxedContentAt(text: string, commandEnd: number): string | null {
  let i = commandEnd;
  while (text[i] === ' ') i++;
  if (text[i] === '{') return readBraceGroup(text, i);
  // "\boxed 5" (no braces) is valid TeX: the argument runs to the next whitespace or '$'.
  const bare = /^[^\s$]+/.exec(text.slice(i));
  return bare ? bare[0] : null;
}

export function extractBoxed(text: string): string | null {
  let last: string | null = null;
  for (const match of text.matchAll(BOX_COMMAND)) {
    const content = boxedContentAt(text, match.index + match[0].length);
    if (content !== null && content.trim() !== '') last = content.trim();
  }
  return last;
}

const ANSWER_PHRASE = /\banswer\s*(?:is\b|:|=)\s*:?\s*([^\n]+)/gi;

export function extractAnswerPhrase(text: string): string | null {
  let last: string | null = null;
  for (const match of text.matchAll(ANSWER_PHRASE)) {
    const phrase = cleanAnswerPhrase(match[1] ?? '');
    if (phrase !== '') last = phrase;
  }
  return last;
}

function cleanAnswerPhrase(phrase: string): string {
  return phrase
    .replace(/\*\*/g, '')
    .trim()
    .replace(/[.;!]+\s*$/, '')
    .trim();
}

// Thousands-separated numbers first so that "1,000" is not read as "000"; then fractions a/b; then decimals.
const NUMBER = /-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:\s*\/\s*\d+(?:\.\d+)?)?|-?\.\d+/g;

export function extractLastNumber(text: string): string | null {
  const matches = text.match(NUMBER);
  const last = matches?.[matches.length - 1];
  return last === undefined ? null : last.replace(/\s+/g, '');
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
