/**
 * The MLflow sink against a real MLflow server (PyPI `mlflow`, started here on a fresh SQLite store): recordStep on
 * the stack's MongoDB gives one MLflow run per MEL run with each step's metrics once at its MEL step, whatever is
 * retried, resumed or raced; and a worker process with MLFLOW_TRACKING_URI sends a whole run there.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecordActivities } from '../../activities/records.js';
import type { MelActivityDeps } from '../../activities/support.js';
import { loadEnv } from '../../common/env.js';
import { datasetPin, loadRunDataset } from '../../mel/node.js';
import type { RunConfig } from '../../mel/run-config.js';
import { melCollections } from '../../store/collections.js';
import { connectMongo, type MongoHandle } from '../../store/mongo.js';
import { stepMetrics } from '../../store/queries.js';
import { followRun, startRun } from '../../temporal/client.js';
import { freePort } from '../../stack/process.js';
import { mlflowSettingsFromEnv, type MlflowSettings } from '../../trackers/mlflow-client.js';
import { MlflowSink } from '../../trackers/mlflow.js';
import { signalProcessGroup, spawnWorkerProcess } from '../../workers/process.js';
import { startMlflowServer, type MlflowServer } from './mlflow-server.js';
import { shortRunConfig } from './mel-support.js';
import { client, endpoints, stepResult, useEngineDouble } from './support.js';

interface Point {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}
interface FoundRun {
  info: { run_id: string; run_name: string; status: string; end_time?: number };
  data: { params?: { key: string; value: string }[]; tags?: { key: string; value: string }[] };
}

let server: MlflowServer;
let mongo: MongoHandle;
let settings: MlflowSettings;

beforeAll(async () => {
  [server, mongo] = await Promise.all([startMlflowServer(), connectMongo(endpoints)]);
  settings = mlflowSettingsFromEnv({ MLFLOW_TRACKING_URI: server.uri })!;
});
afterAll(async () => {
  await server?.stop();
  await mongo?.close();
});

/** MLflow's REST API, read directly (not through the sink's client). */
async function mlflow<T>(endpoint: string, body?: object): Promise<T> {
  const url = `${server.uri}/api/2.0/mlflow/${endpoint}`;
  const response = await fetch(url, {
    method: body ? 'POST' : 'GET',
    headers: { 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`${endpoint}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function experimentId(name = settings.experiment): Promise<string> {
  const query = new URLSearchParams({ experiment_name: name });
  return (await mlflow<{ experiment: { experiment_id: string } }>(`experiments/get-by-name?${query}`))
    .experiment.experiment_id;
}

/** The active MLflow runs tagged with the MEL run. */
async function mlflowRuns(runId: string, experiment?: string): Promise<FoundRun[]> {
  const filter = `tags.\`mel.runId\` = '${runId}'`;
  const body = { experiment_ids: [await experimentId(experiment)], filter, run_view_type: 'ACTIVE_ONLY' };
  return (await mlflow<{ runs?: FoundRun[] }>('runs/search', body)).runs ?? [];
}

async function onlyRun(runId: string, experiment?: string): Promise<FoundRun> {
  const runs = await mlflowRuns(runId, experiment);
  expect(runs).toHaveLength(1);
  return runs[0]!;
}

async function history(mlflowRunId: string, key: string): Promise<Point[]> {
  const query = new URLSearchParams({ run_id: mlflowRunId, metric_key: key });
  return (await mlflow<{ metrics?: Point[] }>(`metrics/get-history?${query}`)).metrics ?? [];
}

const steps = (points: Point[]) => points.map((point) => point.step).sort((a, b) => a - b);

/** A registered MEL run and its recordStep, sending to `sink` (a new sink: a new worker process, say). */
async function registered(config: RunConfig) {
  const { registerRun } = createRecordActivities({
    db: mongo.db,
    baseModel: 'tiny',
  } as unknown as MelActivityDeps);
  await registerRun({
    config,
    data: datasetPin(await loadRunDataset(config)),
    workflowId: `mel-run/${config.runId}`,
  });
  return (sink: MlflowSink) =>
    createRecordActivities({
      db: mongo.db,
      baseModel: 'tiny',
      trackers: [sink],
    } as unknown as MelActivityDeps).recordStep;
}

describe('MLflow sink, recordStep on the stack', () => {
  it('keeps one MLflow run per MEL run, each step once at its step and time, across retries and resumes', async () => {
    const config = shortRunConfig({ steps: 3, mode: 'grpo' });
    const recorder = await registered(config);
    const recordStep = recorder(new MlflowSink(settings));
    await recordStep({ runId: config.runId, result: stepResult(0, 0.25) });
    await recordStep({ runId: config.runId, result: stepResult(1, 0.5) });
    await recordStep({ runId: config.runId, result: stepResult(1, 0.5) }); // a retry
    const first = await onlyRun(config.runId);
    expect(first.info.run_name).toBe(config.runId);
    expect(first.info.status).toBe('RUNNING');

    // A resumed run on another worker: a new sink, no state shared with the first.
    await recorder(new MlflowSink(settings))({ runId: config.runId, result: stepResult(2, 0.75) });
    const run = await onlyRun(config.runId);
    expect(run.info.run_id).toBe(first.info.run_id);

    const passRate = await history(run.info.run_id, 'passRate');
    expect(passRate.map(({ step, value }) => [step, value]).sort()).toEqual([
      [0, 0.25],
      [1, 0.5],
      [2, 0.75],
    ]);
    const recordedAt = (await stepMetrics(mongo.db, config.runId)).map((row) => row.recordedAt!.getTime());
    expect(passRate.map((point) => point.timestamp).sort((x, y) => x - y)).toEqual(recordedAt);
    for (const key of ['prompts', 'grpoLoss', 'nllLoss', 'stageDurationsMs.rollout'])
      expect(steps(await history(run.info.run_id, key))).toEqual([0, 1, 2]);

    const tags = new Map(run.data.tags?.map((tag) => [tag.key, tag.value]));
    expect(tags.get('mel.mode')).toBe('grpo');
    const params = new Map(run.data.params?.map((param) => [param.key, param.value]));
    expect(params.get('runId')).toBe(config.runId);
    expect(params.get('batchSize')).toBe(String(config.batchSize));
    expect(params.get('optimizer.learningRate')).toBe(String(config.optimizer.learningRate));
    // The last step is recorded: the MLflow run is finished, at that step's time.
    expect(run.info).toMatchObject({ status: 'FINISHED', end_time: recordedAt[2] });
  });

  it('converges on one MLflow run when workers create it at once, and loses no step to the duplicate', async () => {
    const config = shortRunConfig({ steps: 5 });
    const recorder = await registered(config);
    const [a, b] = [recorder(new MlflowSink(settings)), recorder(new MlflowSink(settings))];
    await Promise.all([
      a({ runId: config.runId, result: stepResult(0, 0.1) }),
      b({ runId: config.runId, result: stepResult(0, 0.1) }),
    ]);
    // A duplicate some race left behind, holding a step: the next record keeps one run and sends it every step.
    const experiment_id = await experimentId();
    const created = await mlflow<{ run: { info: { run_id: string } } }>('runs/create', {
      experiment_id,
      run_name: config.runId,
      start_time: (await melCollections(mongo.db).runs.findOne({ _id: config.runId }))!.createdAt.getTime(),
      tags: [{ key: 'mel.runId', value: config.runId }],
    });
    await recorder(new MlflowSink(settings))({ runId: config.runId, result: stepResult(1, 0.2) });
    const duplicate = created.run.info.run_id;
    const run = await onlyRun(config.runId);
    expect(steps(await history(run.info.run_id, 'passRate'))).toEqual([0, 1]);
    expect(steps(await history(run.info.run_id, 'prompts'))).toEqual([0, 1]);
    if (run.info.run_id !== duplicate) {
      const deleted = await mlflow<{ run: { info: { lifecycle_stage: string } } }>(
        `runs/get?run_id=${duplicate}`,
      );
      expect(deleted.run.info.lifecycle_stage).toBe('deleted');
    }
  });

  it('never fails recordStep when MLflow is down, and sends the missed step with the next', async () => {
    const config = shortRunConfig({ steps: 5 });
    const recorder = await registered(config);
    const down = { ...settings, trackingUri: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2_000 };
    await recorder(new MlflowSink(down))({ runId: config.runId, result: stepResult(0, 0.1) });
    expect(await mlflowRuns(config.runId)).toEqual([]);

    await recorder(new MlflowSink(settings))({ runId: config.runId, result: stepResult(1, 0.2) });
    const run = await onlyRun(config.runId);
    expect(steps(await history(run.info.run_id, 'passRate'))).toEqual([0, 1]);
  });
});

describe('MLflow sink in a worker process', () => {
  const engine = useEngineDouble({ seed: 7, pCorrect: 0.5, pReplayCorrect: 0.5 });
  let temporal: Client;
  let worker: ChildProcess | undefined;
  const experiment = 'mel-worker-test';

  beforeAll(async () => {
    temporal = await client();
    worker = spawnWorkerProcess({
      logFile: path.join(loadEnv().MEL_STACK_DIR, 'mlflow-worker.log'),
      env: {
        ...process.env,
        MEL_ENGINE_URL: engine.double.url,
        MLFLOW_TRACKING_URI: server.uri,
        MEL_MLFLOW_EXPERIMENT: experiment,
      },
    });
  });
  afterAll(async () => {
    if (worker) signalProcessGroup(worker);
    await temporal?.connection.close();
  });

  it(
    'sends every step of a run to MLFLOW_TRACKING_URI, under MEL_MLFLOW_EXPERIMENT',
    { timeout: 300_000 },
    async () => {
      const config = shortRunConfig({ steps: 2 });
      await startRun(temporal, config);
      expect((await followRun(temporal, config.runId, () => undefined)).phase).toBe('completed');

      const run = await onlyRun(config.runId, experiment);
      expect(run.info.status).toBe('FINISHED');
      const stored = await stepMetrics(mongo.db, config.runId);
      const passRate = await history(run.info.run_id, 'passRate');
      expect(passRate.map(({ step, value }) => ({ step, value }))).toEqual(
        stored.map(({ step, passRate: value }) => ({ step, value })),
      );
    },
  );
});
