/** What every MEL activity shares: its dependencies, the run it works for, and its Temporal origin. */
import { activityInfo, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Db } from 'mongodb';
import { NON_RETRYABLE } from '../common/error-types.js';
import { mapLimited } from '../common/map-limited.js';
import type { PolicyEngine, ReflectionEngine } from '../engine/engine.js';
import type { ModelTokenizer } from '../engine/model-files.js';
import { assertUnchanged, type CompareSymbolically, type Problem } from '../mel/index.js';
import { loadProblemsFile, loadRunDataset, type DataFile } from '../mel/node.js';
import { melCollections } from '../store/collections.js';
import type { RunDoc, TemporalOrigin } from '../store/documents.js';

export interface MelActivityDeps {
  db: Db;
  engine: PolicyEngine;
  /** Set when meta-experiences are written by another model than the policy (MEL_REFLECTION_ENGINE). */
  reflection?: ReflectionEngine;
  tokenizer: ModelTokenizer;
  baseModel: string;
  /** Compares answers symbolically off the event loop, under the verifier's deadline (a VerifierPool's `compare`). */
  compareSymbolically: CompareSymbolically;
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
 * Runs `fn` over `items`, at most `limit` at a time, while heartbeating the stage's progress: `{ stage, done,
 * total }` (plus `detail`) is what the Temporal UI shows of the running activity.
 */
export async function mapWithProgress<T, R>(
  stage: string,
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  detail: () => object = () => ({}),
): Promise<R[]> {
  let done = 0;
  const work = mapLimited(items, limit, async (item, index) => {
    const result = await fn(item, index);
    done++;
    return result;
  });
  return withHeartbeat(work, () => ({ stage, done, total: items.length, ...detail() }));
}

/**
 * Awaits `work` while heartbeating every few seconds, so that a long engine call neither trips the heartbeat
 * timeout nor hides a dead worker. `progress` is the heartbeat detail shown in the Temporal UI.
 */
export async function withHeartbeat<T>(
  work: Promise<T>,
  progress: () => unknown,
  everyMs = 5_000,
): Promise<T> {
  heartbeat(progress());
  const timer = setInterval(() => heartbeat(progress()), everyMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
