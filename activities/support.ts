/** What every MEL activity shares: its dependencies, the run it works for, and its Temporal origin. */
import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { MelMetrics } from '../telemetry/mel-metrics.js';
import type { Db } from 'mongodb';
import { currentCallScope } from '../common/call-scope.js';
import { NON_RETRYABLE } from '../common/error-types.js';
import { mapLimited } from '../common/map-limited.js';
import type { PolicyEngine, ReflectionEngine } from '../engine/engine.js';
import type { ModelTokenizer } from '../engine/model-files.js';
import { assertUnchanged, type CompareSymbolically, type Problem } from '../mel/index.js';
import { loadProblemsFile, loadRunDataset, type DataFile } from '../mel/node.js';
import { melCollections } from '../store/collections.js';
import type { RunDoc, TemporalOrigin } from '../store/documents.js';
import type { StepTracker } from '../trackers/tracker.js';
import type { LivenessSettings } from './attempt.js';

export interface MelActivityDeps {
  db: Db;
  engine: PolicyEngine;
  /** The engine's name in sample records (`engineIdOf`): workers on one engine share it. */
  engineId: string;
  /** Set when meta-experiences are written by another model than the policy (MEL_REFLECTION_ENGINE). */
  reflection?: ReflectionEngine;
  tokenizer: ModelTokenizer;
  baseModel: string;
  /** Where `recordStep` keeps each run's metrics.jsonl (`<dir>/<runId>/`); unset: no file. */
  metricsDir?: string;
  /** Where `recordStep` also sends each run's steps (MLflow); a tracker that fails is logged, not thrown. */
  trackers?: readonly StepTracker[];
  /** Compares answers symbolically off the event loop, under the verifier's deadline (a VerifierPool's `compare`). */
  compareSymbolically: CompareSymbolically;
  /** The stall bound and heartbeat pace of every attempt (default: DEFAULT_LIVENESS). */
  liveness?: LivenessSettings;
  /** Where recorded steps are reported as metrics (telemetry/); none by default. */
  metrics?: Pick<MelMetrics, 'stepRecorded'>;
}

export interface LoadedRun extends RunDoc {
  problems: Problem[];
}

/** Non-retryable: retrying cannot fix a missing run or a bad data set. */
export function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, NON_RETRYABLE.invalidInput);
}

export function origin(): TemporalOrigin {
  const info = activityInfo();
  return {
    workflowId: info.workflowExecution?.workflowId ?? 'standalone',
    workflowRunId: info.workflowExecution?.runId ?? 'standalone',
    activityId: info.activityId,
    activityType: info.activityType,
    attempt: info.attempt,
  };
}

const problemCache = new Map<string, Promise<Problem[]>>();

/**
 * The run's problems, read as the run reads them, from a file whose SHA-256 is the one the run was started on
 * (its pin): each worker reads the file itself, so a changed file or another copy on another host is refused
 * instead of changing silently what a retried or replayed step trains on.
 */
async function loadDataset(run: RunDoc): Promise<Problem[]> {
  const { source } = run.config.dataset;
  const dataset = await loadRunDataset(run.config).catch((error: unknown) => {
    throw unusableData(source, error);
  });
  if (run.data) assertUnchanged(source, run.data.sha256, dataset.sha256, `run ${run._id} was started`);
  return dataset.problems;
}

/** A .jsonl/.parquet file of problems; a missing file or a bad row (named by file:line) is non-retryable. */
export async function loadDataFile(path: string): Promise<DataFile> {
  return loadProblemsFile(path).catch((error: unknown) => {
    throw unusableData(path, error);
  });
}

function unusableData(source: string, error: unknown): ApplicationFailure {
  return invalidInput(`data set ${source}: ${(error as Error).message}`);
}

/** The run's configuration from MongoDB and its data set (cached per process). */
export async function loadRun(db: Db, runId: string): Promise<LoadedRun> {
  const run = await melCollections(db).runs.findOne({ _id: runId });
  if (!run) throw invalidInput(`run ${runId} is not registered`);
  const key = `${runId}:${JSON.stringify(run.config.dataset)}`;
  if (!problemCache.has(key)) problemCache.set(key, loadDataset(run));
  const problems = await problemCache.get(key)!.catch((error: unknown) => {
    problemCache.delete(key);
    throw error;
  });
  return { ...run, problems };
}

/**
 * Runs `fn` over `items`, at most `limit` at a time. Each finished item is progress of the attempt, and `{ stage,
 * done, total }` (plus `detail`) is what its heartbeats show in the Temporal UI. Once the attempt is over (failed,
 * stalled or cancelled) no lane starts another item.
 */
export async function mapWithProgress<T, R>(
  stage: string,
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  detail: () => object = () => ({}),
): Promise<R[]> {
  const scope = currentCallScope();
  let done = 0;
  const show = () => scope?.show({ stage, done, total: items.length, ...detail() });
  show();
  return mapLimited(items, limit, async (item, index) => {
    scope?.signal.throwIfAborted();
    const result = await fn(item, index);
    done++;
    scope?.progressed(`${stage}: item ${index} done`);
    show();
    return result;
  });
}

/** What the attempt's heartbeats show of its work, e.g. the phase of a policy update. */
export function showProgress(details: Record<string, unknown>): void {
  currentCallScope()?.show(details);
}
