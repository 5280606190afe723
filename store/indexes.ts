import type { Db, IndexSpecification } from 'mongodb';
import { COLLECTIONS } from './mongo.js';

/**
 * Read paths of the operator surface (`mel status`, `experiences`, `audit`, `report`): all scoped by run and step;
 * eval problems and samples by eval and problem.
 */
const INDEXES: Record<string, IndexSpecification[]> = {
  [COLLECTIONS.steps]: [{ runId: 1, step: 1 }],
  [COLLECTIONS.stepMetrics]: [{ runId: 1, step: 1 }],
  [COLLECTIONS.prompts]: [{ runId: 1, step: 1 }],
  [COLLECTIONS.trajectories]: [{ runId: 1, step: 1 }, { promptId: 1 }],
  [COLLECTIONS.rewards]: [{ runId: 1, step: 1 }],
  [COLLECTIONS.pairs]: [{ runId: 1, step: 1 }],
  [COLLECTIONS.metaExperiences]: [
    { runId: 1, step: 1 },
    { runId: 1, 'verdict.accepted': 1 },
  ],
  [COLLECTIONS.datums]: [{ runId: 1, step: 1, kind: 1 }],
  [COLLECTIONS.exclusions]: [{ runId: 1, step: 1 }, { promptId: 1 }],
  [COLLECTIONS.evalProblems]: [{ evalId: 1, problemIndex: 1 }],
  [COLLECTIONS.evalSamples]: [{ evalId: 1, problemIndex: 1 }],
};

/** Creates the indexes if missing; idempotent, so every worker and CLI start-up may call it. */
export async function ensureIndexes(db: Db): Promise<void> {
  for (const [collection, specs] of Object.entries(INDEXES)) {
    for (const spec of specs) await db.collection(collection).createIndex(spec);
  }
}
