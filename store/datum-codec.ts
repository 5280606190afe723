/**
 * How a training datum is stored: the engine's datum (mel/types.ts) with each of its number arrays through
 * store/token-codec.ts: input and target token ids as Int32, sampler logprobs as logprobs, weights and
 * advantages as Float64 values or runs of one value (a mask, a sequence's advantage), all exact. A GRPO datum holds five arrays as long as its rollout (prompt and
 * completion), the largest write of a step; as BSON binary each is one value (base64 in FerretDB's jsonb)
 * instead of a number per element. Datums written before the codec hold number arrays and are read as they are.
 */
import type { Binary } from 'mongodb';
import type { Datum, EncodedTextChunk, LossFnInputs } from '../mel/index.js';
import {
  decodeFloats,
  decodeLogprobs,
  decodeTokens,
  encodeFloats,
  encodeLogprobs,
  encodeTokens,
  type StoredFloats,
  type StoredTokens,
} from './token-codec.js';
import type { DatumDoc } from './documents.js';

type StoredTensor<Tensor> = Tensor extends { dtype: infer Dtype }
  ? { data: Binary | number[]; dtype: Dtype }
  : never;

export interface StoredDatum {
  model_input: { chunks: (Omit<EncodedTextChunk, 'tokens'> & { tokens: StoredTokens })[] };
  loss_fn_inputs: { [Name in keyof LossFnInputs]: StoredTensor<LossFnInputs[Name]> };
}

interface FloatCodec {
  encode: (values: readonly number[]) => Binary;
  decode: (stored: StoredFloats, field: string) => number[];
}

/** Every loss input but the target tokens: a new one fails to compile until it has a codec here. */
type FloatInput = Exclude<keyof LossFnInputs, 'target_tokens'>;
const VALUES: FloatCodec = { encode: encodeFloats, decode: decodeFloats };
const FLOAT_CODECS: Record<FloatInput, FloatCodec> = {
  weights: VALUES,
  logprobs: { encode: encodeLogprobs, decode: decodeLogprobs },
  advantages: VALUES,
};
const FLOAT_INPUTS = Object.keys(FLOAT_CODECS) as FloatInput[];

export function encodeDatum({ model_input, loss_fn_inputs }: Datum): StoredDatum {
  const { target_tokens, ...floats } = loss_fn_inputs;
  const stored: StoredDatum['loss_fn_inputs'] = {
    target_tokens: { ...target_tokens, data: encodeTokens(target_tokens.data) },
  };
  for (const name of FLOAT_INPUTS) {
    const tensor = floats[name];
    if (tensor) stored[name] = { ...tensor, data: FLOAT_CODECS[name].encode(tensor.data) };
  }
  return {
    model_input: {
      chunks: model_input.chunks.map((chunk) => ({ ...chunk, tokens: encodeTokens(chunk.tokens) })),
    },
    loss_fn_inputs: stored,
  };
}

/** `field` names the stored datum in errors, e.g. `datums r/step-0/grpo/p0/s1 datum`. */
export function decodeDatum({ model_input, loss_fn_inputs }: StoredDatum, field: string): Datum {
  const { target_tokens, ...floats } = loss_fn_inputs;
  const inputs: LossFnInputs = {
    target_tokens: {
      ...target_tokens,
      data: decodeTokens(target_tokens.data, `${field}.loss_fn_inputs.target_tokens`),
    },
  };
  for (const name of FLOAT_INPUTS) {
    const tensor = floats[name];
    if (tensor) {
      inputs[name] = {
        ...tensor,
        data: FLOAT_CODECS[name].decode(tensor.data, `${field}.loss_fn_inputs.${name}`),
      };
    }
  }
  const chunks = model_input.chunks.map((chunk, i) => ({
    ...chunk,
    tokens: decodeTokens(chunk.tokens, `${field}.model_input.chunks[${i}].tokens`),
  }));
  return { model_input: { chunks }, loss_fn_inputs: inputs };
}

/** The datum a stored datum document trains on. */
export function datumOf(doc: Pick<DatumDoc, '_id' | 'datum'>): Datum {
  return decodeDatum(doc.datum, `datums ${doc._id} datum`);
}
