/** Read-side queries of the operator surface (`mel` CLI). Writes belong to the activities, never here. */
import type { Collection, Db, Filter } from 'mongodb';
import type { AuditEvidence } from './audit.js';
import { melCollections, type StepMetricsDoc } from './collections.js';
import type { StepEvidence } from './replay-diff.js';
import type { PolicyRef } from '../temporal/contracts/common.js';
import type { EvalDoc, MetaExperienceDoc, RunDoc } from './documents.js';
import { ids, stepScope } from './documents.js';
import type { InitialPolicySpec, RunMode } from '../mel/run-config.js';

export type StepMetricsRow = Omit<StepMetricsDoc, '_id'>;
export type VerdictFilter = 'accepted' | 'rejected' | 'pending';

export interface RunSummary {
  runId: string;
  createdAt: Date;
  baseModel: string;
  /** 'mel' or the 'grpo' baseline. */
  mode: RunMode;
  totalSteps: number;
  stepsRecorded: number;
  workflowId: string;
}

export async function listRunDocs(db: Db, limit = 50): Promise<RunSummary[]> {
  const { runs, stepMetrics } = melCollections(db);
  const docs = await runs.find().sort({ createdAt: -1 }).limit(limit).toArray();
  return Promise.all(
    docs.map(async (run) => ({
      runId: run._id,
      createdAt: run.createdAt,
      baseModel: run.baseModel,
      mode: run.config.mode,
      totalSteps: run.config.steps,
      stepsRecorded: await stepMetrics.countDocuments({ runId: run._id }),
      workflowId: run.workflowId,
    })),
  );
}

export function findRun(db: Db, runId: string): Promise<RunDoc | null> {
  return byId(melCollections(db).runs, runId);
}

function byId<T extends { _id: string }>(
  collection: Collection<T>,
  id: string | undefined,
): Promise<T | null> {
  if (id === undefined) return Promise.resolve(null);
  return collection.findOne({ _id: id } as Filter<T>) as Promise<T | null>;
}

/** A policy some run saved: which run, and the step whose update produced it (null: the run's initial policy). */
export interface RecordedPolicy {
  runId: string;
  step: number | null;
  policy: PolicyRef;
}

/** The policy a run had after the update of `step`; its initial policy for step -1. */
export async function policyAfterStep(db: Db, run: RunDoc, step: number): Promise<PolicyRef | undefined> {
  if (step < 0) return run.initialPolicy;
  return (await byId(melCollections(db).steps, ids.step(run._id, step)))?.update?.policyAfter;
}

/** A run's newest policy: after the last step that updated it, else its initial one; null before either exists. */
export async function latestPolicy(db: Db, run: RunDoc): Promise<RecordedPolicy | null> {
  const [last] = await melCollections(db)
    .steps.find({ runId: run._id, update: { $exists: true } })
    .sort({ step: -1 })
    .limit(1)
    .toArray();
  if (last?.update) return { runId: run._id, step: last.step, policy: last.update.policyAfter };
  return run.initialPolicy ? { runId: run._id, step: null, policy: run.initialPolicy } : null;
}

/** The recorded policy whose saved training state is `statePath` (`tinker://<model>/weights/<name>`), if any. */
export async function findPolicyByStatePath(db: Db, statePath: string): Promise<RecordedPolicy | null> {
  const { steps, runs } = melCollections(db);
  const step = await steps.findOne({ 'update.policyAfter.statePath': statePath });
  if (step?.update) return { runId: step.runId, step: step.step, policy: step.update.policyAfter };
  const run = await runs.findOne({ 'initialPolicy.statePath': statePath });
  return run?.initialPolicy ? { runId: run._id, step: null, policy: run.initialPolicy } : null;
}

/** A run configuration's `initialPolicy` cannot start the run: not recorded here, or of another LoRA rank. */
export class ForkSourceError extends Error {
  override name = 'ForkSourceError';
}

export function describeInitialPolicy(spec: InitialPolicySpec): string {
  return 'statePath' in spec ? spec.statePath : `run ${spec.runId} after step ${spec.step}`;
}

/**
 * Checkpoint paths that something besides their own run still needs: what other runs started from (their initial
 * policy, a fork's source, a replay's restored policy) and the policy of every eval that is still running.
 */
export async function referencedCheckpoints(db: Db, runId: string): Promise<Set<string>> {
  const { runs, evals } = melCollections(db);
  const [otherRuns, runningEvals] = await Promise.all([
    runs
      .find({ _id: { $ne: runId } }, { projection: { initialPolicy: 1, forkedFrom: 1, replayOf: 1 } })
      .toArray(),
    evals.find({ status: 'running' }, { projection: { 'definition.target.policy': 1 } }).toArray(),
  ]);
  const paths = [
    ...otherRuns.flatMap((run) => [
      run.initialPolicy?.statePath,
      run.initialPolicy?.samplerPath,
      run.forkedFrom?.statePath,
      run.replayOf?.policy.statePath,
      run.replayOf?.policy.samplerPath,
    ]),
    ...runningEvals.flatMap(({ definition }) => [
      definition.target.policy.statePath,
      definition.target.policy.samplerPath,
    ]),
  ];
  return new Set(paths.filter((path): path is string => path !== undefined));
}

/** The recorded checkpoint a run forks from (`initialPolicy`), checked against the new run's LoRA rank. */
export async function forkSource(db: Db, spec: InitialPolicySpec, rank: number): Promise<RecordedPolicy> {
  const recorded =
    'statePath' in spec
      ? await findPolicyByStatePath(db, spec.statePath)
      : await byId(melCollections(db).steps, ids.step(spec.runId, spec.step)).then((step) =>
          step?.update ? { runId: spec.runId, step: spec.step, policy: step.update.policyAfter } : null,
        );
  const named = `initialPolicy (${describeInitialPolicy(spec)})`;
  if (!recorded) {
    throw new ForkSourceError(
      `${named} is no checkpoint a run recorded in this store: give a run id and a step it completed, or the ` +
        'statePath of a policy `mel status` or `mel train` printed',
    );
  }
  if (recorded.policy.rank !== rank) {
    throw new ForkSourceError(
      `${named} is a LoRA adapter of rank ${recorded.policy.rank}, but lora.rank is ${rank}: a state can only be ` +
        'restored into an adapter of the same rank',
    );
  }
  return recorded;
}

export function findEval(db: Db, evalId: string): Promise<EvalDoc | null> {
  return byId(melCollections(db).evals, evalId);
}

/** The evals of policies the given runs produced (a run's newest policy or a checkpoint it saved), oldest first. */
export function evalsOfRuns(db: Db, runIds: readonly string[]): Promise<EvalDoc[]> {
  return melCollections(db)
    .evals.find({ 'definition.target.runId': { $in: [...runIds] } })
    .sort({ createdAt: 1, _id: 1 })
    .toArray();
}

/** Per-step metrics of a run in step order (one row per recorded step). */
export async function stepMetrics(db: Db, runId: string): Promise<StepMetricsRow[]> {
  const rows = await melCollections(db).stepMetrics.find({ runId }).sort({ step: 1 }).toArray();
  return rows.map(({ _id, ...row }) => row);
}

export async function listMetaExperiences(
  db: Db,
  runId: string,
  options: { step?: number; verdict?: VerdictFilter } = {},
): Promise<MetaExperienceDoc[]> {
  const filter: Filter<MetaExperienceDoc> = { runId };
  if (options.step !== undefined) filter.step = options.step;
  if (options.verdict === 'accepted') filter['verdict.accepted'] = true;
  if (options.verdict === 'rejected') filter['verdict.accepted'] = false;
  if (options.verdict === 'pending') filter.verdict = { $exists: false };
  const docs = await melCollections(db).metaExperiences.find(filter).toArray();
  return docs.sort((a, b) => a.step - b.step || a._id.localeCompare(b._id));
}

/** Every document the audit of one meta-experience needs, or null if there is no such meta-experience. */
export async function loadAuditEvidence(db: Db, metaExperienceId: string): Promise<AuditEvidence | null> {
  const { metaExperiences, pairs, runs, prompts, trajectories, rewards, steps } = melCollections(db);
  const metaExperience = await byId(metaExperiences, metaExperienceId);
  if (!metaExperience) return null;
  const { runId, step, promptId, pairId } = metaExperience;
  const pair = await byId(pairs, pairId);
  const [run, prompt, positive, negative, positiveReward, negativeReward, stepDoc] = await Promise.all([
    byId(runs, runId),
    byId(prompts, promptId),
    byId(trajectories, pair?.positiveTrajectoryId),
    byId(trajectories, pair?.negativeTrajectoryId),
    byId(rewards, pair?.positiveTrajectoryId),
    byId(rewards, pair?.negativeTrajectoryId),
    byId(steps, ids.step(runId, step)),
  ]);
  return {
    metaExperience,
    run,
    prompt,
    pair,
    positive,
    negative,
    positiveReward,
    negativeReward,
    step: stepDoc,
  };
}

/** A step's documents, for comparing it with its replay. */
export async function loadStepEvidence(db: Db, runId: string, step: number): Promise<StepEvidence> {
  const scope = stepScope(runId, step);
  const collections = melCollections(db);
  const [prompts, trajectories, rewards, pairs, candidates, stepDoc] = await Promise.all([
    collections.prompts.find(scope).toArray(),
    collections.trajectories.find(scope).toArray(),
    collections.rewards.find(scope).toArray(),
    collections.pairs.find(scope).toArray(),
    collections.metaExperiences.find(scope).toArray(),
    byId(collections.steps, ids.step(runId, step)),
  ]);
  return { runId, step, prompts, trajectories, rewards, pairs, candidates, stepDoc };
}
