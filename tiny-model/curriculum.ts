import type { BuiltinKind, BuiltinProblem } from '../mel/builtin-dataset.js';
import type { MetaExperiencePromptStyle } from '../mel/config.js';
import {
  FIELD_LABELS,
  SECTION_TITLES,
  metaExperienceMessagesFor,
  rolloutMessages,
  validationMessages,
} from '../mel/prompts.js';
import { deriveSeed, pickOne, randomInt, seededRandom, type Random } from '../mel/random.js';
import type { ChatMessage } from '../mel/types.js';

// Synthetic SFT curriculum that warm-starts a tiny random model so that it can take part in MEL:
// (a) worked solutions in the rollout format, (b) short, template-made reflections in the
// Meta-Experience format for (correct, wrong) pairs whose wrong solution has one corrupted step.

export type CurriculumKind = 'rollout' | 'reflection';

/**
 * Context of a reflection example: the whole Appendix C prompt, or the compact prompt (the same input block after
 * one instruction line), about ten times shorter and so much cheaper to train on. MEL samples with the one its
 * run configuration names.
 */
export type ReflectionContext = MetaExperiencePromptStyle;

/** One supervised example: the prompt messages and the assistant reply to learn. */
export interface SftExample {
  kind: CurriculumKind;
  problemId: string;
  messages: ChatMessage[];
  completion: string;
}

export type CorruptionKind = 'arithmetic-slip' | 'sign-error';

export interface CorruptedSolution {
  text: string;
  /** 1-based index of the corrupted step among the solution's lines. */
  failureStep: number;
  corruption: CorruptionKind;
  /** The corrupted step as it appears in `text`. */
  failureLine: string;
  wrongAnswer: string;
}

const ANSWER_LINE = /^The answer is \\boxed\{.*\}\.$/;
/** A step that ends with its result: "... = 43", "... = -7" or "... = 35/56". */
const STEP_RESULT = /=\s*(-?\d+(?:\/\d+)?)\s*$/;

function stepLines(solution: string): string[] {
  return solution.split('\n').filter((line) => !ANSWER_LINE.test(line));
}

/** "n" or "n/d" with the numerator slipped by a non-zero amount or negated; never equal to the input. */
export function corruptValue(value: string, corruption: CorruptionKind, random: Random): string {
  const [numeratorText = '', denominator] = value.split('/');
  const numerator = Number(numeratorText);
  const slip = pickOne(random, [-1, 1]) * randomInt(random, 1, 9);
  const flipped = corruption === 'sign-error' && numerator !== 0 ? -numerator : numerator + slip;
  return denominator === undefined ? String(flipped) : `${flipped}/${denominator}`;
}

/** The worked solution with one step's result corrupted, cut off there, ending in a wrong \boxed{}. */
export function corruptWorkedSolution(problem: BuiltinProblem, random: Random): CorruptedSolution {
  const steps = stepLines(problem.solution);
  const candidates = steps.flatMap((line, index) => (STEP_RESULT.test(line) ? [index] : []));
  const index = pickOne(random, candidates);
  const corruption = pickOne(random, ['arithmetic-slip', 'sign-error'] as const);
  const original = steps[index] ?? '';
  const result = STEP_RESULT.exec(original)?.[1] ?? '';
  const wrongResult = corruptValue(result, corruption, random);
  const failureLine = original.replace(STEP_RESULT, `= ${wrongResult}`);
  const isLastStep = index === steps.length - 1;
  const wrongAnswer = isLastStep ? wrongResult : corruptValue(problem.answer, corruption, random);
  const text = [...steps.slice(0, index), failureLine, `The answer is \\boxed{${wrongAnswer}}.`].join('\n');
  return { text, failureStep: index + 1, corruption, failureLine, wrongAnswer };
}

// Short, plain wording (mostly words of the tiny tokenizer's vocabulary) keeps a reflection near 150 tokens.
const TOPICS: Record<BuiltinKind, { topic: string; check: string }> = {
  arithmetic: { topic: 'sum', check: 'carry and borrow' },
  precedence: { topic: 'order of operations', check: 'product first' },
  'fraction-sum': { topic: 'fraction sum', check: 'common denominator' },
  'fraction-product': { topic: 'fraction product', check: 'numerator and denominator' },
  percent: { topic: 'percent', check: 'product and quotient' },
  linear: { topic: 'equation', check: 'both sides' },
};

const SLIPS: Record<CorruptionKind, { what: string; defect: string }> = {
  'arithmetic-slip': { what: 'an error in the result', defect: 'I did not check the result.' },
  'sign-error': { what: 'a sign error', defect: 'I did not check the sign.' },
};

/** A short, well-formed reflection with the four Appendix C sections; the last two never quote the problem. */
export function templateReflection(kind: BuiltinKind, wrong: CorruptedSolution): string {
  const { topic, check } = TOPICS[kind];
  return [
    `## 1. ${SECTION_TITLES.failure}`,
    `**${FIELD_LABELS.failurePoint}:** step ${wrong.failureStep} of Solution 1, ${SLIPS[wrong.corruption].what}.`,
    SLIPS[wrong.corruption].defect,
    `## 2. ${SECTION_TITLES.success}`,
    'Solution 2 checked each step.',
    `## 3. ${SECTION_TITLES.summary}`,
    `I will check each ${topic} step.`,
    `## 4. ${SECTION_TITLES.heuristics}`,
    `- If a ${topic} step is not checked, then check it.`,
    `- When I solve a ${topic}, I must verify the ${check}.`,
  ].join('\n');
}

export function rolloutSftExample(problem: BuiltinProblem): SftExample {
  return {
    kind: 'rollout',
    problemId: problem.id,
    messages: rolloutMessages(problem),
    completion: problem.solution,
  };
}

/** A Meta-Experience prompt for (worked solution, corrupted solution) and its template reflection. */
export function reflectionSftExample(
  problem: BuiltinProblem,
  seed: number,
  context: ReflectionContext = 'appendix-c',
): SftExample {
  const wrong = corruptWorkedSolution(problem, seededRandom(deriveSeed(seed, problem.id)));
  const input = {
    question: problem.question,
    incorrectSolution: wrong.text,
    correctSolution: problem.solution,
  };
  return {
    kind: 'reflection',
    problemId: problem.id,
    messages: metaExperienceMessagesFor(context, input),
    completion: templateReflection(problem.kind, wrong),
  };
}

/** The replay prompt with a template reflection as the experience, answered by the worked solution. */
export function validationSftExample(problem: BuiltinProblem, seed: number): SftExample {
  const wrong = corruptWorkedSolution(problem, seededRandom(deriveSeed(seed, problem.id)));
  return {
    kind: 'rollout',
    problemId: problem.id,
    messages: validationMessages(templateReflection(problem.kind, wrong), problem),
    completion: problem.solution,
  };
}

export interface Curriculum {
  rollouts: SftExample[];
  reflections: SftExample[];
  /** The same reflections after the compact Meta-Experience prompt. */
  compactReflections: SftExample[];
  /** Worked solutions after the validation (replay) prompt. */
  validations: SftExample[];
}

/** Per problem: one rollout example and one reflection example in both contexts; deterministic per seed. */
export function buildCurriculum(problems: readonly BuiltinProblem[], seed = 0): Curriculum {
  return {
    rollouts: problems.map(rolloutSftExample),
    reflections: problems.map((problem) => reflectionSftExample(problem, seed)),
    compactReflections: problems.map((problem) => reflectionSftExample(problem, seed, 'compact')),
    validations: problems.map((problem) => validationSftExample(problem, seed)),
  };
}
