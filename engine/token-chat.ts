import { completionText, renderGenerationPrompt } from '../mel/index.js';
import type { ChatCompletion, ChatRequest, ReflectionEngine, SamplingEngine } from './engine.js';
import type { ModelTokenizer } from './model-files.js';

/**
 * Chat over a token-level sampler: renders the messages in the model's chat format, samples until the end-of-turn
 * token and decodes. It serves the project's OpenAI-compatible server (openai-server.ts) over a Tinker engine; MEL's
 * activities sample the policy token by token instead (activities/reflect.ts), keeping the exact sampled ids.
 */
export class TokenChatEngine implements ReflectionEngine {
  readonly name = 'the policy';

  constructor(
    private readonly sampler: SamplingEngine,
    private readonly tokenizer: ModelTokenizer,
  ) {}

  async chat(request: ChatRequest): Promise<ChatCompletion[]> {
    const sequences = await this.sampler.sample({
      sampler: request.model,
      promptTokens: this.tokenizer.encode(renderGenerationPrompt(request.messages)),
      numSamples: request.numSamples,
      maxTokens: request.maxTokens,
      temperature: request.temperature,
      topP: request.topP,
      seed: request.seed,
      stopTokens: [this.tokenizer.eosTokenId],
    });
    return sequences.map((sequence) => ({
      stopReason: sequence.stopReason,
      text: completionText(this.tokenizer, sequence.tokens, [this.tokenizer.eosTokenId]),
      tokens: sequence.tokens,
      logprobs: sequence.logprobs,
    }));
  }
}
