import type { BuiltinProblem } from '../mel/builtin-dataset.js';
import type { Problem } from '../mel/types.js';

// The double knows the answers: the problems it was given, looked up by their question text as found in a prompt.

export interface KnownProblem extends Problem {
  /** A worked solution ending in \boxed{answer} (built-in problems have one). */
  solution?: string;
}

export interface AnswerBook {
  lookup(question: string): KnownProblem | undefined;
  readonly size: number;
}

function key(question: string): string {
  return question.replace(/\s+/g, ' ').trim();
}

export function createAnswerBook(problems: readonly (Problem | BuiltinProblem)[]): AnswerBook {
  const byQuestion = new Map<string, KnownProblem>();
  for (const problem of problems) {
    if (!byQuestion.has(key(problem.question))) byQuestion.set(key(problem.question), problem);
  }
  return {
    lookup: (question) => byQuestion.get(key(question)),
    size: byQuestion.size,
  };
}
