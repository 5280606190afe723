/**
 * `checkpoints.keepLast`: which saved policies a run deletes from the engine after a step. Only the policies after
 * the run's own steps are candidates (never its initial policy, which replaying step 0 and forks start from); the
 * newest `keepLast` of them stay, and so does any checkpoint something else still references.
 */
import type { PolicyRef } from '../temporal/contracts/common.js';

export interface SavedStepPolicy {
  step: number;
  policy: Pick<PolicyRef, 'statePath' | 'samplerPath'>;
  /** Already deleted by an earlier pruning. */
  pruned: boolean;
}

export interface PruneChoice {
  step: number;
  paths: [statePath: string, samplerPath: string];
}

export function checkpointsToPrune(
  saved: readonly SavedStepPolicy[],
  keepLast: number,
  referenced: ReadonlySet<string>,
): PruneChoice[] {
  const newestFirst = [...saved].sort((a, b) => b.step - a.step);
  return newestFirst
    .slice(keepLast)
    .filter(
      ({ pruned, policy }) =>
        !pruned && !referenced.has(policy.statePath) && !referenced.has(policy.samplerPath),
    )
    .map(({ step, policy }): PruneChoice => ({ step, paths: [policy.statePath, policy.samplerPath] }))
    .sort((a, b) => a.step - b.step);
}
