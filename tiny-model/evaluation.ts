import type { SampledSequence, SamplingEngine } from '../engine/engine.js';
import { completionText as decodeCompletion, renderGenerationPrompt } from '../mel/chat.js';
import { parseMetaExperience } from '../mel/parser.js';
import { rolloutMessages } from '../mel/prompts.js';
import type { MelTokenizer } from '../mel/tokenizer.js';
import type { ChatMessage, Problem } from '../mel/types.js';
import { verifySolution } from '../mel/verifier.js';
import { sharedVerifierPool } from '../mel/verifier-pool.js';
import type { SftExample } from './curriculum.js';

// Sampled evaluation of a warm-start checkpoint: pass rate of rollouts and parse rate of reflections.
// Requests go out a batch at a time, each batch filling the engine's sampling batch exactly
// (SkyRL pads every sampling batch to sample_max_num_sequences), with a fixed max_tokens so the
// JIT compiles each shape once.

export interface SamplingSetup {
  engine: SamplingEngine;
  samplerPath: string;
  tokenizer: MelTokenizer;
  eosTokenId: number;
  /** Sequences the engine samples in one batch. */
  batchSequences: number;
  temperature: number;
  seed: number;
}

interface SampleParams {
  numSamples: number;
  maxTokens: number;
}

async function sampleAll(
  setup: SamplingSetup,
  prompts: readonly ChatMessage[][],
  params: SampleParams,
): Promise<SampledSequence[][]> {
  const perBatch = Math.max(1, Math.floor(setup.batchSequences / params.numSamples));
  const results: SampledSequence[][] = [];
  for (let start = 0; start < prompts.length; start += perBatch) {
    const batch = prompts.slice(start, start + perBatch).map((messages, i) =>
      setup.engine.sample({
        sampler: setup.samplerPath,
        promptTokens: setup.tokenizer.encode(renderGenerationPrompt(messages)),
        ...params,
        temperature: setup.temperature,
        seed: setup.seed + start + i,
        stopTokens: [setup.eosTokenId],
      }),
    );
    results.push(...(await Promise.all(batch)));
  }
  return results;
}

/** The sampler stops at the end-of-turn token, so it can only be the last one. */
function completionText(setup: SamplingSetup, sequence: SampledSequence): string {
  return decodeCompletion(setup.tokenizer, sequence.tokens, [setup.eosTokenId]);
}

export interface PassRateResult {
  passRate: number;
  /** Correct samples per problem, in problem order. */
  correctPerProblem: number[];
  /** Fraction of problems whose group of `groupSize` samples had both correct and wrong answers. */
  mixedGroupFraction: number;
}

export async function measurePassRate(
  setup: SamplingSetup,
  problems: readonly Problem[],
  options: { groupSize: number; maxTokens: number },
): Promise<PassRateResult> {
  const groups = await sampleAll(setup, problems.map(rolloutMessages), {
    numSamples: options.groupSize,
    maxTokens: options.maxTokens,
  });
  const correctPerProblem = await Promise.all(
    groups.map(async (group, i) => {
      const verdicts = await Promise.all(
        group.map((sequence) =>
          verifySolution(
            completionText(setup, sequence),
            problems[i]?.answer ?? '',
            sharedVerifierPool().compare,
          ),
        ),
      );
      return verdicts.filter((verdict) => verdict.correct).length;
    }),
  );
  const correct = correctPerProblem.reduce((sum, k) => sum + k, 0);
  const mixed = correctPerProblem.filter((k) => k > 0 && k < options.groupSize).length;
  return {
    passRate: correct / Math.max(1, problems.length * options.groupSize),
    correctPerProblem,
    mixedGroupFraction: mixed / Math.max(1, problems.length),
  };
}

export interface ParseRateResult {
  parseRate: number;
  /** One sampled reflection, for the log. */
  example: string;
}

export async function measureParseRate(
  setup: SamplingSetup,
  reflections: readonly SftExample[],
  options: { samplesPerPrompt: number; maxTokens: number },
): Promise<ParseRateResult> {
  const groups = await sampleAll(
    setup,
    reflections.map((example) => example.messages),
    { numSamples: options.samplesPerPrompt, maxTokens: options.maxTokens },
  );
  const sequences = groups.flat();
  const parsed = sequences.filter(
    (sequence) =>
      parseMetaExperience(completionText(setup, sequence), { truncated: sequence.stopReason === 'length' })
        .ok,
  );
  return {
    parseRate: parsed.length / Math.max(1, sequences.length),
    example: sequences[0] ? completionText(setup, sequences[0]) : '',
  };
}
