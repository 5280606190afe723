/**
 * Which engine and which policy version made a sample. Every sample records it; the policy update checks that what
 * it trains on was sampled from the policy it starts from (a GRPO datum's logprobs are the old policy's in Eq. 10).
 */
import { ApplicationFailure } from '@temporalio/common';
import { NON_RETRYABLE } from '../common/error-types.js';
import type { SampledBy } from '../store/documents.js';
import type { PolicyRef } from '../temporal/contracts/common.js';

/** The record of a sample made on `engine` with `policy` (whichever copy of its weights the engine sampled). */
export function sampledBy(engine: string, policy: PolicyRef): SampledBy {
  const { statePath, samplerPath, updates } = policy;
  return { engine, policy: { statePath, samplerPath, updates } };
}

interface RecordedSample {
  _id: string;
  sampledBy?: SampledBy;
}

/**
 * The samples recorded as made by another policy than `policy`. A policy is its saved state: a restored copy
 * (another model, another sampler) of the same state is the same policy. Samples without a record (stored before
 * records existed, or written by an external reflector) are not the policy's own and are not judged.
 */
export function offPolicySamples<T extends RecordedSample>(samples: readonly T[], policy: PolicyRef): T[] {
  return samples.filter(
    (sample) => sample.sampledBy && sample.sampledBy.policy.statePath !== policy.statePath,
  );
}

/** Non-retryable: no retry can make samples of another policy fit this update. */
export function assertSampledFrom(samples: readonly RecordedSample[], policy: PolicyRef, what: string): void {
  const off = offPolicySamples(samples, policy);
  if (off.length === 0) return;
  const shown = off
    .slice(0, 3)
    .map(
      ({ _id, sampledBy }) => `${_id} (engine ${sampledBy!.engine}, policy ${sampledBy!.policy.statePath})`,
    );
  const more = off.length > shown.length ? ` and ${off.length - shown.length} more` : '';
  throw ApplicationFailure.nonRetryable(
    `${what} starts from policy ${policy.statePath} (${policy.updates} updates), but ${off.length} of the ` +
      `${samples.length} samples it would train on were made by another policy: ${shown.join(', ')}${more}`,
    NON_RETRYABLE.offPolicySamples,
  );
}
