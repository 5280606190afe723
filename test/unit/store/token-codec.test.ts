import { Binary, BSON } from 'mongodb';
import { describe, expect, it } from 'vitest';
import {
  decodeFloats,
  decodeLogprobs,
  decodeTokens,
  encodeFloats,
  encodeLogprobs,
  encodeTokens,
  MAX_RUN_VALUES,
  StoredArrayError,
  storedTurn,
  turnTokens,
} from '../../../store/token-codec.js';

describe('the token codec', () => {
  it('round-trips token ids and logprobs exactly, also through BSON', () => {
    const tokens = [0, 1, 151_643, 2 ** 31 - 1, -(2 ** 31)];
    const logprobs = [0, -1e-12, -0.6931471805599453, -23.025850929940457, Number.MIN_VALUE];
    const stored = BSON.deserialize(
      BSON.serialize({ tokens: encodeTokens(tokens), logprobs: encodeLogprobs(logprobs) }),
    );
    expect(decodeTokens(stored.tokens, 't')).toEqual(tokens);
    expect(decodeLogprobs(stored.logprobs, 'l')).toEqual(logprobs);
    expect(decodeTokens(encodeTokens([]), 'empty')).toEqual([]);
  });

  it('round-trips other real values exactly, also through BSON', () => {
    const values = [0, -0, 1, -1.5e-300, 0.1 + 0.2, -Number.MAX_VALUE, Number.MAX_VALUE, 1 / 3];
    const stored = BSON.deserialize(BSON.serialize({ values: encodeFloats(values) }));
    expect(decodeFloats(stored.values, 'v')).toEqual(values);
    expect(encodeFloats(values).length()).toBe(8 * values.length);
    expect(decodeFloats(encodeFloats([]), 'empty')).toEqual([]);
    expect(decodeFloats([0.25, -2], 'v')).toEqual([0.25, -2]);
  });

  it('stores a loss mask or an advantage as runs of one value, exactly, also through BSON', () => {
    const mask = [...Array<number>(300).fill(0), ...Array<number>(700).fill(1)];
    const advantages = [...Array<number>(300).fill(-0), ...Array<number>(699).fill(-0.375), 0];
    const stored = BSON.deserialize(
      BSON.serialize({ mask: encodeFloats(mask), advantages: encodeFloats(advantages) }),
    );
    expect(decodeFloats(stored.mask, 'mask')).toEqual(mask);
    const decoded = decodeFloats(stored.advantages, 'advantages');
    expect(decoded).toEqual(advantages);
    expect(Object.is(decoded[0], -0) && Object.is(decoded[999], 0)).toBe(true);
    expect(encodeFloats(mask).length()).toBe(2 * 12);
    expect(encodeFloats(advantages).length()).toBe(3 * 12);
    expect(encodeFloats([NaN, NaN, NaN, 2]).length()).toBe(2 * 12);
    expect(decodeFloats(encodeFloats([NaN, NaN, NaN, 2]), 'v')).toEqual([NaN, NaN, NaN, 2]);
  });

  it('refuses runs that are truncated, empty, negative, or stand for more values than any context', () => {
    const runs = (...entries: [number, number][]) => {
      const buffer = Buffer.alloc(entries.length * 12);
      entries.forEach(([count, value], i) => {
        buffer.writeInt32LE(count, i * 12);
        buffer.writeDoubleLE(value, i * 12 + 4);
      });
      return new Binary(buffer, 0x83);
    };
    expect(decodeFloats(runs([2, 0.5], [1, 1]), 'v')).toEqual([0.5, 0.5, 1]);
    expect(() => decodeFloats(new Binary(Buffer.alloc(13), 0x83), 'w')).toThrow(
      /w: 13 bytes is not a whole number of float64 runs/,
    );
    expect(() => decodeFloats(runs([0, 1]), 'v')).toThrow(/a run of 0 values/);
    expect(() => decodeFloats(runs([-5, 1]), 'v')).toThrow(/a run of -5 values/);
    expect(() => decodeFloats(runs([MAX_RUN_VALUES, 1], [1, 2]), 'v')).toThrow(
      new RegExp(`a run of 1 values after ${MAX_RUN_VALUES}`),
    );
    expect(() => decodeLogprobs(encodeFloats([1, 1, 1, 1]), 'l')).toThrow(/subtype 0x81.*found subtype 0x83/);
  });

  it('stores 4 bytes per token id and 8 per logprob', () => {
    expect(encodeTokens([1, 2, 3]).length()).toBe(12);
    expect(encodeLogprobs([-1, -2]).length()).toBe(16);
  });

  it('reads the number arrays of documents written before it', () => {
    expect(decodeTokens([5, 6], 't')).toEqual([5, 6]);
    expect(decodeLogprobs([-0.5], 'l')).toEqual([-0.5]);
  });

  it('refuses a field of the other kind, a truncated one, or something else, naming the field', () => {
    expect(() => decodeTokens(encodeLogprobs([-1]), 'trajectories x tokens')).toThrow(
      /trajectories x tokens: expected BSON binary subtype 0x80 .*found subtype 0x81/,
    );
    expect(() => decodeLogprobs(encodeTokens([1]), 'l')).toThrow(/subtype 0x81.*found subtype 0x80/);
    expect(() => decodeTokens(new Binary(Buffer.alloc(6), 0x80), 't')).toThrow(
      /6 bytes is not a whole number of token ids/,
    );
    expect(() => decodeLogprobs(new Binary(Buffer.alloc(12), 0x81), 'l')).toThrow(/12 bytes/);
    expect(() => decodeFloats(encodeLogprobs([-1]), 'v')).toThrow(/v: .*subtype 0x82 .*found subtype 0x81/);
    expect(() => decodeLogprobs(encodeFloats([-1]), 'l')).toThrow(/subtype 0x81.*found subtype 0x82/);
    expect(() => decodeFloats(new Binary(Buffer.alloc(9), 0x82), 'v')).toThrow(
      /9 bytes is not a whole number/,
    );
    expect(() => decodeTokens(new Binary(Buffer.alloc(4), 0), 't')).toThrow(/found subtype 0x0/);
    expect(() => decodeTokens('1,2', 't')).toThrow(StoredArrayError);
    expect(() => decodeTokens([1, '2'], 't')).toThrow(/non-numbers/);
    expect(() => decodeTokens(null, 't')).toThrow(/found null/);
  });

  it('refuses to store what is not a 32-bit token id', () => {
    expect(() => encodeTokens([1.5])).toThrow(/not a 32-bit integer/);
    expect(() => encodeTokens([2 ** 31])).toThrow(StoredArrayError);
  });

  it("stores a reflection's turn with binary token ids and its text as it is, and reads turns stored before", () => {
    const sampled = {
      promptTokens: [5, 6, 7],
      outputTokens: [8, 151_643],
      text: 'H',
      stopReason: 'stop' as const,
    };
    const stored = BSON.deserialize(BSON.serialize({ turn: storedTurn(sampled) })).turn;
    expect(stored.promptTokens).toBeInstanceOf(Binary);
    expect(stored.outputTokens).toBeInstanceOf(Binary);
    expect({ ...stored, ...turnTokens(stored, 'turn') }).toEqual(sampled);
    expect(turnTokens(sampled, 'old turn')).toEqual({ promptTokens: [5, 6, 7], outputTokens: [8, 151_643] });
    expect(() => turnTokens({ ...sampled, outputTokens: encodeLogprobs([-1]) }, 'me/x turn 0')).toThrow(
      /me\/x turn 0 outputTokens: .*subtype 0x80/,
    );
  });
});
