import { Binary, BSON } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { nllDatum, rolloutDatum, singleCallNllExample, type Datum } from '../../../mel/index.js';
import { datumOf, decodeDatum, encodeDatum, type StoredDatum } from '../../../store/datum-codec.js';
import { encodeLogprobs, encodeTokens, StoredArrayError } from '../../../store/token-codec.js';

/** A GRPO datum as internalize builds it, with sampler logprobs and advantages that are not round numbers. */
const grpo = rolloutDatum(
  {
    promptTokens: [151_644, 8948, 198],
    completionTokens: [40, 2 ** 31 - 1, 151_645],
    completionLogprobs: [-0.6931471805599453, -1e-12, -23.025850929940457],
    advantage: -1.7320508075688772,
  },
  1 / 3,
);
const nll = nllDatum(singleCallNllExample([1, 2, 3], [4, 5]), 1 / 7);
const extremes: Datum = {
  model_input: { chunks: [{ type: 'encoded_text', tokens: [0, -(2 ** 31)] }] },
  loss_fn_inputs: {
    target_tokens: { data: [7, 8], dtype: 'int64' },
    weights: { data: [Number.MIN_VALUE, Number.MAX_VALUE], dtype: 'float32' },
    logprobs: { data: [-0, -1e300], dtype: 'float32' },
    advantages: { data: [-Number.MAX_VALUE, 0.1 + 0.2], dtype: 'float32' },
  },
};
const empty: Datum = {
  model_input: { chunks: [{ type: 'encoded_text', tokens: [] }] },
  loss_fn_inputs: {
    target_tokens: { data: [], dtype: 'int64' },
    weights: { data: [], dtype: 'float32' },
    advantages: { data: [], dtype: 'float32' },
  },
};

/** `value` as the store hands it back. */
function throughBson<T>(value: T): T {
  return BSON.deserialize(BSON.serialize({ value })).value as T;
}

/** `datum` stored through the codec, with one of its binaries replaced. */
function withBinary(datum: Datum, replace: (stored: StoredDatum) => void): StoredDatum {
  const stored = encodeDatum(datum);
  replace(stored);
  return stored;
}

describe('the datum codec', () => {
  it('round-trips GRPO, NLL, extreme and empty datums exactly, also through BSON', () => {
    for (const datum of [grpo, nll, extremes, empty]) {
      expect(decodeDatum(throughBson(encodeDatum(datum)), 'd')).toStrictEqual(datum);
    }
    expect(Object.is(decodeDatum(encodeDatum(extremes), 'd').loss_fn_inputs.logprobs!.data[0], -0)).toBe(
      true,
    );
  });

  it('stores every array as binary of its kind: tokens Int32, logprobs Float64, mask and advantages as runs', () => {
    const { model_input, loss_fn_inputs } = throughBson(encodeDatum(grpo));
    const kinds = [
      model_input.chunks[0]!.tokens,
      loss_fn_inputs.target_tokens.data,
      loss_fn_inputs.logprobs!.data,
      loss_fn_inputs.weights!.data,
      loss_fn_inputs.advantages!.data,
    ].map((data) => (data instanceof Binary ? [data.sub_type, data.length()] : data));
    expect(kinds).toEqual([
      [0x80, 4 * 5],
      [0x80, 4 * 5],
      [0x81, 8 * 5],
      [0x83, 12 * 2],
      [0x83, 12 * 2],
    ]);
    const { weights } = throughBson(encodeDatum(extremes)).loss_fn_inputs;
    expect([(weights!.data as Binary).sub_type, (weights!.data as Binary).length()]).toEqual([0x82, 8 * 2]);
  });

  it('keeps a datum without logprobs and advantages without them', () => {
    const stored = encodeDatum(nll);
    expect(Object.keys(stored.loss_fn_inputs).sort()).toEqual(['target_tokens', 'weights']);
  });

  it('reads the number arrays of datums written before it', () => {
    for (const datum of [grpo, nll, empty]) {
      expect(decodeDatum(throughBson(datum), 'd')).toStrictEqual(datum);
    }
  });

  it('refuses an array of the wrong kind or a truncated one, naming the datum and the field', () => {
    const asLogprobs = withBinary(grpo, (s) => {
      s.loss_fn_inputs.weights!.data = encodeLogprobs([0, 0, 1, 1, 1]);
    });
    expect(() => datumOf({ _id: 'r/step-0/grpo/p0/s1', datum: asLogprobs })).toThrow(
      /^datums r\/step-0\/grpo\/p0\/s1 datum\.loss_fn_inputs\.weights: expected BSON binary subtype 0x82 .*found subtype 0x81/,
    );
    const truncated = withBinary(grpo, (s) => {
      s.model_input.chunks[0]!.tokens = new Binary(Buffer.alloc(10), 0x80);
    });
    expect(() => decodeDatum(truncated, 'd')).toThrow(
      /^d\.model_input\.chunks\[0\]\.tokens: 10 bytes is not a whole number of token ids/,
    );
    const floatTargets = withBinary(nll, (s) => {
      s.loss_fn_inputs.target_tokens.data = encodeLogprobs([4, 5]);
    });
    expect(() => decodeDatum(floatTargets, 'd')).toThrow(StoredArrayError);
    expect(() => decodeDatum(floatTargets, 'd')).toThrow(/^d\.loss_fn_inputs\.target_tokens: /);
    const tokenAdvantages = withBinary(grpo, (s) => {
      s.loss_fn_inputs.advantages!.data = encodeTokens([0, 0, 1, 1, 1]);
    });
    expect(() => decodeDatum(tokenAdvantages, 'd')).toThrow(
      /^d\.loss_fn_inputs\.advantages: .*found subtype 0x80/,
    );
  });
});
