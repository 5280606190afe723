/** Checkpoint housekeeping on the engine: `checkpoints.keepLast` (checkpoints/prune.ts decides, this deletes). */
import { log } from '@temporalio/activity';
import { checkpointsToPrune } from '../checkpoints/prune.js';
import { melCollections } from '../store/collections.js';
import { idsUnder, ids } from '../store/documents.js';
import { referencedCheckpoints } from '../store/queries.js';
import { setFields } from '../store/writes.js';
import type { PruneSummary, StepRef } from '../temporal/contracts/run.js';
import { invalidInput, type MelActivityDeps } from './support.js';

export function createCheckpointActivities(deps: MelActivityDeps) {
  const { db, engine } = deps;
  const { runs, steps } = melCollections(db);

  /**
   * After step `step`: deletes the saved state and sampler weights of the steps `keepLast` no longer keeps, then
   * marks those steps pruned. Idempotent: a checkpoint already gone counts as deleted, a marked step is skipped.
   */
  async function pruneCheckpoints({ runId, step }: StepRef): Promise<PruneSummary> {
    const run = await runs.findOne({ _id: runId }, { projection: { 'config.checkpoints': 1 } });
    if (!run) throw invalidInput(`run ${runId} is not registered`);
    // Runs registered before `checkpoints` existed have none.
    const keepLast = run.config.checkpoints?.keepLast;
    if (keepLast === undefined) return { prunedSteps: [] };
    if (!engine.deleteCheckpoint) return unsupported(runId);
    const saved = await steps
      .find(
        { _id: idsUnder(runId), update: { $exists: true } },
        { projection: { step: 1, 'update.policyAfter': 1, checkpointsPruned: 1 } },
      )
      .toArray();
    const choices = checkpointsToPrune(
      saved.map((doc) => ({
        step: doc.step,
        policy: doc.update!.policyAfter,
        pruned: !!doc.checkpointsPruned,
      })),
      keepLast,
      await referencedCheckpoints(db, runId),
    );
    for (const { step: pruned, paths } of choices) {
      for (const path of paths) {
        if ((await engine.deleteCheckpoint(path)) === 'unsupported') return unsupported(runId);
      }
      await setFields(steps, [
        {
          id: ids.step(runId, pruned),
          fields: { checkpointsPruned: { at: new Date(), keepLast, afterStep: step } },
        },
      ]);
    }
    return { prunedSteps: choices.map((choice) => choice.step) };
  }

  return { pruneCheckpoints };
}

function unsupported(runId: string): PruneSummary {
  log.warn('the engine cannot delete checkpoints: checkpoints.keepLast has no effect', { runId });
  return { prunedSteps: [], unsupported: true };
}
