import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { datumNll, nllDatum, singleCallNllExample, type Datum } from '../../../mel/index.js';

// The two former copies: the warm start's weighted mean and the internalization record's token mean.
function formerWarmStartNll(datum: Datum, logprobs: readonly number[]): number {
  const weights = datum.loss_fn_inputs.weights?.data ?? [];
  let loss = 0;
  let weightSum = 0;
  weights.forEach((weight, i) => {
    loss -= weight * (logprobs[i] ?? 0);
    weightSum += weight;
  });
  return weightSum === 0 ? 0 : loss / weightSum;
}

function formerPolicyNll(datum: Datum, logprobs: readonly number[]) {
  const weights = datum.loss_fn_inputs.weights?.data ?? [];
  let sum = 0;
  let tokens = 0;
  weights.forEach((w, t) => {
    if (w > 0) {
      sum -= logprobs[t] ?? 0;
      tokens++;
    }
  });
  return { nll: tokens ? sum / tokens : 0, tokens, weight: weights.find((w) => w > 0) ?? 0 };
}

const example = fc.record({
  prompt: fc.array(fc.nat(1000), { minLength: 1, maxLength: 20 }),
  reply: fc.array(fc.nat(1000), { minLength: 1, maxLength: 20 }),
  weight: fc.double({ min: 1e-4, max: 1, noNaN: true }),
  seed: fc.array(fc.double({ min: -20, max: 0, noNaN: true }), { minLength: 40, maxLength: 40 }),
});

describe('datumNll', () => {
  it("is the warm start's former reduction, to the last bit (its loss trace must not change)", () => {
    fc.assert(
      fc.property(example, ({ prompt, reply, weight, seed }) => {
        const datum = nllDatum(singleCallNllExample(prompt, reply), weight);
        expect(datumNll(datum, seed).nll).toBe(formerWarmStartNll(datum, seed));
      }),
    );
  });

  it("agrees with the internalization record's former token mean (equal weights per datum), up to rounding", () => {
    fc.assert(
      fc.property(example, ({ prompt, reply, weight, seed }) => {
        const datum = nllDatum(singleCallNllExample(prompt, reply), weight);
        const [now, before] = [datumNll(datum, seed), formerPolicyNll(datum, seed)];
        expect(now.tokens).toBe(before.tokens);
        expect(now.weight).toBe(before.weight);
        expect(now.nll).toBeCloseTo(before.nll, 10);
      }),
    );
  });

  it('is 0 for a datum with nothing to train', () => {
    const datum = nllDatum(singleCallNllExample([1, 2], [3]), 0);
    expect(datumNll(datum, [-1, -2])).toEqual({ nll: 0, tokens: 0, weight: 0 });
  });
});
