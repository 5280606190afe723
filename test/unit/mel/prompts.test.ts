import { describe, expect, it } from 'vitest';
import {
  ANSWER_FORMAT_INSTRUCTION,
  CHAINED_STEP_COUNT,
  SECTION_TITLES,
  chainedMetaExperienceMessages,
  metaExperienceMessages,
  rolloutMessages,
  validationMessages,
} from '../../../mel/index.js';

const input = {
  question: 'Compute 2/3 + 5/8.',
  incorrectSolution: 'WRONG-TRAJECTORY 7/11',
  correctSolution: 'RIGHT-TRAJECTORY 31/24',
};

describe('rollout prompt', () => {
  it('is one user turn with the question and the \\boxed{} answer format', () => {
    const [message, ...rest] = rolloutMessages({ question: 'What is 2 + 2?' });
    expect(rest).toEqual([]);
    expect(message?.role).toBe('user');
    expect(message?.content.startsWith('What is 2 + 2?')).toBe(true);
    expect(message?.content).toContain('\\boxed{}');
  });
});

describe('Meta-Experience prompt (single call, Appendix C)', () => {
  const [message] = metaExperienceMessages(input);
  const content = message?.content ?? '';

  it('states the analyst role, the generalisation constraint and the four sections in order', () => {
    expect(content).toContain('Meta-Cognitive Reasoning Analyst');
    expect(content).toMatch(/Forbidden: mentioning this problem's specific numbers/);
    const positions = Object.values(SECTION_TITLES).map((title) => content.indexOf(title));
    positions.forEach((p) => expect(p).toBeGreaterThan(-1));
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(content).toContain('If [abstract condition] occurs, then');
  });

  it('embeds the question and both full solutions, the incorrect one first and labelled so', () => {
    expect(content).toContain('<question> Compute 2/3 + 5/8. </question>');
    const wrong = content.indexOf('<answer> WRONG-TRAJECTORY 7/11 </answer> <judge> Incorrect </judge>');
    const right = content.indexOf('<answer> RIGHT-TRAJECTORY 31/24 </answer> <judge> Correct </judge>');
    expect(wrong).toBeGreaterThan(-1);
    expect(right).toBeGreaterThan(wrong);
  });
});

describe('chained mode (Eqs. 2–4)', () => {
  it('asks for the bifurcation point first, then critique, then heuristics, each conditioned on the earlier outputs', () => {
    const step0 = chainedMetaExperienceMessages(input, []);
    expect(step0.map((m) => m.role)).toEqual(['user']);
    expect(step0[0]?.content).toContain('WRONG-TRAJECTORY');
    expect(step0[0]?.content).toMatch(/Step 1 of 3 \(bifurcation point\)/);

    const step1 = chainedMetaExperienceMessages(input, ['S-STAR']);
    expect(step1.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(step1[1]?.content).toBe('S-STAR');
    expect(step1[2]?.content).toMatch(/Step 2 of 3 \(critique\)/);

    const step2 = chainedMetaExperienceMessages(input, ['S-STAR', 'CRITIQUE']);
    expect(step2.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect(step2[3]?.content).toBe('CRITIQUE');
    expect(step2[4]?.content).toMatch(/Step 3 of 3 \(heuristics\)/);
    expect(step2[4]?.content).toContain(SECTION_TITLES.heuristics);
    expect(step2.slice(0, 3)).toEqual(step1);
  });

  it('has exactly three steps', () => {
    expect(CHAINED_STEP_COUNT).toBe(3);
    expect(() => chainedMetaExperienceMessages(input, ['a', 'b', 'c'])).toThrow(/3 steps/);
  });
});

describe('validation (replay) prompt', () => {
  it('puts the experience before the question and asks for a verifiable answer', () => {
    const [message] = validationMessages('EXPERIENCE-TEXT', { question: 'QUESTION-TEXT' });
    const content = message?.content ?? '';
    expect(content).toMatch(/prior study/i);
    expect(content.indexOf('EXPERIENCE-TEXT')).toBeGreaterThan(-1);
    expect(content.indexOf('Answer the following question: QUESTION-TEXT')).toBeGreaterThan(
      content.indexOf('EXPERIENCE-TEXT'),
    );
    expect(content.endsWith(ANSWER_FORMAT_INSTRUCTION)).toBe(true);
  });
});
