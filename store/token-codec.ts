/**
 * How token ids and logprobs are stored: BSON binary, little-endian, one subtype each (user-defined range), so a
 * field of the wrong kind or a truncated one is refused instead of read as numbers. Token ids are Int32 (4 bytes,
 * against about 10 as a BSON number array, and a few hundred bytes per kilotoken in FerretDB's JSON). Logprobs are
 * Float64: what the sampler returned, exactly, since the policy update's importance ratio exp(logp_new − logp_old)
 * and the exactly-once checks compare them with the engine's; Float32 would halve them again but change the
 * stored values (relative error up to 6e-8). Other real values (a datum's weights and advantages) are Float64
 * too, exactly as computed, under a subtype of their own. Documents written before the codec hold number arrays;
 * they are read as they are.
 */
import { Binary } from 'mongodb';
import type { GenerationTurn, SampledTurn } from './documents.js';

const TOKEN_IDS = { subtype: 0x80, bytes: 4, what: 'token ids (Int32 LE)' } as const;
const LOGPROBS = { subtype: 0x81, bytes: 8, what: 'logprobs (Float64 LE)' } as const;
const FLOATS = { subtype: 0x82, bytes: 8, what: 'float64 values (LE)' } as const;
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

export function encodeFloats(values: readonly number[]): Binary {
  return encodeDoubles(values, FLOATS);
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
  return decode(stored, field, FLOATS, readDouble);
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
  const buffer = Buffer.from(stored.buffer.buffer, stored.buffer.byteOffset, stored.position);
  if (buffer.length % kind.bytes !== 0) {
    throw new StoredArrayError(
      `${field}: ${buffer.length} bytes is not a whole number of ${kind.what} (${kind.bytes} bytes each)`,
    );
  }
  return Array.from({ length: buffer.length / kind.bytes }, (_, i) => read(buffer, i * kind.bytes));
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
