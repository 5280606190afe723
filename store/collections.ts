import type { Collection, Db } from 'mongodb';
import type * as Docs from './documents.js';
import { COLLECTIONS } from './mongo.js';

export type StepMetricsDoc = Docs.StepMetrics & {
  _id: string;
  runId: string;
  step: number;
  /** When the step was first recorded (a retry keeps it): its time in trackers. Absent on steps recorded before. */
  recordedAt?: Date;
};

/** The document type of each collection of MEL runs and evals. */
interface MelDocuments {
  runs: Docs.RunDoc;
  steps: Docs.StepDoc;
  prompts: Docs.PromptDoc;
  trajectories: Docs.TrajectoryDoc;
  rewards: Docs.RewardDoc;
  pairs: Docs.PairDoc;
  metaExperiences: Docs.MetaExperienceDoc;
  datums: Docs.DatumDoc;
  grpoBatches: Docs.GrpoBatchDoc;
  exclusions: Docs.ExclusionDoc;
  stepMetrics: StepMetricsDoc;
  evals: Docs.EvalDoc;
  evalProblems: Docs.EvalProblemDoc;
  evalSamples: Docs.EvalSampleDoc;
  writeOnce: Docs.WriteOnceDoc;
}

export type MelCollections = { [Name in keyof MelDocuments]: Collection<MelDocuments[Name]> };

const MEL_COLLECTION_NAMES = [
  'runs',
  'steps',
  'prompts',
  'trajectories',
  'rewards',
  'pairs',
  'metaExperiences',
  'datums',
  'grpoBatches',
  'exclusions',
  'stepMetrics',
  'evals',
  'evalProblems',
  'evalSamples',
  'writeOnce',
] as const satisfies readonly (keyof MelDocuments)[];

/** The typed collections of MEL runs' and evals' documents. */
export function melCollections(db: Db): MelCollections {
  return Object.fromEntries(
    MEL_COLLECTION_NAMES.map((name) => [name, db.collection(COLLECTIONS[name])]),
  ) as MelCollections;
}
