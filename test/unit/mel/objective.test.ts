import { describe, expect, it } from 'vitest';
import {
  grpoCall,
  nllCall,
  nllDatums,
  nllNeedsCurrentLogprobs,
  singleCallNllExample,
  surrogateLoss,
  type Datum,
} from '../../../mel/index.js';

const datum = (weights: number[], advantages: number[], logprobs: number[]): Datum => ({
  model_input: { chunks: [{ type: 'encoded_text', tokens: weights.map((_, i) => i) }] },
  loss_fn_inputs: {
    target_tokens: { data: weights.map((_, i) => i + 1), dtype: 'int64' },
    weights: { data: weights, dtype: 'float32' },
    advantages: { data: advantages, dtype: 'float32' },
    logprobs: { data: logprobs, dtype: 'float32' },
  },
});
const ppo = { lossFn: 'ppo' as const, clipLow: 0.8, clipHigh: 1.2 };

describe('the objective on an engine', () => {
  it('sum: the stored datums go as they are', () => {
    const stored = [datum([0, 1, 1], [0, 0.25, 0.25], [0, -1, -1])];
    expect(grpoCall('sum', 'ppo', stored, 3)).toEqual({ lossFn: 'ppo', data: stored });
    const nll = nllDatums([singleCallNllExample([1, 2], [3, 4])]);
    expect(nllCall('sum', nll, 3)).toEqual({ lossFn: 'cross_entropy', data: nll });
    expect(nllNeedsCurrentLogprobs('sum')).toBe(false);
  });

  it('skyrl: advantages times D·|mask|; NLL as importance sampling at the current logprobs', () => {
    const [sent] = grpoCall('skyrl', 'ppo', [datum([0, 1, 1], [0, 0.25, 0.25], [0, -1, -1])], 3).data;
    expect(sent!.loss_fn_inputs.advantages!.data).toEqual([0, 1.5, 1.5]);
    expect(sent!.loss_fn_inputs.weights!.data).toEqual([0, 1, 1]);

    const nll = nllDatums([singleCallNllExample([1, 2], [3, 4])], 'eq7', 0.5); // weights [0, 0.25, 0.25]
    expect(nllNeedsCurrentLogprobs('skyrl')).toBe(true);
    expect(() => nllCall('skyrl', nll, 3)).toThrow(/current logprobs/);
    const call = nllCall('skyrl', nll, 3, [[-1, -2, -3]]);
    expect(call.lossFn).toBe('importance_sampling');
    expect(call.data[0]!.loss_fn_inputs).toMatchObject({
      weights: { data: [0, 1, 1] },
      logprobs: { data: [-1, -2, -3] },
      advantages: { data: [0, 1.5, 1.5] },
    });
  });

  it('reports −J_GRPO from the target logprobs, clipped as PPO clips (hand example)', () => {
    const stored = [datum([0, 1, 1], [0, 0.5, 0.5], [0, -1, -1])];
    const inside = Math.exp(0.1); // within [0.8, 1.2]
    expect(surrogateLoss(stored, [[9, -0.9, -0.9]], ppo)).toBeCloseTo(-2 * 0.5 * inside, 12);
    // ratio e^0.5 > 1.2 with a positive advantage: the surrogate is the clipped 1.2·A
    expect(surrogateLoss(stored, [[9, -0.5, -0.5]], ppo)).toBeCloseTo(-2 * 0.5 * 1.2, 12);
    const unclipped = { ...ppo, lossFn: 'importance_sampling' as const };
    expect(surrogateLoss(stored, [[9, -0.5, -0.5]], unclipped)).toBeCloseTo(-2 * 0.5 * Math.exp(0.5), 12);
  });

  it('scales every NLL weight by nllCoefficient', () => {
    const examples = [singleCallNllExample([1], [2, 3]), singleCallNllExample([1], [4, 5, 6, 7])];
    const weights = (c: number) => nllDatums(examples, 'eq7', c).map((d) => d.loss_fn_inputs.weights!.data);
    expect(weights(2)).toEqual(weights(1).map((row) => row.map((w) => 2 * w)));
  });
});
