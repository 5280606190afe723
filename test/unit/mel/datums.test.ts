import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chainedNllExample,
  nllDatums,
  rolloutDatum,
  rolloutDatums,
  singleCallNllExample,
  type Datum,
} from '../../../mel/index.js';

const weightsOf = (d: Datum) => d.loss_fn_inputs.weights?.data ?? [];
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

describe('rollout (GRPO) datum', () => {
  // full sequence [10, 11, 12 | 20, 21]: prompt of 3 tokens, completion of 2
  const datum = rolloutDatum({
    promptTokens: [10, 11, 12],
    completionTokens: [20, 21],
    completionLogprobs: [-0.5, -0.25],
    advantage: 2,
  });

  it('is pre-shifted: input = full[:-1], targets = full[1:]', () => {
    expect(datum.model_input).toEqual({ chunks: [{ type: 'encoded_text', tokens: [10, 11, 12, 20] }] });
    expect(datum.loss_fn_inputs.target_tokens).toEqual({ data: [11, 12, 20, 21], dtype: 'int64' });
  });

  it('puts weight, sampler logprob and advantage only on positions that predict completion tokens', () => {
    expect(datum.loss_fn_inputs.weights).toEqual({ data: [0, 0, 1, 1], dtype: 'float32' });
    expect(datum.loss_fn_inputs.logprobs).toEqual({ data: [0, 0, -0.5, -0.25], dtype: 'float32' });
    expect(datum.loss_fn_inputs.advantages).toEqual({ data: [0, 0, 2, 2], dtype: 'float32' });
  });

  it('rejects mismatched logprobs and empty parts', () => {
    expect(() =>
      rolloutDatum({ promptTokens: [1], completionTokens: [2, 3], completionLogprobs: [0], advantage: 1 }),
    ).toThrow(/logprobs/);
    expect(() =>
      rolloutDatum({ promptTokens: [], completionTokens: [2], completionLogprobs: [0], advantage: 1 }),
    ).toThrow();
    expect(() =>
      rolloutDatum({ promptTokens: [1], completionTokens: [], completionLogprobs: [], advantage: 1 }),
    ).toThrow();
  });

  const advantagesOf = (d: Datum) => d.loss_fn_inputs.advantages?.data ?? [];

  it('Eq. 10: weight 1 on completion tokens, advantage Â·1/(|y_i|·B) (hand example: lengths 2 and 4)', () => {
    const samples = [
      { promptTokens: [1, 2], completionTokens: [3, 4], completionLogprobs: [0, 0], advantage: 1 },
      {
        promptTokens: [1, 2],
        completionTokens: [5, 6, 7, 8],
        completionLogprobs: [0, 0, 0, 0],
        advantage: -1,
      },
    ];
    const [a, b] = rolloutDatums(samples);
    expect(a && weightsOf(a)).toEqual([0, 1, 1]);
    expect(a && advantagesOf(a)).toEqual([0, 0.25, 0.25]);
    expect(b && advantagesOf(b)).toEqual([0, -0.125, -0.125, -0.125, -0.125]);
    expect(rolloutDatums(samples, 'token-mean').map(advantagesOf)).toEqual([
      [0, 1 / 6, 1 / 6],
      [0, -1 / 6, -1 / 6, -1 / 6, -1 / 6],
    ]);
    expect(rolloutDatums(samples, 'token-sum').map(advantagesOf)).toEqual([
      [0, 1, 1],
      [0, -1, -1, -1, -1],
    ]);
  });

  it('B and T count the whole batch, also rollouts that are not sent', () => {
    const sample = { promptTokens: [1], completionTokens: [3, 4], completionLogprobs: [0, 0], advantage: 2 };
    const batch = { rollouts: 4, completionTokens: 10 };
    expect(advantagesOf(rolloutDatums([sample], 'seq-mean-token-mean', batch)[0]!)).toEqual([0.25, 0.25]);
    expect(advantagesOf(rolloutDatums([sample], 'token-mean', batch)[0]!)).toEqual([0.2, 0.2]);
  });

  it('property: shapes agree, and the shares |Â|-normalised sum to 1 under both mean aggregations', () => {
    const tokens = (min: number) => fc.array(fc.nat(1000), { minLength: min, maxLength: 12 });
    const sample = fc
      .record({
        prompt: tokens(1),
        completion: tokens(1),
        advantage: fc.double({ min: 0.1, max: 3, noNaN: true }),
      })
      .map((s) => ({
        promptTokens: s.prompt,
        completionTokens: s.completion,
        completionLogprobs: s.completion.map(() => -1),
        advantage: s.advantage,
      }));
    fc.assert(
      fc.property(
        fc.array(sample, { minLength: 1, maxLength: 8 }),
        fc.constantFrom('seq-mean-token-mean' as const, 'token-mean' as const),
        (samples, aggregation) => {
          const datums = rolloutDatums(samples, aggregation);
          datums.forEach((d, i) => {
            const s = samples[i];
            if (s === undefined) throw new Error('missing sample');
            const length = s.promptTokens.length + s.completionTokens.length - 1;
            expect(d.model_input.chunks[0]?.tokens.length).toBe(length);
            for (const key of ['target_tokens', 'weights', 'logprobs', 'advantages'] as const) {
              expect(d.loss_fn_inputs[key]?.data.length).toBe(length);
            }
            expect(weightsOf(d).filter((w) => w > 0).length).toBe(s.completionTokens.length);
            expect(
              weightsOf(d)
                .slice(0, s.promptTokens.length - 1)
                .every((w) => w === 0),
            ).toBe(true);
          });
          const shares = datums.flatMap((d, i) => advantagesOf(d).map((a) => a / samples[i]!.advantage));
          expect(sum(shares)).toBeCloseTo(1, 9);
        },
      ),
    );
  });
});

describe('internalisation (NLL) datums, Eq. 7', () => {
  it('trains only the meta-experience tokens, with token-mean weights (hand example)', () => {
    // full [1, 2, 3 | 4, 5]: context of 3, meta-experience of 2
    const [datum] = nllDatums([singleCallNllExample([1, 2, 3], [4, 5])]);
    expect(datum?.model_input.chunks[0]?.tokens).toEqual([1, 2, 3, 4]);
    expect(datum?.loss_fn_inputs.target_tokens.data).toEqual([2, 3, 4, 5]);
    expect(datum?.loss_fn_inputs.weights?.data).toEqual([0, 0, 0.5, 0.5]);
    expect(datum?.loss_fn_inputs.logprobs).toBeUndefined();
    expect(datum?.loss_fn_inputs.advantages).toBeUndefined();
  });

  it('averages per meta-experience, then over meta-experiences: lengths 2 and 4 give 1/4 and 1/8', () => {
    const datums = nllDatums([singleCallNllExample([1], [2, 3]), singleCallNllExample([1], [4, 5, 6, 7])]);
    expect(datums.map(weightsOf)).toEqual([
      [0.25, 0.25],
      [0.125, 0.125, 0.125, 0.125],
    ]);
    const perSequence = nllDatums(
      [singleCallNllExample([1], [2, 3]), singleCallNllExample([1], [4, 5, 6, 7])],
      'per-sequence',
    );
    expect(perSequence.map((d) => sum(weightsOf(d)))).toEqual([1, 1]);
  });

  it('property: every datum sums to 1/N and the batch to 1', () => {
    const example = fc
      .tuple(
        fc.array(fc.nat(999), { minLength: 1, maxLength: 10 }),
        fc.array(fc.nat(999), { minLength: 1, maxLength: 10 }),
      )
      .map(([context, output]) => singleCallNllExample(context, output));
    fc.assert(
      fc.property(fc.array(example, { minLength: 1, maxLength: 10 }), (examples) => {
        const datums = nllDatums(examples);
        datums.forEach((d) => expect(sum(weightsOf(d))).toBeCloseTo(1 / examples.length, 12));
        expect(sum(datums.flatMap(weightsOf))).toBeCloseTo(1, 9);
      }),
    );
  });

  it('rejects an example with no meta-experience tokens', () => {
    expect(() => nllDatums([singleCallNllExample([1, 2], [])])).toThrow(/no meta-experience tokens/);
  });

  it('chained mode: one datum over the conversation, training the three outputs (hand example)', () => {
    // step prompts extend each other: [1,2] -> [1,2,3,4,9] -> [1,2,3,4,9,5,9]
    const example = chainedNllExample(
      [
        [1, 2],
        [1, 2, 3, 4, 9],
        [1, 2, 3, 4, 9, 5, 9],
      ],
      [[3, 4], [5], [6, 7]],
    );
    const [datum] = nllDatums([example]);
    expect(datum?.model_input.chunks[0]?.tokens).toEqual([1, 2, 3, 4, 9, 5, 9, 6]);
    expect(datum?.loss_fn_inputs.target_tokens.data).toEqual([2, 3, 4, 9, 5, 9, 6, 7]);
    // 5 meta-experience tokens (3, 4, 5, 6, 7): 0.2 each
    expect(datum?.loss_fn_inputs.weights?.data).toEqual([0, 0.2, 0.2, 0, 0.2, 0, 0.2, 0.2]);
  });

  it('chained mode refuses step prompts that do not extend the previous turn', () => {
    expect(() =>
      chainedNllExample(
        [
          [1, 2],
          [1, 2, 9],
        ],
        [[3], [4]],
      ),
    ).toThrow(/step 1 prompt/);
  });
});
