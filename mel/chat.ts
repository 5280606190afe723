import type { ChatMessage } from './types.js';

// Qwen3 / ChatML rendering, done as plain strings so that the token sequence is under our control:
//   <|im_start|>{role}\n{content}<|im_end|>\n ... <|im_start|>assistant\n
// This is the tiny model's chat_template.jinja and Qwen3-Base's format without the thinking block.

export const IM_START = '<|im_start|>';
export const IM_END = '<|im_end|>';
export const END_OF_TEXT = '<|endoftext|>';

/** Stop sequence of a Qwen3 assistant turn. */
export const QWEN3_STOP_TOKEN = IM_END;

const GENERATION_PROMPT = `${IM_START}assistant\n`;

export function renderMessage(message: ChatMessage): string {
  return `${IM_START}${message.role}\n${message.content}${IM_END}\n`;
}

/** The prompt a sampler continues: all messages, then the opening of an assistant turn. */
export function renderGenerationPrompt(messages: readonly ChatMessage[]): string {
  return messages.map(renderMessage).join('') + GENERATION_PROMPT;
}

/**
 * What follows a sampled assistant turn (which ends with its <|im_end|> stop token) to ask for the
 * next turn: the newline that closes the turn, the new messages and a fresh generation prompt.
 * renderGenerationPrompt(a) + completion + '\n' ... equals renderGenerationPrompt(a + [assistant, ...next]).
 */
export function renderContinuation(nextMessages: readonly ChatMessage[]): string {
  return `\n${renderGenerationPrompt(nextMessages)}`;
}

export interface Decoder {
  decode(ids: readonly number[]): string;
}

/**
 * The text of a sampled reply: its tokens decoded without the stop token that ended it (as vLLM reports it).
 * Samplers stop at the first stop token, so only the last token can be one.
 */
export function completionText(
  tokenizer: Decoder,
  tokens: readonly number[],
  stopTokens: readonly number[],
): string {
  const last = tokens.at(-1);
  return tokenizer.decode(last !== undefined && stopTokens.includes(last) ? tokens.slice(0, -1) : tokens);
}
