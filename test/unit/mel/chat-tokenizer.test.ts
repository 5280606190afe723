import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  IM_END,
  metaExperienceMessages,
  renderContinuation,
  renderGenerationPrompt,
  renderMessage,
  rolloutMessages,
} from '../../../mel/index.js';
import { loadTokenizer } from '../../../mel/node.js';

const FIXTURE = new URL('../../fixtures/mel/tiny-tokenizer/', import.meta.url).pathname;
const tokenizer = loadTokenizer(FIXTURE);
const reference = JSON.parse(readFileSync(`${FIXTURE}python-reference-ids.json`, 'utf8')) as {
  cases: { text: string; ids: number[] }[];
};

describe('Qwen3 chat rendering', () => {
  it('renders ChatML turns and the generation prompt', () => {
    expect(renderMessage({ role: 'user', content: 'Hi' })).toBe('<|im_start|>user\nHi<|im_end|>\n');
    expect(
      renderGenerationPrompt([
        { role: 'system', content: 'S' },
        { role: 'user', content: 'U' },
      ]),
    ).toBe('<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n');
  });

  it('continuation after a sampled turn equals rendering the longer conversation', () => {
    const first = [{ role: 'user' as const, content: 'Q1' }];
    const next = [{ role: 'user' as const, content: 'Q2' }];
    const sampled = `A1${IM_END}`;
    expect(renderGenerationPrompt(first) + sampled + renderContinuation(next)).toBe(
      renderGenerationPrompt([...first, { role: 'assistant', content: 'A1' }, ...next]),
    );
  });
});

describe('tokenizer (tiny Qwen3 tokenizer.json through @huggingface/tokenizers)', () => {
  it.each(reference.cases.map((c) => [JSON.stringify(c.text).slice(0, 40), c] as const))(
    'gives the same ids as the Python tokenizers library: %s',
    (_, { text, ids }) => {
      expect(tokenizer.encode(text)).toEqual(ids);
    },
  );

  it('maps the chat special tokens to single ids and round-trips text', () => {
    expect([
      tokenizer.tokenId('<|endoftext|>'),
      tokenizer.tokenId('<|im_start|>'),
      tokenizer.tokenId(IM_END),
    ]).toEqual([0, 1, 2]);
    const prompt = renderGenerationPrompt(rolloutMessages({ question: 'Compute 2/3 + 5/8.' }));
    const ids = tokenizer.encode(prompt);
    expect(ids[0]).toBe(1);
    expect(ids.filter((id) => id === 2).length).toBe(1);
    expect(tokenizer.decode(ids)).toBe(prompt);
    expect(() => tokenizer.tokenId('<|not-a-token|>')).toThrow(/not in the vocabulary/);
  });

  it('token sequences extend across turns (what chained-mode datums rely on)', () => {
    const messages = metaExperienceMessages({
      question: 'Q',
      incorrectSolution: 'x = 1',
      correctSolution: 'x = 2',
    });
    const prompt = renderGenerationPrompt(messages);
    const completion = `Failure Point: the first step.${IM_END}`;
    const continuation = renderContinuation([{ role: 'user', content: 'Step 2 of 3 (critique).' }]);
    const pieces = [prompt, completion, continuation].flatMap((text) => tokenizer.encode(text));
    expect(pieces).toEqual(tokenizer.encode(prompt + completion + continuation));
  });
});
