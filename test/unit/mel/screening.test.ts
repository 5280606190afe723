import { describe, expect, it } from 'vitest';
import { sampleDefect, screenSamples, type ScreeningRules } from '../../../mel/index.js';

const rollout: ScreeningRules = { maxTokens: 8, needLogprobs: true };
const good = (n = 3) => ({
  tokens: Array.from({ length: n }, (_, i) => 10 + i),
  logprobs: Array(n).fill(-0.5),
});

describe('screening what the engine sampled', () => {
  it('accepts a well-formed sample', () => {
    expect(sampleDefect(good(), rollout)).toBeUndefined();
    expect(sampleDefect(good(8), rollout)).toBeUndefined();
  });

  it('names each defect', () => {
    const reasonOf = (sample: { tokens: number[]; logprobs: number[] }, rules = rollout) =>
      sampleDefect(sample, rules)?.reason;
    expect(reasonOf({ tokens: [], logprobs: [] })).toBe('empty-sample');
    expect(reasonOf(good(9))).toBe('oversize-sample');
    expect(reasonOf({ tokens: [1, -2], logprobs: [0, 0] })).toBe('invalid-tokens');
    expect(reasonOf({ tokens: [1, 2.5], logprobs: [0, 0] })).toBe('invalid-tokens');
    // The client reads `logprobs: null` as no logprobs at all.
    expect(reasonOf({ tokens: [1, 2], logprobs: [] })).toBe('missing-logprobs');
    expect(reasonOf({ tokens: [1, 2], logprobs: [0] })).toBe('missing-logprobs');
    expect(reasonOf({ tokens: [1, 2], logprobs: [0, null as unknown as number] })).toBe('missing-logprobs');
  });

  it('does not ask reflections and replays for logprobs', () => {
    expect(
      sampleDefect({ tokens: [1, 2], logprobs: [] }, { maxTokens: 8, needLogprobs: false }),
    ).toBeUndefined();
  });

  it('keeps the usable samples of a group with their own indices and excludes the defective ones', () => {
    const screened = screenSamples([good(), { tokens: [], logprobs: [] }, good()], 3, rollout);
    expect(screened.usable.map((u) => u.sampleIndex)).toEqual([0, 2]);
    expect(screened.excluded).toEqual([
      { sampleIndex: 1, reason: 'empty-sample', detail: expect.any(String) },
    ]);
  });

  it('fewer samples than asked for: the missing indices are excluded', () => {
    const screened = screenSamples([good(), good()], 4, rollout);
    expect(screened.usable.map((u) => u.sampleIndex)).toEqual([0, 1]);
    expect(screened.excluded.map((e) => [e.sampleIndex, e.reason])).toEqual([
      [2, 'missing-sample'],
      [3, 'missing-sample'],
    ]);
    expect(screened.excluded[0]!.detail).toBe('the engine returned 2 samples for 4');
  });

  it('more samples than asked for: the first ones are kept, the extra ones dropped', () => {
    const screened = screenSamples([good(), good(), good()], 2, rollout);
    expect(screened.usable.map((u) => u.sampleIndex)).toEqual([0, 1]);
    expect(screened.excluded.map((e) => [e.sampleIndex, e.reason])).toEqual([[2, 'surplus-sample']]);
  });

  it('no sample at all: every index is missing', () => {
    expect(screenSamples([], 1, rollout).excluded.map((e) => e.reason)).toEqual(['missing-sample']);
  });
});
