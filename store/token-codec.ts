/**
 * How token ids and logprobs are stored: BSON binary, little-endian, one subtype each (user-defined range), so a
 * field of the wrong kind or a truncated one is refused instead of read as numbers. Token ids are Int32 (4 bytes,
 * against about 10 as a BSON number array, and a few hundred bytes per kilotoken in FerretDB's JSON). Logprobs are
 * Float64: what the sampler returned, exactly, since the policy update's importance ratio exp(logp_new − logp_old)
 * and the exactly-once checks compare them with the engine's; Float32 would halve them again but change the
 * stored values (relative error up to 6e-8). Other real values (a datum's weights and advantages) are Float64
 * too, exactly as computed, under a subtype of their own, or as runs of one value when that is shorter: a loss
 * mask or a sequence's advantage is a few runs, 12 bytes each, instead of 8 bytes a token. Documents written
 * before the codec hold number arrays; they are read as they are.
 */
import { Binary } from 'mongodb';
import type { GenerationTurn, SampledTurn } from './documents.js';

const TOKEN_IDS = { subtype: 0x80, bytes: 4, what: 'token ids (Int32 LE)' } as const;
const LOGPROBS = { subtype: 0x81, bytes: 8, what: 'logprobs (Float64 LE)' } as const;
const FLOATS = { subtype: 0x82, bytes: 8, what: 'float64 values (LE)' } as const;
/** Each run: how many values (Int32 LE), then the value (Float64 LE). */
const FLOAT_RUNS = {
  subtype: 0x83,
  bytes: 12,
  what: 'float64 runs (Int32 count, Float64 value; LE)',
} as const;
/**
 * The most values runs may stand for: far beyond any context length, and a bound on what a corrupt field can make
 * the decoder allocate.
 */
export const MAX_RUN_VALUES = 2 ** 24;
type Kind = typeof TOKEN_IDS | typeof LOGPROBS | typeof FLOATS;
type FloatKind = typeof LOGPROBS | typeof FLOATS;

/** Token ids as stored: binary, or a number array in documents written before the codec. */
export type StoredTokens = Binary | number[];
export type StoredLogprobs = Binary | number[];
export type StoredFloats = Binary | number[];

export class StoredArrayError extends Error {
  override name = 'StoredArrayError';
}

export function encodeTokens(tokens: readonly number[]): Binary {
  const buffer = Buffer.alloc(tokens.length * TOKEN_IDS.bytes);
  tokens.forEach((token, i) => {
    if (!Number.isInteger(token) || token < -(2 ** 31) || token >= 2 ** 31) {
      throw new StoredArrayError(`token id ${token} at ${i} is not a 32-bit integer`);
    }
    buffer.writeInt32LE(token, i * TOKEN_IDS.bytes);
  });
  return new Binary(buffer, TOKEN_IDS.subtype);
}

export function encodeLogprobs(logprobs: readonly number[]): Binary {
  return encodeDoubles(logprobs, LOGPROBS);
}

/** Runs of equal values when they take fewer bytes than one Float64 per value; either way, exactly the values. */
export function encodeFloats(values: readonly number[]): Binary {
  const runs = equalRuns(values);
  if (runs.length * FLOAT_RUNS.bytes >= values.length * FLOATS.bytes) return encodeDoubles(values, FLOATS);
  const buffer = Buffer.alloc(runs.length * FLOAT_RUNS.bytes);
  runs.forEach(({ count, value }, i) => {
    buffer.writeInt32LE(count, i * FLOAT_RUNS.bytes);
    buffer.writeDoubleLE(value, i * FLOAT_RUNS.bytes + 4);
  });
  return new Binary(buffer, FLOAT_RUNS.subtype);
}

/** Consecutive values that are the same number (Object.is: -0 is not 0, so the runs give back the very values). */
function equalRuns(values: readonly number[]): { count: number; value: number }[] {
  const runs: { count: number; value: number }[] = [];
  for (const value of values) {
    const last = runs.at(-1);
    if (last && Object.is(last.value, value)) last.count++;
    else runs.push({ count: 1, value });
  }
  return runs;
}

function encodeDoubles(values: readonly number[], kind: FloatKind): Binary {
  const buffer = Buffer.alloc(values.length * kind.bytes);
  values.forEach((value, i) => buffer.writeDoubleLE(value, i * kind.bytes));
  return new Binary(buffer, kind.subtype);
}

/** `field` names the value in the error, e.g. `trajectories r/step-0/p0/s1 tokens`. */
export function decodeTokens(stored: unknown, field: string): number[] {
  return decode(stored, field, TOKEN_IDS, (buffer, offset) => buffer.readInt32LE(offset));
}

export function decodeLogprobs(stored: unknown, field: string): number[] {
  return decode(stored, field, LOGPROBS, readDouble);
}

export function decodeFloats(stored: unknown, field: string): number[] {
  if (stored instanceof Binary && stored.sub_type === FLOAT_RUNS.subtype) return decodeRuns(stored, field);
  return decode(stored, field, FLOATS, readDouble);
}

function decodeRuns(stored: Binary, field: string): number[] {
  const buffer = wholeValues(stored, field, FLOAT_RUNS);
  const values: number[] = [];
  for (let offset = 0; offset < buffer.length; offset += FLOAT_RUNS.bytes) {
    const count = buffer.readInt32LE(offset);
    if (count < 1 || values.length + count > MAX_RUN_VALUES) {
      throw new StoredArrayError(
        `${field}: a run of ${count} values after ${values.length} (runs hold 1 to ${MAX_RUN_VALUES} in all)`,
      );
    }
    const value = buffer.readDoubleLE(offset + 4);
    for (let i = 0; i < count; i++) values.push(value);
  }
  return values;
}

function readDouble(buffer: Buffer, offset: number): number {
  return buffer.readDoubleLE(offset);
}

function decode(
  stored: unknown,
  field: string,
  kind: Kind,
  read: (buffer: Buffer, offset: number) => number,
): number[] {
  if (Array.isArray(stored) && stored.every((value) => typeof value === 'number')) return stored;
  if (!(stored instanceof Binary)) {
    throw new StoredArrayError(`${field}: expected ${kind.what} as BSON binary, found ${describe(stored)}`);
  }
  if (stored.sub_type !== kind.subtype) {
    throw new StoredArrayError(
      `${field}: expected BSON binary subtype 0x${kind.subtype.toString(16)} (${kind.what}), found subtype 0x${stored.sub_type.toString(16)}`,
    );
  }
  const buffer = wholeValues(stored, field, kind);
  return Array.from({ length: buffer.length / kind.bytes }, (_, i) => read(buffer, i * kind.bytes));
}

/** The binary's bytes, refused when they are not a whole number of `kind`'s values. */
function wholeValues(stored: Binary, field: string, kind: { bytes: number; what: string }): Buffer {
  const buffer = Buffer.from(stored.buffer.buffer, stored.buffer.byteOffset, stored.position);
  if (buffer.length % kind.bytes !== 0) {
    throw new StoredArrayError(
      `${field}: ${buffer.length} bytes is not a whole number of ${kind.what} (${kind.bytes} bytes each)`,
    );
  }
  return buffer;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array with non-numbers';
  return value === null ? 'null' : typeof value;
}

/** A reflection's turn as stored: its prompt and output token ids as binary, its text as it is. */
export function storedTurn(turn: SampledTurn): GenerationTurn {
  return {
    ...turn,
    promptTokens: encodeTokens(turn.promptTokens),
    outputTokens: encodeTokens(turn.outputTokens),
  };
}

/** A stored turn's token ids; `field` names the turn in errors, e.g. `metaExperiences <id> turn 0`. */
export function turnTokens(
  turn: GenerationTurn,
  field: string,
): Pick<SampledTurn, 'promptTokens' | 'outputTokens'> {
  return {
    promptTokens: decodeTokens(turn.promptTokens, `${field} promptTokens`),
    outputTokens: decodeTokens(turn.outputTokens, `${field} outputTokens`),
  };
}
