import type { StepMetricsRow } from '../../../store/queries.js';

/** A recorded step's metrics row, as the trackers' tests need one. */
export const stepMetricsRow = (step: number, over: Partial<StepMetricsRow> = {}): StepMetricsRow => ({
  runId: 'r',
  step,
  prompts: 4,
  trajectories: 16,
  passRate: 0.5,
  mixedGroups: 1,
  pairs: 1,
  candidates: 1,
  parsedCandidates: 1,
  accepted: 1,
  rejected: 0,
  retentionRatio: 1,
  grpoLoss: 0.1,
  nllLoss: null,
  stageDurationsMs: { rollout: 10 },
  ...over,
});
