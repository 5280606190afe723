import { Tokenizer } from '@huggingface/tokenizers';

// The model's own byte-level BPE tokenizer (tokenizer.json + tokenizer_config.json), run in JS.
// Token ids must match what the engine's Python tokenizer produces for the same text.

export interface MelTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** Id of a single (special) token such as <|im_end|>; throws when the vocabulary lacks it. */
  tokenId(token: string): number;
}

/** Pure: builds the tokenizer from the parsed JSON files. */
export function createTokenizer(tokenizerJson: object, tokenizerConfig: object): MelTokenizer {
  const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  return {
    // Special tokens written in the text (<|im_start|> ...) are matched as added tokens; no BOS/EOS is added.
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => tokenizer.decode([...ids], { skip_special_tokens: false }),
    tokenId: (token) => {
      const id = tokenizer.token_to_id(token);
      if (id === undefined) throw new Error(`token ${JSON.stringify(token)} is not in the vocabulary`);
      return id;
    },
  };
}
