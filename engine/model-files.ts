import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

export interface ModelTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** The chat end-of-turn token: the stop token for sampling (SkyRL has no implicit EOS stop). */
  eosTokenId: number;
}

/** Loads the model's own tokenizer.json and tokenizer_config.json from its local folder. */
export async function loadModelTokenizer(modelDir: string): Promise<ModelTokenizer> {
  const [tokenizerJson, configJson] = await Promise.all(
    ['tokenizer.json', 'tokenizer_config.json'].map(async (file) =>
      JSON.parse(await readFile(path.join(modelDir, file), 'utf8')) as Record<string, unknown>,
    ),
  );
  const tokenizer = new Tokenizer(tokenizerJson!, configJson!);
  const eosToken = String(configJson!.eos_token ?? '<|im_end|>');
  const eosTokenId = tokenizer.token_to_id(eosToken);
  if (eosTokenId === undefined) throw new Error(`${modelDir}: eos token ${eosToken} is not in the vocabulary`);
  return {
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => tokenizer.decode(ids, { skip_special_tokens: false }),
    eosTokenId,
  };
}
