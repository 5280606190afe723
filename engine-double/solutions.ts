import type { BuiltinProblem } from '../mel/builtin-dataset.js';
import { corruptWorkedSolution } from '../tiny-model/curriculum.js';
import { pickOne, randomInt, type Random } from '../mel/random.js';
import type { KnownProblem } from './answers.js';

// Rollout and replay answers: a few lines of work and a final \boxed{…}, right or wrong as decided by the caller.

/** The project's verifier, injected so this module stays pure and cheap to test. */
export type IsCorrect = (text: string, answer: string) => boolean;

const WORK_LINES = [
  'First I write down what is given.',
  'Then I work out each step in order.',
  'I combine the parts as the question asks.',
  'Finally I check the result against the question.',
];

const MAX_FILLER_LINES = 1000;

const FILLER_LINES = [
  'Let me think about this step by step.',
  'I read the question again before I start.',
  'I check each step before I go on.',
  'Let me keep the signs and the order of operations in mind.',
];

function boxed(answer: string): string {
  return `The answer is \\boxed{${answer}}.`;
}

function genericSolution(random: Random, answer: string): string {
  const lines = WORK_LINES.slice(0, randomInt(random, 2, WORK_LINES.length));
  return [...lines, boxed(answer)].join('\n');
}

/** A different value of the same shape: an integer or n/d slipped by 1–9, else a plausible integer. */
export function wrongAnswer(answer: string, random: Random): string {
  const slip = pickOne(random, [-1, 1]) * randomInt(random, 1, 9);
  const fraction = /^(-?\d+)\/(\d+)$/.exec(answer.trim());
  if (fraction) return `${Number(fraction[1]) + slip}/${fraction[2]}`;
  const value = Number(answer.trim());
  if (answer.trim() !== '' && Number.isFinite(value)) return String(value + slip);
  return String(randomInt(random, 2, 999));
}

function workedWrong(random: Random, problem: KnownProblem & { solution: string }): string {
  // corruptWorkedSolution reads only the solution and the answer; `kind` is not used.
  const asBuiltin: BuiltinProblem = { ...problem, kind: 'arithmetic' };
  try {
    return corruptWorkedSolution(asBuiltin, random).text;
  } catch {
    return genericSolution(random, wrongAnswer(problem.answer, random));
  }
}

function wrongSolution(random: Random, problem: KnownProblem): string {
  if (problem.solution !== undefined && random() < 0.7) {
    return workedWrong(random, { ...problem, solution: problem.solution });
  }
  return genericSolution(random, wrongAnswer(problem.answer, random));
}

/**
 * A solution of `problem` (undefined: a question the double does not know, answered with a plausible number).
 * A wrong one is checked with `isCorrect` and redrawn if it happens to be right.
 */
export function solutionText(
  random: Random,
  problem: KnownProblem | undefined,
  correct: boolean,
  isCorrect: IsCorrect,
): string {
  if (problem === undefined) return genericSolution(random, String(randomInt(random, 2, 99)));
  if (correct) return problem.solution ?? genericSolution(random, problem.answer);
  for (let attempt = 0; attempt < 8; attempt++) {
    const text = wrongSolution(random, problem);
    if (!isCorrect(text, problem.answer)) return text;
  }
  return 'I could not finish the computation.';
}

/** A target length: uniform in [0.5, 1.5] × mean tokens (0 when mean is 0: the text's natural length). */
export function targetLength(random: Random, meanTokens: number): number {
  return meanTokens <= 0 ? 0 : Math.round(meanTokens * (0.5 + random()));
}

/** Prepends filler lines (no digits, so the answer stays the last number) until the text has `target` tokens. */
export function padToTokens(
  random: Random,
  text: string,
  target: number,
  countTokens: (text: string) => number,
): string {
  // Lines before the text are pre-tokenized apart at each '\n', so the whole counts (nearly) as the sum of its parts:
  // each kind of line is counted once, not the whole text again per line added (quadratic at 4k-token answers,
  // minutes per request). The exact count decides at the end.
  const lineCosts = new Map<string, number>();
  const cost = (line: string) =>
    lineCosts.get(line) ?? lineCosts.set(line, countTokens(`${line}\n`)).get(line)!;
  const lines: string[] = [];
  let estimate = countTokens(text);
  const add = () => {
    const line = pickOne(random, FILLER_LINES);
    lines.push(line);
    estimate += cost(line);
  };
  while (estimate < target && lines.length < MAX_FILLER_LINES) add();
  let padded = [...lines, text].join('\n');
  while (countTokens(padded) < target && lines.length < MAX_FILLER_LINES) {
    add();
    padded = [...lines, text].join('\n');
  }
  return padded;
}
