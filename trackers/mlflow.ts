/**
 * The MLflow sink: one MLflow run per MEL run, found by its `mel.runId` tag (so a resumed, re-attached or replayed
 * run, on any worker, continues the same MLflow run), holding the run's configuration as params and each recorded
 * step's metrics at `step` = the MEL step. Each call sends whatever of the run MLflow does not hold yet: params not
 * logged, steps whose points are missing; a retried step sends nothing again, and a step recorded while MLflow was
 * unreachable is sent with the next one.
 */
import { z } from 'zod';
import { chunks } from '../common/chunks.js';
import type { RunDoc } from '../store/documents.js';
import type { StepMetricsRow } from '../store/queries.js';
import { mlflowApi, MlflowError, type MlflowApi, type MlflowSettings } from './mlflow-client.js';
import type { StepTracker } from './tracker.js';

export const RUN_TAG = 'mel.runId';
/**
 * The metric whose history tells which steps MLflow holds: every step has it, and it is its step's last point, so
 * where it is logged the step's other points are too (a file-backed store writes a batch in order).
 */
export const STEP_MARKER = 'prompts';

/** MLflow's limits (mlflow/utils/validation.py): a batch's entries, a param value's length, a key's length. */
export const LIMITS = { metricsPerBatch: 1000, paramsPerBatch: 100, paramValueLength: 6000, keyLength: 250 };

export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}
export interface Param {
  key: string;
  value: string;
}

/** A key MLflow accepts: letters, digits, `_ - . / ` and space (anything else becomes `_`), at most 250 long. */
export function mlflowKey(key: string): string {
  return key.replace(/[^\w.\- /]/g, '_').slice(0, LIMITS.keyLength);
}

/** `{a: {b: 1}, c: [1, 2]}` → `[['a.b', 1], ['c', [1, 2]]]`: leaves under dotted keys; arrays are leaves. */
export function flatten(value: unknown, prefix = ''): [string, unknown][] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date)
    return prefix ? [[prefix, value]] : [];
  return Object.entries(value).flatMap(([key, inner]) => flatten(inner, prefix ? `${prefix}.${key}` : key));
}

/** The run's configuration (dotted keys), its base model and data set pin, as MLflow params. */
export function runParams(run: RunDoc): Param[] {
  const leaves = flatten({
    ...run.config,
    baseModel: run.baseModel,
    ...(run.data ? { data: run.data } : {}),
  });
  return leaves
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => ({
      key: mlflowKey(key),
      value: (typeof value === 'string' ? value : JSON.stringify(value)).slice(0, LIMITS.paramValueLength),
    }));
}

/** The params MLflow does not hold yet (a logged param cannot change: MLflow refuses a new value). */
export function missingParams(params: readonly Param[], logged: readonly Param[]): Param[] {
  const have = new Set(logged.map((param) => param.key));
  return params.filter((param) => !have.has(param.key));
}

export function runTags(run: RunDoc): Param[] {
  return [
    { key: RUN_TAG, value: run._id },
    { key: 'mel.mode', value: run.config.mode },
    { key: 'mel.baseModel', value: run.baseModel },
    { key: 'mel.workflowId', value: run.workflowId },
  ];
}

/**
 * A recorded step's points: every finite number of the row (stage durations as `stageDurationsMs.<stage>`), at the
 * time the step was first recorded (`fallbackTime` for steps recorded before that was kept), STEP_MARKER last.
 * Always the same points for the same row, so a resent step is the same points, not new ones.
 */
export function stepPoints(
  { runId: _run, step, recordedAt, ...metrics }: StepMetricsRow,
  fallbackTime: number,
): Metric[] {
  const timestamp = recordedAt?.getTime() ?? fallbackTime;
  return flatten(metrics)
    .filter((leaf): leaf is [string, number] => typeof leaf[1] === 'number' && Number.isFinite(leaf[1]))
    .map(([key, value]) => ({ key: mlflowKey(key), value, timestamp, step }))
    .sort((a, b) => Number(a.key === STEP_MARKER) - Number(b.key === STEP_MARKER));
}

/** The points of the steps MLflow does not hold, in step order, in batches of whole steps within MLflow's limit. */
export function metricBatches(
  rows: readonly StepMetricsRow[],
  loggedSteps: ReadonlySet<number>,
  fallbackTime: number,
): Metric[][] {
  const batches: Metric[][] = [];
  for (const row of [...rows].sort((a, b) => a.step - b.step)) {
    if (loggedSteps.has(row.step)) continue;
    const points = stepPoints(row, fallbackTime);
    const last = batches.at(-1);
    if (last && last.length + points.length <= LIMITS.metricsPerBatch) last.push(...points);
    else batches.push(points);
  }
  return batches;
}

export const RunInfo = z.object({ run_id: z.string(), start_time: z.coerce.number() });
export type RunInfo = z.infer<typeof RunInfo>;

/** The MLflow run a MEL run keeps when a race created several: the oldest, the lowest id among equally old. */
export function keptRun<T extends RunInfo>(runs: readonly T[]): { keep: T; duplicates: T[] } {
  const [keep, ...duplicates] = [...runs].sort(
    (a, b) => a.start_time - b.start_time || (a.run_id < b.run_id ? -1 : a.run_id > b.run_id ? 1 : 0),
  );
  if (!keep) throw new Error('no run to keep');
  return { keep, duplicates };
}

/** The search filter of a MEL run's MLflow runs (run ids are letters, digits, `_` and `-`: nothing to escape). */
export function runFilter(runId: string): string {
  return `tags.\`${RUN_TAG}\` = '${runId}'`;
}

const SearchedRuns = z.object({
  runs: z
    .array(
      z.object({
        info: RunInfo,
        data: z
          .object({ params: z.array(z.object({ key: z.string(), value: z.string() })).default([]) })
          .prefault({}),
      }),
    )
    .default([]),
});
type SearchedRun = z.infer<typeof SearchedRuns>['runs'][number];
const Experiment = z.object({
  experiment: z.object({ experiment_id: z.string(), lifecycle_stage: z.string().optional() }),
});
const History = z.object({
  metrics: z.array(z.object({ step: z.coerce.number() })).default([]),
  next_page_token: z.string().optional(),
});
const Empty = z.unknown();

export class MlflowSink implements StepTracker {
  readonly name = 'MLflow';
  private readonly api: MlflowApi;

  constructor(
    private readonly settings: MlflowSettings,
    api?: MlflowApi,
  ) {
    this.api = api ?? mlflowApi(settings);
  }

  /** Sends what MLflow does not hold yet of the run: its MLflow run, params, the points of steps not logged. */
  async record(run: RunDoc, rows: readonly StepMetricsRow[]): Promise<void> {
    const tracked = await this.trackedRun(await this.experimentId(), run);
    for (const params of chunks(missingParams(runParams(run), tracked.data.params), LIMITS.paramsPerBatch))
      await this.logBatch(tracked.info.run_id, { params });
    const logged = await this.loggedSteps(tracked.info.run_id);
    for (const metrics of metricBatches(rows, logged, run.createdAt.getTime()))
      await this.logBatch(tracked.info.run_id, { metrics });
    if (rows.some((row) => row.step === run.config.steps - 1)) await this.finish(tracked.info.run_id, rows);
  }

  /** The id of the experiment named MEL_MLFLOW_EXPERIMENT, created when missing. */
  async experimentId(): Promise<string> {
    const name = this.settings.experiment;
    const found = await this.experimentNamed(name);
    if (found) return found;
    try {
      return (await this.api.post('experiments/create', { name }, z.object({ experiment_id: z.string() })))
        .experiment_id;
    } catch (error) {
      // Another worker created it first.
      if (error instanceof MlflowError && error.code === 'RESOURCE_ALREADY_EXISTS') {
        const created = await this.experimentNamed(name);
        if (created) return created;
      }
      throw error;
    }
  }

  private async experimentNamed(name: string): Promise<string | undefined> {
    try {
      const { experiment } = await this.api.get(
        'experiments/get-by-name',
        { experiment_name: name },
        Experiment,
      );
      if (experiment.lifecycle_stage === 'deleted')
        throw new Error(
          `MLflow experiment ${name} is deleted: restore it, or set MEL_MLFLOW_EXPERIMENT to another`,
        );
      return experiment.experiment_id;
    } catch (error) {
      if (error instanceof MlflowError && error.code === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw error;
    }
  }

  /**
   * The MEL run's MLflow run, created when there is none. Two workers may both find none and both create one (a
   * retried recordStep beside a stale attempt still running): whoever then sees several keeps the oldest (all start
   * at the MEL run's registration, so the lowest run id) and deletes the others. A worker that saw only its own may
   * have logged a step into a run since deleted; the kept run lacks that step's points, and the next call sends them
   * there (it sends every step the kept run lacks). Every worker converges on the same run.
   */
  async trackedRun(experimentId: string, run: RunDoc): Promise<SearchedRun> {
    let runs = await this.searchRuns(experimentId, run._id);
    if (runs.length === 0) {
      await this.api.post(
        'runs/create',
        {
          experiment_id: experimentId,
          run_name: run._id,
          start_time: run.createdAt.getTime(),
          tags: runTags(run),
        },
        Empty,
      );
      runs = await this.searchRuns(experimentId, run._id);
    }
    const { keep, duplicates } = keptRun(runs.map((found) => ({ ...found.info, found })));
    for (const duplicate of duplicates)
      await this.api.post('runs/delete', { run_id: duplicate.run_id }, Empty);
    return keep.found;
  }

  private async searchRuns(experimentId: string, runId: string): Promise<SearchedRun[]> {
    const body = {
      experiment_ids: [experimentId],
      filter: runFilter(runId),
      run_view_type: 'ACTIVE_ONLY',
      max_results: 100,
    };
    return (await this.api.post('runs/search', body, SearchedRuns)).runs;
  }

  /** The steps MLflow holds STEP_MARKER's point of (every page of its history). */
  async loggedSteps(mlflowRunId: string): Promise<Set<number>> {
    const steps = new Set<number>();
    let pageToken: string | undefined;
    do {
      const query = {
        run_id: mlflowRunId,
        metric_key: STEP_MARKER,
        max_results: '25000',
        ...(pageToken ? { page_token: pageToken } : {}),
      };
      const page = await this.api.get('metrics/get-history', query, History);
      for (const point of page.metrics) steps.add(point.step);
      pageToken = page.next_page_token || undefined;
    } while (pageToken);
    return steps;
  }

  private async logBatch(
    mlflowRunId: string,
    batch: { metrics?: Metric[]; params?: Param[] },
  ): Promise<void> {
    await this.api.post('runs/log-batch', { run_id: mlflowRunId, ...batch }, Empty);
  }

  /** The run's last step is recorded: FINISHED, ended when that step was (the same on every call). */
  private async finish(mlflowRunId: string, rows: readonly StepMetricsRow[]): Promise<void> {
    const last = rows.reduce((latest, row) => (row.step > latest.step ? row : latest));
    const endTime = last.recordedAt?.getTime();
    await this.api.post(
      'runs/update',
      { run_id: mlflowRunId, status: 'FINISHED', ...(endTime ? { end_time: endTime } : {}) },
      Empty,
    );
  }
}
