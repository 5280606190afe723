import { LeakageConfigSchema, type LeakageConfig } from './config.js';
import { canonicalNumber } from './text-scan.js';
import type { MetaExperience, Problem } from './types.js';

// The generalisation constraint of Appendix C: the Heuristics and the Reflective Summary must not
// mention the problem's specific numbers or its answer.

export interface LeakageReport {
  leaked: boolean;
  /** The problem-specific numbers (canonical form) or answer text found, in order of first appearance. */
  offendingTokens: string[];
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
  config: LeakageConfig = LeakageConfigSchema.parse({}),
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

/** Checks the heuristics and the reflective summary of a meta-experience. */
export function findLeakage(
  metaExperience: Pick<MetaExperience, 'heuristics' | 'reflectiveSummary'>,
  problem: Pick<Problem, 'question' | 'answer'>,
  config: LeakageConfig = LeakageConfigSchema.parse({}),
): LeakageReport {
  const text = [...metaExperience.heuristics, metaExperience.reflectiveSummary].join('\n');
  const offendingTokens = leakedTokens(text, problem, config);
  return { leaked: offendingTokens.length > 0, offendingTokens };
}

export interface LeakageVerdict {
  report: LeakageReport;
  /** True when the policy is 'reject' and something leaked. */
  rejected: boolean;
}

/** Applies the configured policy: 'report' keeps every candidate, 'reject' drops those that leak. */
export function applyLeakagePolicy(
  metaExperience: Pick<MetaExperience, 'heuristics' | 'reflectiveSummary'>,
  problem: Pick<Problem, 'question' | 'answer'>,
  config: LeakageConfig = LeakageConfigSchema.parse({}),
): LeakageVerdict {
  const report = findLeakage(metaExperience, problem, config);
  return { report, rejected: report.leaked && config.policy === 'reject' };
}
