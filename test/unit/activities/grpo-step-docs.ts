import type { RunConfig } from '../../../mel/run-config.js';
import { COLLECTIONS } from '../../../store/mongo.js';
import { encodeLogprobs, encodeTokens } from '../../../store/token-codec.js';
import type { Doc } from './in-memory-db.js';

// The stored documents of step 0 of a run of `config.batchSize` prompts × 2 samples, rolled out and verified: what
// internalize reads to build the GRPO datums. The last prompt's two rollouts are both correct (advantage 0, not sent,
// still counted); the one before lost its second rollout (a group of one, advantage 0); every other prompt has one
// right and one wrong. Completions differ in length, so the normalisations differ.

export const promptIdOf = (runId: string, p: number) => `${runId}/step-0/p${p}`;
export const completion = (p: number, s: number) =>
  Array.from({ length: 2 + ((p + 3 * s) % 5) }, (_, t) => 100 + t);

export function grpoStepDocs(config: RunConfig): Record<string, Doc[]> {
  const { runId, batchSize: prompts } = config;
  const rewardOf = (p: number, s: number) => (p === prompts - 1 || s === 0 ? 1 : 0);
  const excluded = (p: number, s: number) => p === prompts - 2 && s === 1;
  const samples = Array.from({ length: prompts }, (_, p) => [0, 1].map((s) => ({ p, s })))
    .flat()
    .filter(({ p, s }) => !excluded(p, s));
  const sampleDoc = ({ p, s }: { p: number; s: number }) => ({
    _id: `${promptIdOf(runId, p)}/s${s}`,
    runId,
    step: 0,
    promptId: promptIdOf(runId, p),
    sampleIndex: s,
  });
  return {
    [COLLECTIONS.runs]: [{ _id: runId, config, baseModel: 'base', createdAt: new Date(), workflowId: runId }],
    [COLLECTIONS.steps]: [{ _id: `${runId}/step-0`, runId, step: 0 }],
    [COLLECTIONS.prompts]: Array.from({ length: prompts }, (_, p) => ({
      _id: promptIdOf(runId, p),
      runId,
      step: 0,
      promptIndex: p,
      promptTokens: encodeTokens([1, 2, 3]),
    })),
    [COLLECTIONS.rewards]: samples.map((sample) => ({
      ...sampleDoc(sample),
      reward: rewardOf(sample.p, sample.s),
    })),
    [COLLECTIONS.trajectories]: samples.map((sample) => ({
      ...sampleDoc(sample),
      tokens: encodeTokens(completion(sample.p, sample.s)),
      logprobs: encodeLogprobs(completion(sample.p, sample.s).map(() => -0.5)),
    })),
  };
}
