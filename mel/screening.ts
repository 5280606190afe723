// What the engine answered for one item, judged before anything is built on it. A defective sample, or a whole
// item the engine refused, is excluded with its reason and the step goes on without it (docs/mel.md, "Bad items").

/** Why an item of a step was left out. */
export type ExclusionReason =
  /** The engine refused the request itself, e.g. a prompt longer than its context. */
  | 'engine-rejected'
  /** The engine returned fewer samples than asked for. */
  | 'missing-sample'
  /** The engine returned more samples than asked for; the extra ones are dropped. */
  | 'surplus-sample'
  | 'empty-sample'
  /** A token id that is not an id: negative or not an integer. */
  | 'invalid-tokens'
  /** More tokens than max_tokens allowed. */
  | 'oversize-sample'
  /** No sampler logprob for every token (`logprobs: null`): the GRPO ratio cannot be formed. */
  | 'missing-logprobs';

export interface Exclusion {
  reason: ExclusionReason;
  detail: string;
}

export interface SampleToScreen {
  tokens: readonly number[];
  logprobs: readonly number[];
}

export interface ScreeningRules {
  maxTokens: number;
  /** Rollouts train with their sampler logprobs; reflections and replays do not need them. */
  needLogprobs: boolean;
}

export interface ScreenedSamples<T> {
  usable: { sampleIndex: number; sample: T }[];
  excluded: (Exclusion & { sampleIndex: number })[];
}

/** What is wrong with one sample, if anything. */
export function sampleDefect(sample: SampleToScreen, rules: ScreeningRules): Exclusion | undefined {
  const { tokens, logprobs } = sample;
  if (tokens.length === 0) return { reason: 'empty-sample', detail: 'the engine returned no tokens' };
  if (tokens.length > rules.maxTokens) {
    return { reason: 'oversize-sample', detail: `${tokens.length} tokens, max_tokens is ${rules.maxTokens}` };
  }
  const invalid = tokens.find((token) => !Number.isInteger(token) || token < 0);
  if (invalid !== undefined) return { reason: 'invalid-tokens', detail: `token id ${String(invalid)}` };
  if (rules.needLogprobs && !hasLogprobPerToken(tokens, logprobs)) {
    return { reason: 'missing-logprobs', detail: `${logprobs.length} logprobs for ${tokens.length} tokens` };
  }
  return undefined;
}

function hasLogprobPerToken(tokens: readonly number[], logprobs: readonly number[]): boolean {
  return logprobs.length === tokens.length && logprobs.every((lp) => typeof lp === 'number' && !isNaN(lp));
}

/**
 * The engine's answer to a request for `expected` samples, split into the usable samples and the excluded ones:
 * defective samples, the samples it did not return, and any it returned beyond `expected`.
 */
export function screenSamples<T extends SampleToScreen>(
  samples: readonly T[],
  expected: number,
  rules: ScreeningRules,
): ScreenedSamples<T> {
  const screened: ScreenedSamples<T> = { usable: [], excluded: [] };
  const count = `the engine returned ${samples.length} samples for ${expected}`;
  samples.forEach((sample, sampleIndex) => {
    const defect =
      sampleIndex >= expected
        ? { reason: 'surplus-sample' as const, detail: `${count}; this one is dropped` }
        : sampleDefect(sample, rules);
    if (defect) screened.excluded.push({ sampleIndex, ...defect });
    else screened.usable.push({ sampleIndex, sample });
  });
  for (let sampleIndex = samples.length; sampleIndex < expected; sampleIndex++) {
    screened.excluded.push({ sampleIndex, reason: 'missing-sample', detail: count });
  }
  return screened;
}
