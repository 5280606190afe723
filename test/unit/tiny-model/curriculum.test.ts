import { describe, expect, it } from 'vitest';
import {
  buildCurriculum,
  corruptValue,
  corruptWorkedSolution,
  reflectionSftExample,
  templateReflection,
} from '../../../tiny-model/curriculum.js';
import {
  SECTION_TITLES,
  deriveSeed,
  generateBuiltinDataset,
  leakedTokens,
  metaExperienceMessages,
  parseMetaExperience,
  rolloutMessages,
  seededRandom,
  verifyTrustedSolution,
} from '../../../mel/index.js';

const problems = generateBuiltinDataset();
const curriculum = buildCurriculum(problems, 7);

describe('curriculum: rollout examples', () => {
  it('pairs every rollout prompt with its worked solution, which the verifier accepts', () => {
    expect(curriculum.rollouts).toHaveLength(problems.length);
    curriculum.rollouts.forEach((example, i) => {
      const problem = problems[i]!;
      expect(example).toEqual({
        kind: 'rollout',
        problemId: problem.id,
        messages: rolloutMessages(problem),
        completion: problem.solution,
      });
      expect(verifyTrustedSolution(example.completion, problem.answer).correct).toBe(true);
    });
  });
});

describe('curriculum: corrupted solutions', () => {
  it('corrupts one step with a result, keeps the steps before it, and ends in a wrong \\boxed{} answer', () => {
    problems.forEach((problem, i) => {
      const wrong = corruptWorkedSolution(problem, seededRandom(i));
      const lines = wrong.text.split('\n');
      const originalLines = problem.solution.split('\n');
      expect(lines.slice(0, wrong.failureStep - 1)).toEqual(originalLines.slice(0, wrong.failureStep - 1));
      expect(lines[wrong.failureStep - 1]).toBe(wrong.failureLine);
      expect(wrong.failureLine).not.toBe(originalLines[wrong.failureStep - 1]);
      expect(lines.at(-1)).toBe(`The answer is \\boxed{${wrong.wrongAnswer}}.`);
      expect(verifyTrustedSolution(wrong.text, problem.answer).correct, wrong.text).toBe(false);
    });
  });

  it('uses both kinds of corruption and fails at different steps', () => {
    const corrupted = problems.map((problem, i) => corruptWorkedSolution(problem, seededRandom(i)));
    expect(new Set(corrupted.map((c) => c.corruption))).toEqual(new Set(['arithmetic-slip', 'sign-error']));
    expect(new Set(corrupted.map((c) => c.failureStep)).size).toBeGreaterThan(2);
  });

  it('changes a value: a slip moves the numerator, a sign error negates it', () => {
    const random = seededRandom(3);
    for (const value of ['43', '-7', '35/56', '0']) {
      expect(corruptValue(value, 'arithmetic-slip', random)).not.toBe(value);
      expect(corruptValue(value, 'sign-error', random)).not.toBe(value);
    }
    expect(corruptValue('35/56', 'sign-error', random)).toBe('-35/56');
    expect(corruptValue('-7', 'sign-error', random)).toBe('7');
  });
});

describe('curriculum: reflection examples', () => {
  it('puts the corrupted solution first and the worked solution second in the Meta-Experience prompt', () => {
    const problem = problems[0]!;
    const example = reflectionSftExample(problem, 7);
    const wrong = corruptWorkedSolution(problem, seededRandom(deriveSeed(7, problem.id)));
    const input = {
      question: problem.question,
      incorrectSolution: wrong.text,
      correctSolution: problem.solution,
    };
    expect(example).toEqual({
      kind: 'reflection',
      problemId: problem.id,
      messages: metaExperienceMessages(input),
      completion: templateReflection(problem.kind, wrong),
    });
    expect(example.messages[0]!.content).toContain(
      `Solution 1: <answer> ${wrong.text} </answer> <judge> Incorrect`,
    );
  });

  it('offers the same reflections after the compact prompt, a much shorter context with the same input block', () => {
    curriculum.compactReflections.forEach((compact, i) => {
      const full = curriculum.reflections[i]!;
      expect(compact.completion).toBe(full.completion);
      const inputBlock = full.messages[0]!.content.slice(
        full.messages[0]!.content.indexOf('The question and its solutions'),
      );
      expect(compact.messages[0]!.content.endsWith(inputBlock)).toBe(true);
      expect(compact.messages[0]!.content.length * 5).toBeLessThan(full.messages[0]!.content.length);
    });
  });

  it('teaches the replay prompt: a template reflection as experience, answered by the worked solution', () => {
    curriculum.validations.forEach((example, i) => {
      expect(example.messages[0]!.content).toContain(problems[i]!.question);
      expect(example.messages[0]!.content).toContain(
        'A prior study has supplied internal reference information',
      );
      expect(example.completion).toBe(problems[i]!.solution);
    });
  });

  it('writes reflections that parse, name the failure step and leak none of the problem numbers', () => {
    curriculum.reflections.forEach((example, i) => {
      const problem = problems[i]!;
      const parsed = parseMetaExperience(example.completion, { requireConditionalHeuristics: true });
      if (!parsed.ok) throw new Error(`${parsed.reason}\n${example.completion}`);
      const wrong = corruptWorkedSolution(problem, seededRandom(deriveSeed(7, problem.id)));
      expect(parsed.metaExperience.bifurcationPoint).toMatch(
        new RegExp(`^step ${wrong.failureStep} of Solution 1, (?:an error in the result|a sign error)\\.`),
      );
      expect(parsed.metaExperience.heuristics).toHaveLength(2);
      const { heuristics, reflectiveSummary } = parsed.metaExperience;
      expect(leakedTokens([...heuristics, reflectiveSummary].join('\n'), problem)).toEqual([]);
    });
  });

  it('keeps reflections short: every section title once, ten lines', () => {
    const text = templateReflection('linear', corruptWorkedSolution(problems[5]!, seededRandom(1)));
    for (const title of Object.values(SECTION_TITLES)) expect(text.split(title)).toHaveLength(2);
    expect(text.split('\n')).toHaveLength(10);
  });

  it('is deterministic per seed and differs between seeds', () => {
    expect(buildCurriculum(problems, 7)).toEqual(curriculum);
    const other = buildCurriculum(problems, 8).reflections.map((e) => e.completion);
    expect(other).not.toEqual(curriculum.reflections.map((e) => e.completion));
  });
});
