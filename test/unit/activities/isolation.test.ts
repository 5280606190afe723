/**
 * What one item's engine call may do wrong without failing its stage, against an engine stub: the engine refusing
 * the request, or answering it with unusable samples, becomes the item's exclusion; an outage still throws.
 */
import { describe, expect, it } from 'vitest';
import { sampleItem, sampleOneItem } from '../../../activities/isolation.js';
import type { MelActivityDeps } from '../../../activities/support.js';
import { EngineError, type SampledSequence } from '../../../engine/engine.js';
import type { PolicyRef } from '../../../temporal/contracts/common.js';

const EOS = 2;
const policy: PolicyRef = {
  modelId: 'm',
  statePath: 'tinker://m/weights/s',
  samplerPath: 'tinker://m/s',
  updates: 0,
  rank: 8,
};
const request = { promptTokens: [5, 6], maxTokens: 8, temperature: 1, seed: 1 };
const sequence = (tokens: number[], logprobs = tokens.map(() => -1)): SampledSequence => ({
  stopReason: 'stop',
  tokens,
  logprobs,
});

/** Deps whose engine answers every sample request with `answer` (or throws it). */
function depsAnswering(answer: SampledSequence[] | Error): MelActivityDeps {
  const sample = async () => {
    if (answer instanceof Error) throw answer;
    return answer;
  };
  const tokenizer = { encode: () => [], decode: (ids: readonly number[]) => ids.join(' '), eosTokenId: EOS };
  return { engine: { sample }, tokenizer } as unknown as MelActivityDeps;
}

describe('per-item isolation of engine calls', () => {
  it('a request the engine refuses (400) excludes the item with the engine’s words', async () => {
    const refused = new EngineError(
      'POST /retrieve_future answered 400: maximum context length is 2048 tokens',
      {
        retryable: false,
        status: 400,
      },
    );
    const outcome = await sampleItem(
      depsAnswering(refused),
      policy,
      { ...request, numSamples: 4 },
      { needLogprobs: true },
    );
    expect(outcome).toEqual({ ok: false, exclusion: { reason: 'engine-rejected', detail: refused.message } });
  });

  it('an outage or a malformed body still fails the activity (a model that is gone is restored first)', async () => {
    const failures = [
      new EngineError('POST /asample failed: fetch failed', { retryable: true }),
      new EngineError('answered 503', { retryable: true, status: 503 }),
      new EngineError('answered 422: num_samples', { retryable: false, status: 422 }),
      new Error('a bug'),
    ];
    for (const failure of failures) {
      await expect(sampleOneItem(depsAnswering(failure), policy, request)).rejects.toBe(failure);
    }
  });

  it('a group keeps its usable samples and names the others', async () => {
    const answer = [sequence([7, EOS]), sequence([7, EOS], []), sequence([])];
    const outcome = await sampleItem(
      depsAnswering(answer),
      policy,
      { ...request, numSamples: 4 },
      { needLogprobs: true },
    );
    expect(outcome.ok && outcome.value.screened.usable.map((u) => u.sampleIndex)).toEqual([0]);
    expect(outcome.ok && outcome.value.screened.excluded.map((e) => [e.sampleIndex, e.reason])).toEqual([
      [1, 'missing-logprobs'],
      [2, 'empty-sample'],
      [3, 'missing-sample'],
    ]);
  });

  it('one completion (a reflection, a replay): none returned, or an unusable one, is the item’s exclusion', async () => {
    expect(await sampleOneItem(depsAnswering([]), policy, request)).toEqual({
      ok: false,
      exclusion: { reason: 'missing-sample', detail: 'the engine returned 0 samples for 1' },
    });
    expect(await sampleOneItem(depsAnswering([sequence([7, -3])]), policy, request)).toMatchObject({
      ok: false,
      exclusion: { reason: 'invalid-tokens' },
    });
    // Reflections and replays do not train on sampler logprobs; a second sample is dropped.
    const outcome = await sampleOneItem(
      depsAnswering([sequence([7, 8, EOS], []), sequence([9])]),
      policy,
      request,
    );
    expect(outcome).toMatchObject({ ok: true, value: { text: '7 8', samplerPath: policy.samplerPath } });
  });
});
