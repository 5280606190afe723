import { leakedTokens } from '../mel/leakage.js';
import { pickOne, type Random } from '../mel/random.js';
import type { AnswerBook, KnownProblem } from './answers.js';
import type { PromptKind } from './prompt-kind.js';
import { chainedStepText, reflectionText, stateAnswer, unparseableReflectionText } from './reflection.js';
import { padToTokens, solutionText, targetLength, type IsCorrect } from './solutions.js';

// The completion text for one sampled sequence: what kind of prompt it is decides what is written.

export interface GenerationSettings {
  /** Probability that a rollout's \boxed{} answer is right. */
  pCorrect: number;
  /** Probability that a replay (validation prompt) is right. */
  pReplayCorrect: number;
  /** Share of reflections the parser rejects. */
  pUnparseable: number;
  /** Share of reflections cut short (stop reason "length"). */
  pTruncated: number;
  /** Share of reflections that write the answer down, for the leakage check to reject. */
  pStatesAnswer: number;
  /** Mean length of rollouts, replays and other text in tokens (0: natural length). */
  meanTokens: number;
  /** Mean length of reflections in tokens (0: natural length). */
  reflectionMeanTokens: number;
}

export interface Completion {
  text: string;
  /** Cut the encoded text to this share of its tokens and report stop reason "length". */
  truncateTo?: number;
}

export interface GenerationContext {
  settings: GenerationSettings;
  answers: AnswerBook;
  isCorrect: IsCorrect;
  countTokens: (text: string) => number;
}

const OTHER_LINES = [
  'Here is a short answer.',
  'I will keep this brief.',
  'This is what I can say about it.',
  'That is all I have to add.',
];

function solve(random: Random, question: string, pRight: number, ctx: GenerationContext): Completion {
  const correct = random() < pRight;
  const text = solutionText(random, ctx.answers.lookup(question), correct, ctx.isCorrect);
  return { text: padToTokens(random, text, targetLength(random, ctx.settings.meanTokens), ctx.countTokens) };
}

function lengthen(random: Random, ctx: GenerationContext, write: (extra: number) => string): string {
  const target = targetLength(random, ctx.settings.reflectionMeanTokens);
  let text = write(0);
  for (let extra = 1; ctx.countTokens(text) < target && extra <= 40; extra++) text = write(extra);
  return text;
}

function writeReflection(random: Random, step: number | null, ctx: GenerationContext): Completion {
  const parseable = random() >= ctx.settings.pUnparseable;
  const truncated = random() < ctx.settings.pTruncated;
  const text =
    step !== null
      ? chainedStepText(random, step, parseable)
      : parseable
        ? lengthen(random, ctx, (extra) => reflectionText(random, extra))
        : unparseableReflectionText(random);
  return truncated ? { text, truncateTo: 0.3 + 0.5 * random() } : { text };
}

function leaks(text: string, problem: KnownProblem | undefined): boolean {
  return problem !== undefined && leakedTokens(text, problem).length > 0;
}

/** A reflection that never contains the problem's numbers or answer (redrawn if a phrase happens to). */
function cleanReflection(
  random: Random,
  problem: KnownProblem | undefined,
  step: number | null,
  ctx: GenerationContext,
) {
  let completion = writeReflection(random, step, ctx);
  for (let attempt = 0; attempt < 8 && leaks(completion.text, problem); attempt++) {
    completion = writeReflection(random, step, ctx);
  }
  return leaks(completion.text, problem) ? { text: 'I have no reflection to offer.' } : completion;
}

/** A clean reflection, or with `pStatesAnswer` one that boxes the answer (no draw when 0: other runs stay put). */
function reflect(random: Random, question: string, step: number | null, ctx: GenerationContext): Completion {
  const problem = ctx.answers.lookup(question);
  const completion = cleanReflection(random, problem, step, ctx);
  const states =
    problem !== undefined && ctx.settings.pStatesAnswer > 0 && random() < ctx.settings.pStatesAnswer;
  return states ? { ...completion, text: stateAnswer(completion.text, problem.answer) } : completion;
}

function other(random: Random, ctx: GenerationContext): Completion {
  const text = pickOne(random, OTHER_LINES);
  return { text: padToTokens(random, text, targetLength(random, ctx.settings.meanTokens), ctx.countTokens) };
}

export function generateCompletion(random: Random, prompt: PromptKind, ctx: GenerationContext): Completion {
  switch (prompt.kind) {
    case 'rollout':
      return solve(random, prompt.question, ctx.settings.pCorrect, ctx);
    case 'replay':
      return solve(random, prompt.question, ctx.settings.pReplayCorrect, ctx);
    case 'reflection':
      return reflect(random, prompt.question, prompt.step, ctx);
    case 'other':
      return other(random, ctx);
  }
}
