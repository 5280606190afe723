import { describe, expect, it } from 'vitest';
import {
  BUILTIN_KINDS,
  answersEquivalent,
  builtinProblems,
  extractFinalAnswer,
  generateBuiltinDataset,
  verifyTrustedSolution,
} from '../../../mel/index.js';

const dataset = generateBuiltinDataset();

/** The expression a "Compute ..." question asks for, in a form the verifier's engine evaluates. */
function computedExpression(question: string): string | null {
  const match = /^Compute (.+?)\.(?: Give|$)/.exec(question);
  return match?.[1]?.replace(/\*/g, '\\times ') ?? null;
}

describe('built-in data set', () => {
  it('has 300 distinct problems by default, every kind in equal share', () => {
    expect(dataset).toHaveLength(300);
    expect(new Set(dataset.map((p) => p.id)).size).toBe(300);
    expect(new Set(dataset.map((p) => p.question)).size).toBe(300);
    for (const kind of BUILTIN_KINDS) expect(dataset.filter((p) => p.kind === kind)).toHaveLength(50);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    expect(generateBuiltinDataset({ seed: 0 })).toEqual(dataset);
    expect(generateBuiltinDataset({ seed: 1 }).map((p) => p.question)).not.toEqual(
      dataset.map((p) => p.question),
    );
    expect(generateBuiltinDataset({ seed: 5, count: 12 })).toHaveLength(12);
  });

  it('answers "Compute ..." questions correctly, checked by evaluating the question with the math engine', () => {
    const computed = dataset.filter((p) => computedExpression(p.question) !== null);
    expect(computed.length).toBe(200);
    for (const problem of computed) {
      expect([
        problem.question,
        answersEquivalent(computedExpression(problem.question) ?? '', problem.answer),
      ]).toEqual([problem.question, true]);
    }
  });

  it('answers linear equations and percentages correctly, checked by substitution', () => {
    for (const problem of dataset.filter((p) => p.kind === 'linear')) {
      const [, a, sign, b, c] = /^Solve for x: (\d+)x ([+-]) (\d+) = (-?\d+)\.$/.exec(problem.question) ?? [];
      const x = Number(problem.answer);
      expect(Number.isInteger(x)).toBe(true);
      expect(Number(a) * x + (sign === '+' ? 1 : -1) * Number(b)).toBe(Number(c));
    }
    for (const problem of dataset.filter((p) => p.kind === 'percent')) {
      const [, percent, base] = /^What is (\d+)% of (\d+)\?$/.exec(problem.question) ?? [];
      expect(Number(problem.answer) * 100).toBe(Number(percent) * Number(base));
    }
  });

  it('gives fraction answers in lowest terms', () => {
    const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
    for (const problem of dataset.filter((p) => p.kind.startsWith('fraction'))) {
      const [n, d] = problem.answer.split('/').map(Number);
      if (d !== undefined) expect(gcd(Math.abs(n ?? 0), d)).toBe(1);
      expect(d === undefined || d > 1).toBe(true);
    }
  });

  it('writes short step-by-step solutions that end in \\boxed{answer} and verify as correct', () => {
    for (const problem of dataset) {
      const lines = problem.solution.split('\n');
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines.length).toBeLessThanOrEqual(5);
      expect(lines[lines.length - 1]).toBe(`The answer is \\boxed{${problem.answer}}.`);
      expect(extractFinalAnswer(problem.solution)?.method).toBe('boxed');
      expect(verifyTrustedSolution(problem.solution, problem.answer).correct).toBe(true);
    }
  });

  it('builtinProblems exposes plain problems', () => {
    expect(builtinProblems({ count: 2 })).toEqual(
      dataset.slice(0, 2).map(({ id, question, answer }) => ({ id, question, answer })),
    );
  });
});
