import type { Db, IndexSpecification } from 'mongodb';
import { COLLECTIONS } from './mongo.js';

/**
 * An index for every query and sort other than by `_id`: the stages' reads (store/step-reads.ts: by run and step,
 * by prompt), the sorted reads of summarize, validate, internalize and the policy update (`_id` or `index` within
 * a step, so MongoDB sorts from the index instead of in memory), and the operator surface (`mel status`,
 * `experiences`, `audit`, `report`, `compare`, `eval`). FerretDB on PostgreSQL builds them too but cannot use
 * them (it compares other fields by jsonb containment), so the stages' filters also name an `_id` range
 * (store/documents.ts, `idsUnder`), which it answers from the `_id` index.
 */
const INDEXES: Record<string, IndexSpecification[]> = {
  [COLLECTIONS.runs]: [{ createdAt: -1 }, { 'initialPolicy.statePath': 1 }],
  [COLLECTIONS.steps]: [{ runId: 1, step: 1 }, { 'update.policyAfter.statePath': 1 }],
  [COLLECTIONS.stepMetrics]: [{ runId: 1, step: 1 }],
  [COLLECTIONS.prompts]: [{ runId: 1, step: 1 }],
  [COLLECTIONS.trajectories]: [{ runId: 1, step: 1 }, { promptId: 1 }],
  [COLLECTIONS.rewards]: [{ runId: 1, step: 1 }],
  [COLLECTIONS.pairs]: [{ runId: 1, step: 1, _id: 1 }],
  [COLLECTIONS.metaExperiences]: [
    { runId: 1, step: 1, _id: 1 },
    { runId: 1, 'verdict.accepted': 1 },
  ],
  [COLLECTIONS.datums]: [{ runId: 1, step: 1, kind: 1, index: 1 }],
  [COLLECTIONS.grpoBatches]: [{ runId: 1, step: 1 }],
  [COLLECTIONS.exclusions]: [{ runId: 1, step: 1 }, { promptId: 1 }],
  [COLLECTIONS.evals]: [{ 'definition.target.runId': 1, createdAt: 1, _id: 1 }],
  [COLLECTIONS.evalProblems]: [{ evalId: 1, problemIndex: 1 }],
  [COLLECTIONS.evalSamples]: [{ evalId: 1, problemIndex: 1 }],
};

/** Creates the indexes if missing; idempotent, so every worker and CLI start-up may call it. */
export async function ensureIndexes(db: Db): Promise<void> {
  for (const [collection, specs] of Object.entries(INDEXES)) {
    for (const spec of specs) await db.collection(collection).createIndex(spec);
  }
}
