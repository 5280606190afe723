import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { IM_END } from '../mel/index.js';
import { loadTokenizer } from '../mel/node.js';

export interface ModelTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** The chat end-of-turn token: the stop token for sampling (SkyRL has no implicit EOS stop). */
  eosTokenId: number;
}

/** Loads the model's own tokenizer.json and tokenizer_config.json from its local folder. */
export async function loadModelTokenizer(modelDir: string): Promise<ModelTokenizer> {
  const config = JSON.parse(await readFile(path.join(modelDir, 'tokenizer_config.json'), 'utf8')) as {
    eos_token?: unknown;
  };
  const tokenizer = loadTokenizer(modelDir);
  const eosToken = typeof config.eos_token === 'string' ? config.eos_token : IM_END;
  return { encode: tokenizer.encode, decode: tokenizer.decode, eosTokenId: tokenizer.tokenId(eosToken) };
}
