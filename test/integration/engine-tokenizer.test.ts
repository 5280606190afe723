import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, loadEnv } from '../../common/env.js';
import { loadModelTokenizer } from '../../engine/model-files.js';
import { renderGenerationPrompt } from '../../mel/index.js';
import { baseModel } from './engine-helpers.js';

const CORPUS = [
  '',
  'What is 2 + 3?',
  '17 + 25 = 42',
  '  leading and trailing spaces  ',
  'tabs\tand\nnew\nlines\r\n',
  'The answer is \\boxed{12}.',
  'x^2 - 4x + 4 = (x - 2)^2, so x = 2',
  'Ünïcödé: café, naïve, 日本語, emoji 🤖🎉',
  renderGenerationPrompt([
    { role: 'system', content: 'You are a careful solver.' },
    { role: 'user', content: 'What is 3 * 7?' },
  ]),
  '<|im_start|>assistant\n3 * 7 = 21<|im_end|>\n<|endoftext|>',
  '1234567890 0.5 -3 1e-9 100%',
];

async function pythonIds(texts: string[]): Promise<number[][]> {
  const python = path.join(loadEnv().MEL_CACHE_DIR, 'venv', 'bin', 'python');
  const script = path.join(REPO_ROOT, 'engine', 'python', 'tokenize_corpus.py');
  const run = promisify(execFile)(python, [script, baseModel], {
    env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1' },
  });
  run.child.stdin!.end(JSON.stringify(texts));
  return JSON.parse((await run).stdout) as number[][];
}

describe("tokenizer parity with the engine's Python tokenizer", () => {
  it('gives the same ids as transformers.AutoTokenizer for a fixed corpus', async () => {
    const tokenizer = await loadModelTokenizer(baseModel);
    const expected = await pythonIds(CORPUS);
    expect(CORPUS.map((text) => tokenizer.encode(text))).toEqual(expected);
  });

  it('decoding sampled ids and encoding the text again can change them, so sampled ids are kept verbatim', async () => {
    const tokenizer = await loadModelTokenizer(baseModel);
    const merged = tokenizer.encode('123');
    const split = ['1', '2', '3'].flatMap((digit) => tokenizer.encode(digit));
    expect(tokenizer.decode(split)).toBe('123');
    expect(split).not.toEqual(merged);
  });
});
