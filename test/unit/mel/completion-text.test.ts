import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { completionText } from '../../../mel/index.js';

const EOS = 2;
const tokenizer = { decode: (ids: readonly number[]) => ids.join(' ') };

// The three former copies (warm-start evaluation, MEL activities, token chat / OpenAI server).
const formerEvaluation = (tokens: number[]) => tokenizer.decode(tokens.filter((t) => t !== EOS));
const formerActivities = (tokens: number[]) =>
  tokenizer.decode(tokens.at(-1) === EOS ? tokens.slice(0, -1) : tokens);
const formerTokenChat = (tokens: number[], stopReason: 'stop' | 'length') =>
  tokenizer.decode(stopReason === 'stop' && tokens.at(-1) === EOS ? tokens.slice(0, -1) : tokens);

// What a sampler returns: it stops at the first stop token, so EOS can only come last.
const sampled = fc
  .tuple(
    fc.array(
      fc.nat(50).filter((t) => t !== EOS),
      { maxLength: 12 },
    ),
    fc.boolean(),
  )
  .map(([body, stopped]) => ({ tokens: stopped ? [...body, EOS] : body, stopped }));

describe('completionText', () => {
  it('drops the stop token that ended a sample, as each former copy did', () => {
    fc.assert(
      fc.property(sampled, ({ tokens, stopped }) => {
        const text = completionText(tokenizer, tokens, [EOS]);
        expect(text).toBe(formerEvaluation(tokens));
        expect(text).toBe(formerActivities(tokens));
        expect(text).toBe(formerTokenChat(tokens, stopped ? 'stop' : 'length'));
      }),
    );
  });

  it('keeps other tokens, and honours any of several stop tokens', () => {
    expect(completionText(tokenizer, [5, 6], [EOS])).toBe('5 6');
    expect(completionText(tokenizer, [5, 7], [EOS, 7])).toBe('5');
    expect(completionText(tokenizer, [], [EOS])).toBe('');
  });
});
