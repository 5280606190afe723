import { FIELD_LABELS, SECTION_TITLES } from './prompts.js';
import type { MetaExperience, MetaExperienceParse } from './types.js';

// Generated text -> structured meta-experience. Lenient about markdown decoration (#, **, numbering),
// strict about content: every failure is a rejected candidate with a reason, never an exception.

type SectionKey = keyof typeof SECTION_TITLES;

/** Words a heading must start with (after its decoration is removed) to open each section. */
const SECTION_HEADINGS: Record<SectionKey, RegExp> = {
  failure: /^(?:failure resolution|error pattern)/i,
  success: /^(?:analysis of success|success factors)/i,
  summary: /^(?:first-person reflective summary|reflective summary)/i,
  heuristics: /^(?:subject heuristics|heuristics)/i,
};

const SECTION_ORDER: readonly SectionKey[] = ['failure', 'success', 'summary', 'heuristics'];

export interface ParseOptions {
  /** The generation stopped on the token limit rather than on its stop token. */
  truncated?: boolean;
  /** Reject heuristics that are not phrased as conditional rules (If/When ...). */
  requireConditionalHeuristics?: boolean;
}

interface Heading {
  key: SectionKey;
  lineIndex: number;
}

/** "## 1. **Failure Resolution Path**:" -> "Failure Resolution Path". */
function headingText(line: string): string {
  return line
    .trim()
    .replace(/^#{1,6}\s*/, '')
    .replace(/^\*\*|\*\*:?$/g, '')
    .replace(/^(?:section\s*)?\d+\s*[.):]?\s*/i, '')
    .replace(/^\*\*/, '')
    .trim();
}

/** A heading is short and decorated (markdown #, bold, numbering) or ends with a colon. */
function isHeadingLine(line: string): boolean {
  const trimmed = line.trim();
  if (trimmed.length === 0 || trimmed.length > 120 || /^[-*•]\s/.test(trimmed)) return false;
  return /^(?:#{1,6}\s|\*\*|\d+[.)]\s)/.test(trimmed) || trimmed.endsWith(':');
}

function findHeadings(lines: readonly string[]): Heading[] {
  const headings: Heading[] = [];
  lines.forEach((line, lineIndex) => {
    if (!isHeadingLine(line)) return;
    const text = headingText(line);
    const key = SECTION_ORDER.find((k) => SECTION_HEADINGS[k].test(text));
    if (key !== undefined && !headings.some((h) => h.key === key)) headings.push({ key, lineIndex });
  });
  return headings;
}

/** The body of each section found: the lines between its heading and the next heading. */
export function splitSections(text: string): Partial<Record<SectionKey, string>> {
  const lines = text.split(/\r?\n/);
  const headings = findHeadings(lines);
  const sections: Partial<Record<SectionKey, string>> = {};
  headings.forEach((heading, i) => {
    const end = headings[i + 1]?.lineIndex ?? lines.length;
    sections[heading.key] = lines
      .slice(heading.lineIndex + 1, end)
      .join('\n')
      .trim();
  });
  return sections;
}

const BULLET = /^\s*(?:[-*•]|\d+[.)])\s+/;

/** Bullet items of a list (continuation lines join their item); plain lines when there are no bullets. */
export function parseHeuristicItems(body: string): string[] {
  const lines = body.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (!lines.some((line) => BULLET.test(line))) return lines.map((line) => line.trim());
  const items: string[] = [];
  for (const line of lines) {
    if (BULLET.test(line)) items.push(line.replace(BULLET, '').trim());
    else if (items.length > 0) items[items.length - 1] += ` ${line.trim()}`;
  }
  return items.filter((item) => item !== '');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// A line break and the blank space after it, as one match: matched from each line break of a long blank run,
// `\n\s*` would rescan the rest of the run every time (quadratic).
const BREAK_AND_BLANKS = /\n\s*/g;
const BOLD_LABEL = /(?:[-*]\s*)?\*\*[^*\n]+\*\*/y;

/** Where the next line that starts with a bold label ("**Why:**", "- **Why:**") begins, or the text's length. */
function nextLabelLine(text: string): number {
  BREAK_AND_BLANKS.lastIndex = 0;
  for (let blank = BREAK_AND_BLANKS.exec(text); blank !== null; blank = BREAK_AND_BLANKS.exec(text)) {
    BOLD_LABEL.lastIndex = BREAK_AND_BLANKS.lastIndex;
    if (BOLD_LABEL.test(text)) return blank.index;
  }
  return text.length;
}

/** The text after "**Label:**" up to the next bold label line, or null when the label is absent. */
export function labelledField(body: string, label: string): string | null {
  const pattern = new RegExp(`(?:\\*\\*)?${escapeRegExp(label)}(?:\\*\\*)?\\s*:?\\s*(?:\\*\\*)?\\s*:?`, 'i');
  const match = pattern.exec(body);
  if (match === null) return null;
  const rest = body.slice(match.index + match[0].length);
  return rest.slice(0, nextLabelLine(rest)).trim();
}

const CONDITIONAL = /\b(?:if|when|whenever)\b/i;

function reject(reason: string, rawText: string): MetaExperienceParse {
  return { ok: false, reason, rawText };
}

function checkHeuristics(heuristics: readonly string[], options: ParseOptions): string | null {
  if (heuristics.length === 0) return 'empty-heuristics';
  if (options.requireConditionalHeuristics && !heuristics.every((h) => CONDITIONAL.test(h))) {
    return 'non-conditional-heuristics';
  }
  return null;
}

function missingOrEmpty(
  sections: Partial<Record<SectionKey, string>>,
  keys: readonly SectionKey[],
): string | null {
  const missing = keys.filter((k) => sections[k] === undefined);
  if (missing.length > 0) return `missing-sections: ${missing.join(', ')}`;
  const empty = keys.filter((k) => sections[k] === '');
  if (empty.length > 0) return `empty-sections: ${empty.join(', ')}`;
  return null;
}

function assemble(
  parts: Omit<MetaExperience, 'heuristics' | 'rawText'>,
  heuristicsBody: string,
  rawText: string,
  options: ParseOptions,
): MetaExperienceParse {
  const heuristics = parseHeuristicItems(heuristicsBody);
  const problem = checkHeuristics(heuristics, options);
  if (problem !== null) return reject(problem, rawText);
  return { ok: true, metaExperience: { ...parts, heuristics, rawText } };
}

/** Critique C: the latent cognitive pattern (error attribution) followed by the success-factor analysis. */
function critiqueOf(failureBody: string, successBody: string): string {
  const latent = labelledField(failureBody, FIELD_LABELS.latentPattern);
  return [latent, successBody].filter((part) => part !== null && part !== '').join('\n\n');
}

/** Single-call mode: one text with the four sections of Appendix C. */
export function parseMetaExperience(rawText: string, options: ParseOptions = {}): MetaExperienceParse {
  if (rawText.trim() === '') return reject('empty-output', rawText);
  if (options.truncated) return reject('truncated', rawText);
  const sections = splitSections(rawText);
  const problem = missingOrEmpty(sections, SECTION_ORDER);
  if (problem !== null) return reject(problem, rawText);
  const failure = sections.failure ?? '';
  return assemble(
    {
      bifurcationPoint: labelledField(failure, FIELD_LABELS.failurePoint) || failure,
      critique: critiqueOf(failure, sections.success ?? ''),
      reflectiveSummary: sections.summary ?? '',
    },
    sections.heuristics ?? '',
    rawText,
    options,
  );
}

export interface ChainedOutputs {
  bifurcation: string;
  critique: string;
  heuristics: string;
}

/** Chained mode: the three step outputs (Eqs. 2, 3, 4); `truncated` flags any step cut by the token limit. */
export function parseChainedMetaExperience(
  outputs: ChainedOutputs,
  options: ParseOptions = {},
): MetaExperienceParse {
  const rawText = [outputs.bifurcation, outputs.critique, outputs.heuristics].join('\n\n');
  if (options.truncated) return reject('truncated', rawText);
  const emptyStep = (['bifurcation', 'critique', 'heuristics'] as const).find(
    (k) => outputs[k].trim() === '',
  );
  if (emptyStep !== undefined) return reject(`empty-output: ${emptyStep} step`, rawText);
  const finalSections = splitSections(outputs.heuristics);
  const problem = missingOrEmpty(finalSections, ['summary', 'heuristics']);
  if (problem !== null) return reject(problem, rawText);
  const critiqueSections = splitSections(outputs.critique);
  const critique =
    critiqueSections.failure !== undefined || critiqueSections.success !== undefined
      ? critiqueOf(critiqueSections.failure ?? '', critiqueSections.success ?? '')
      : outputs.critique.trim();
  return assemble(
    {
      bifurcationPoint:
        labelledField(outputs.bifurcation, FIELD_LABELS.failurePoint) || outputs.bifurcation.trim(),
      critique: critique || outputs.critique.trim(),
      reflectiveSummary: finalSections.summary ?? '',
    },
    finalSections.heuristics ?? '',
    rawText,
    options,
  );
}
