import { describe, expect, it } from 'vitest';
import { parseCli } from '../../../engine-double/cli-options.js';
import { createAnswerBook } from '../../../engine-double/answers.js';
import { ruleFires } from '../../../engine-double/faults.js';
import { sampledLogprobs, targetLogprobs, tokenLogprob } from '../../../engine-double/logprobs.js';
import { elementwiseLoss, tokenGradient, tokenLoss } from '../../../engine-double/losses.js';
import { boxedRequestQuestion, classifyPrompt } from '../../../engine-double/prompt-kind.js';
import { effectiveWeights } from '../../../engine-double/reduction.js';
import {
  chainedStepText,
  reflectionText,
  unparseableReflectionText,
} from '../../../engine-double/reflection.js';
import { padToTokens, solutionText, wrongAnswer } from '../../../engine-double/solutions.js';
import { tokenizer } from './helpers.js';
import { OptionsError } from '../../../engine-double/options.js';
import { LatencyModel, NO_LATENCY, sequenceCostsMs } from '../../../engine-double/latency.js';
import {
  chainedMetaExperienceMessages,
  generateBuiltinDataset,
  metaExperienceMessagesFor,
  parseChainedMetaExperience,
  parseMetaExperience,
  renderGenerationPrompt,
  rolloutMessages,
  seededRandom,
  validationMessages,
  verifyTrustedSolution,
} from '../../../mel/index.js';

const problems = generateBuiltinDataset({ count: 24 });
const isCorrect = (text: string, answer: string) => verifyTrustedSolution(text, answer).correct;

describe('logprobs', () => {
  it('are negative, deterministic, not constant, and depend on the weights', () => {
    const values = Array.from({ length: 50 }, (_, i) => tokenLogprob(7, i, i));
    expect(values.every((v) => v < 0 && v >= -6)).toBe(true);
    expect(new Set(values).size).toBeGreaterThan(40);
    expect(tokenLogprob(7, 3, 3)).toBe(values[3]);
    expect(tokenLogprob(8, 3, 3)).not.toBe(values[3]);
  });

  it('forward logprobs of a sampled completion equal the sampler logprobs under the same weights', () => {
    const prompt = [1, 5, 9];
    const sampled = [11, 12, 2];
    const full = [...prompt, ...sampled];
    const forward = targetLogprobs(3, full.slice(1));
    expect(forward.slice(prompt.length - 1)).toEqual(sampledLogprobs(3, prompt.length, sampled));
  });
});

describe('losses (SkyRL loss_fns.py)', () => {
  const token = { logprob: -1, weight: 0.5, samplingLogprob: -1.5, advantage: 2 };
  const ratio = Math.exp(0.5);

  it.each([
    ['cross_entropy', 0.5 * 1],
    ['importance_sampling', -0.5 * ratio * 2],
    ['ppo', -0.5 * Math.min(ratio * 2, 1.2 * 2)],
    ['cispo', -0.5 * 1.2 * -1 * 2],
  ] as const)('%s', (fn, expected) => {
    expect(tokenLoss(fn, token)).toBeCloseTo(expected, 12);
  });

  it.each([
    ['cross_entropy', 0.3],
    ['importance_sampling', 0.1],
    ['importance_sampling', -0.4],
    ['ppo', 0.05], // inside the clip range
    ['ppo', 0.5], // ratio e^0.5 > 1.2 with a positive advantage: clipped, no gradient
  ] as const)('the logprob gradient of %s (log ratio %s) is minus the loss derivative', (fn, logRatio) => {
    for (const advantage of [2, -0.7]) {
      const at = (logprob: number) => ({ logprob, weight: 0.5, samplingLogprob: -1 - logRatio, advantage });
      const h = 1e-6;
      const numeric = -(tokenLoss(fn, at(-1 + h)) - tokenLoss(fn, at(-1 - h))) / (2 * h);
      expect(tokenGradient(fn, at(-1))).toBeCloseTo(numeric, 6);
    }
  });

  it('masks with weights, fills absent weights with ones', () => {
    expect(elementwiseLoss('cross_entropy', { logprobs: [-1, -2], weights: [0, 1] })).toEqual([0, 2]);
    expect(elementwiseLoss('cross_entropy', { logprobs: [-1, -2] })).toEqual([1, 2]);
  });
});

describe('reduction weights', () => {
  const datums = [
    { call: 0, index: 0, lossFn: 'ppo', weights: [0, 1, 1], gradient: [0, 0.5, -2] },
    { call: 1, index: 0, lossFn: 'cross_entropy', weights: [0.25, 0.25, 0.25, 0.25], gradient: [1, 1, 1, 1] },
  ];

  it('skyrl: each datum divided by its weight sum, then by the number of datums', () => {
    const [first, second] = effectiveWeights('skyrl', datums);
    expect(first).toMatchObject({ weightSum: 2, scale: 0.25, effective: [0, 0.25, 0.25] });
    expect(first!.gradient).toEqual([0, 0.125, -0.5]);
    expect(second!.scale).toBe(0.5);
    expect(second!.gradient).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it('sum: the raw weights', () => {
    expect(effectiveWeights('sum', datums).map((d) => d.effective)).toEqual(datums.map((d) => d.weights));
    expect(effectiveWeights('sum', datums).map((d) => d.gradient)).toEqual(datums.map((d) => d.gradient));
  });
});

describe('prompt recognition', () => {
  const problem = problems[0]!;
  const input = { question: problem.question, incorrectSolution: 'wrong', correctSolution: 'right' };

  it('tells rollout, reflection (both styles, chained steps), replay and other prompts apart', () => {
    const render = renderGenerationPrompt;
    expect(classifyPrompt(render(rolloutMessages(problem)))).toEqual({
      kind: 'rollout',
      question: problem.question,
    });
    for (const style of ['compact', 'appendix-c'] as const) {
      expect(classifyPrompt(render(metaExperienceMessagesFor(style, input)))).toEqual({
        kind: 'reflection',
        question: problem.question,
        step: null,
      });
    }
    const chained = [[], ['s'], ['s', 'c']].map((previous) =>
      classifyPrompt(render(chainedMetaExperienceMessages(input, previous))),
    );
    expect(chained.map((kind) => kind.kind === 'reflection' && kind.step)).toEqual([0, 1, 2]);
    expect(classifyPrompt(render(validationMessages('## Heuristics\n- If x then y.', problem)))).toEqual({
      kind: 'replay',
      question: problem.question,
    });
    expect(classifyPrompt(render([{ role: 'user', content: 'Hello' }]))).toEqual({ kind: 'other' });
    expect(classifyPrompt('no chat markup')).toEqual({ kind: 'other' });
  });

  it("reads a plain problem statement followed by another trainer's \\boxed{} request as a rollout", () => {
    const fraction = problems.find((p) => p.question.includes('lowest terms'))!;
    // tinker-cookbook's math_rl MathEnv prompt: the problem, then " Write your answer in \boxed{} format."
    const cookbook = `${fraction.question} Write your answer in \\boxed{} format.`;
    expect(classifyPrompt(renderGenerationPrompt([{ role: 'user', content: cookbook }]))).toEqual({
      kind: 'rollout',
      question: fraction.question,
    });
    expect(boxedRequestQuestion(`What is 2 + 3?\nPut the final answer in \\boxed{}.\n`)).toBe(
      'What is 2 + 3?',
    );
    expect(boxedRequestQuestion('Write your answer in \\boxed{} format.')).toBeUndefined();
    expect(boxedRequestQuestion('Compute 1 + 1. Use \\boxed{}. Then explain it.')).toBeUndefined();
    expect(boxedRequestQuestion('Compute 1 + 1.')).toBeUndefined();
  });
});

describe('solutions', () => {
  const book = createAnswerBook(problems);

  it('right ones verify and wrong ones never do, for every kind of built-in problem', () => {
    problems.forEach((problem, i) => {
      const known = book.lookup(` ${problem.question}  `);
      expect(isCorrect(solutionText(seededRandom(i), known, true, isCorrect), problem.answer)).toBe(true);
      for (let seed = 0; seed < 5; seed++) {
        expect(
          isCorrect(solutionText(seededRandom(seed * 100 + i), known, false, isCorrect), problem.answer),
        ).toBe(false);
      }
    });
  });

  it('wrong answers keep the shape of the right one', () => {
    expect(wrongAnswer('3/4', seededRandom(1))).toMatch(/^-?\d+\/4$/);
    expect(wrongAnswer('12', seededRandom(1))).not.toBe('12');
    expect(wrongAnswer('\\sqrt{2}', seededRandom(1))).toMatch(/^\d+$/);
  });

  it('padding prepends digit-free lines up to the target length', () => {
    const padded = padToTokens(
      seededRandom(1),
      'The answer is \\boxed{5}.',
      40,
      (text) => text.split(' ').length,
    );
    expect(padded.split(' ').length).toBeGreaterThanOrEqual(40);
    expect(padded.endsWith('The answer is \\boxed{5}.')).toBe(true);
    expect(padded.replace('\\boxed{5}', '')).not.toMatch(/\d/);
  });

  it('pads a 4k-token answer counting each kind of line once, not the whole text per line', () => {
    const count = (text: string) => tokenizer.encode(text).length;
    for (const target of [50, 1000, 4000]) {
      let calls = 0;
      const padded = padToTokens(seededRandom(target), 'The answer is \\boxed{5}.', target, (text) => {
        calls++;
        return count(text);
      });
      const tokens = count(padded);
      expect(tokens).toBeGreaterThanOrEqual(target);
      expect(tokens).toBeLessThan(target + 30); // at most a line or two past it
      expect(calls).toBeLessThanOrEqual(8); // the text, four kinds of line, the exact check (quadratic: ~400)
    }
  });
});

describe('reflections', () => {
  it('parse (with conditional heuristics), contain no digit, and the unparseable ones do not parse', () => {
    for (let seed = 0; seed < 20; seed++) {
      const text = reflectionText(seededRandom(seed), seed % 3);
      expect(parseMetaExperience(text, { requireConditionalHeuristics: true }).ok).toBe(true);
      expect(text).not.toMatch(/\d/);
      expect(parseMetaExperience(unparseableReflectionText(seededRandom(seed))).ok).toBe(false);
    }
  });

  it('chained steps parse as a chain', () => {
    const random = seededRandom(3);
    const [bifurcation, critique, heuristics] = [0, 1, 2].map((step) => chainedStepText(random, step, true));
    expect(
      parseChainedMetaExperience({ bifurcation: bifurcation!, critique: critique!, heuristics: heuristics! })
        .ok,
    ).toBe(true);
  });
});

describe('fault rules and CLI options', () => {
  it('fire on the chosen call, every n-th call, or always', () => {
    const action = { type: 'hang' } as const;
    const fired = (rule: object) => [1, 2, 3, 4].filter((n) => ruleFires({ route: 'x', action, ...rule }, n));
    expect(fired({ call: 2 })).toEqual([2]);
    expect(fired({ every: 2 })).toEqual([2, 4]);
    expect(fired({})).toEqual([1, 2, 3, 4]);
  });

  it('parses flags into validated options and rejects bad input with the field named', () => {
    const options = parseCli([
      '--seed',
      '3',
      '--p-correct',
      '1',
      '--max-context-tokens',
      '4096',
      '--faults',
      '[{"route":"asample","call":1,"action":{"type":"logprobs-null"}}]',
    ]);
    expect(options).toMatchObject({
      port: 18124,
      seed: 3,
      pCorrect: 1,
      maxContextTokens: 4096,
      faults: [{ route: 'asample', call: 1 }],
    });
    expect(() => parseCli(['--p-correct', 'x'])).toThrow(/pCorrect/);
    expect(() => parseCli(['--reduction', 'mean'])).toThrow(OptionsError);
    expect(() => parseCli(['--latency', '{'])).toThrow(/--latency: not valid JSON/);
  });
});

describe('latency model', () => {
  it('queues sequences beyond the limit and records busy time as the union of running periods', async () => {
    const latency = new LatencyModel({ ...NO_LATENCY, maxConcurrentSequences: 2 });
    const started = performance.now();
    await Promise.all([latency.spend('asample', 60, 2), latency.spend('asample', 60, 1)]);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(115);
    expect(latency.busyMs()).toBeGreaterThanOrEqual(115);
    expect(latency.busyMs()).toBeLessThanOrEqual(elapsed + 1);
    const [first, second] = latency.timeline.since();
    expect([first?.slots, second?.slots]).toEqual([2, 1]);
    expect(second!.startMs).toBeGreaterThanOrEqual(first!.endMs);
    expect(
      sequenceCostsMs(
        { ...NO_LATENCY, tokensPerSecondPerSequence: 100, prefillMsPerPromptToken: 0.5 },
        10,
        [50, 20],
      ),
    ).toEqual([505, 205]);
  });

  it("frees a sampled sequence's slot when that sequence ends, not when its request's longest does", async () => {
    const latency = new LatencyModel({ ...NO_LATENCY, maxConcurrentSequences: 2 });
    const started = Date.now();
    await Promise.all([
      latency.spendSequences('asample', [20, 150]),
      latency.spendSequences('asample', [40]),
    ]);
    const [short, queued, long] = latency.timeline.since(started);
    expect([short, queued, long].map((i) => [i?.sequences, i?.slots])).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    expect(queued!.startMs).toBeGreaterThanOrEqual(short!.endMs);
    expect(queued!.endMs).toBeLessThan(long!.endMs);
  });

  it('records every call in the timeline, at zero latency too (start ≈ end), with no slots when unlimited', async () => {
    const latency = new LatencyModel(NO_LATENCY);
    const before = Date.now();
    await latency.spend('optim_step', 0);
    await latency.spendSequences('asample', [0, 0, 0, 0]);
    const intervals = latency.timeline.since(before);
    expect(intervals.map(({ route, sequences, slots }) => ({ route, sequences, slots }))).toEqual([
      { route: 'optim_step', sequences: 0, slots: 0 },
      { route: 'asample', sequences: 4, slots: 0 },
    ]);
    expect(intervals.every((i) => i.startMs >= before && i.endMs - i.startMs <= 1)).toBe(true);
  });
});
