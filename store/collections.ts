import type { Db } from 'mongodb';
import type {
  DatumDoc,
  EvalDoc,
  EvalProblemDoc,
  EvalSampleDoc,
  MetaExperienceDoc,
  PairDoc,
  PromptDoc,
  RewardDoc,
  RunDoc,
  StepDoc,
  StepMetrics,
  TrajectoryDoc,
} from './documents.js';
import { COLLECTIONS } from './mongo.js';

export type StepMetricsDoc = StepMetrics & { _id: string; runId: string; step: number };

/** The typed collections of MEL runs' and evals' documents. */
export function melCollections(db: Db) {
  return {
    runs: db.collection<RunDoc>(COLLECTIONS.runs),
    steps: db.collection<StepDoc>(COLLECTIONS.steps),
    prompts: db.collection<PromptDoc>(COLLECTIONS.prompts),
    trajectories: db.collection<TrajectoryDoc>(COLLECTIONS.trajectories),
    rewards: db.collection<RewardDoc>(COLLECTIONS.rewards),
    pairs: db.collection<PairDoc>(COLLECTIONS.pairs),
    metaExperiences: db.collection<MetaExperienceDoc>(COLLECTIONS.metaExperiences),
    datums: db.collection<DatumDoc>(COLLECTIONS.datums),
    stepMetrics: db.collection<StepMetricsDoc>(COLLECTIONS.stepMetrics),
    evals: db.collection<EvalDoc>(COLLECTIONS.evals),
    evalProblems: db.collection<EvalProblemDoc>(COLLECTIONS.evalProblems),
    evalSamples: db.collection<EvalSampleDoc>(COLLECTIONS.evalSamples),
  };
}
