/**
 * Per-item isolation (docs/mel.md, "Bad items"): what one item of a stage (a prompt's group, a reflection, a
 * replay) may do wrong without failing the stage. The engine refusing that one request, or answering it with
 * unusable samples, excludes the item with its reason. Whatever concerns the engine as a whole (connection errors,
 * timeouts, 429, 5xx, an unknown model) still throws, and Temporal retries the activity as before.
 */
import type { SampledSequence } from '../engine/engine.js';
import { isRequestRejected } from '../engine/errors.js';
import {
  completionText,
  screenSamples,
  type Exclusion,
  type ScreenedSamples,
  type ScreeningRules,
} from '../mel/index.js';
import type { PolicyRef } from '../temporal/contracts/common.js';
import { sampleWithPolicy, type PolicySampleRequest } from './policy.js';
import type { MelActivityDeps } from './support.js';

export type ItemOutcome<T> = { ok: true; value: T } | { ok: false; exclusion: Exclusion };

/** Runs one item's engine call; the engine refusing this request becomes the item's exclusion, not a failure. */
export async function isolateItem<T>(call: () => Promise<T>): Promise<ItemOutcome<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    if (!isRequestRejected(error)) throw error;
    return { ok: false, exclusion: { reason: 'engine-rejected', detail: error.message } };
  }
}

/** The samples of one item from the policy, screened: the usable ones and why the others are left out. */
export async function sampleItem(
  deps: MelActivityDeps,
  policy: PolicyRef,
  request: PolicySampleRequest,
  rules: Pick<ScreeningRules, 'needLogprobs'>,
): Promise<ItemOutcome<{ screened: ScreenedSamples<SampledSequence>; samplerPath: string }>> {
  const sampled = await isolateItem(() => sampleWithPolicy(deps, policy, request));
  if (!sampled.ok) return sampled;
  const { sequences, samplerPath } = sampled.value;
  const screened = screenSamples(sequences, request.numSamples, { maxTokens: request.maxTokens, ...rules });
  return { ok: true, value: { screened, samplerPath } };
}

/** One usable completion for one item (a reflection turn, a replay), with its text; or why there is none. */
export async function sampleOneItem(
  deps: MelActivityDeps,
  policy: PolicyRef,
  request: Omit<PolicySampleRequest, 'numSamples'>,
): Promise<ItemOutcome<{ sequence: SampledSequence; text: string; samplerPath: string }>> {
  const outcome = await sampleItem(deps, policy, { ...request, numSamples: 1 }, { needLogprobs: false });
  if (!outcome.ok) return outcome;
  const { screened, samplerPath } = outcome.value;
  const [first] = screened.usable;
  if (!first) {
    const { reason, detail } = screened.excluded.find((e) => e.sampleIndex === 0)!;
    return { ok: false, exclusion: { reason, detail } };
  }
  const text = completionText(deps.tokenizer, first.sample.tokens, [deps.tokenizer.eosTokenId]);
  return { ok: true, value: { sequence: first.sample, text, samplerPath } };
}
