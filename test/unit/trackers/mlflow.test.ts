import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { chunks } from '../../../common/chunks.js';
import { ConfigError } from '../../../common/env.js';
import { parseRunConfig } from '../../../mel/run-config.js';
import type { RunDoc } from '../../../store/documents.js';
import type { StepMetricsRow } from '../../../store/queries.js';
import { mlflowApi, MlflowError, mlflowSettingsFromEnv } from '../../../trackers/mlflow-client.js';
import {
  flatten,
  keptRun,
  LIMITS,
  metricBatches,
  missingParams,
  mlflowKey,
  runFilter,
  runParams,
  runTags,
  STEP_MARKER,
  stepPoints,
} from '../../../trackers/mlflow.js';
import { sendToTrackers, trackersFromEnv, type StepTracker } from '../../../trackers/tracker.js';
import { stepMetricsRow } from './step-metrics-row.js';

const row = (step: number, over: Partial<StepMetricsRow> = {}): StepMetricsRow =>
  stepMetricsRow(step, {
    retentionRatio: null,
    stageDurationsMs: { rollout: 10, verify: 2 },
    recordedAt: new Date(1_700_000_000_000 + step * 1000),
    ...over,
  });

const run = (over: Partial<RunDoc> = {}): RunDoc => ({
  _id: 'r',
  config: parseRunConfig({ runId: 'r', mode: 'grpo', steps: 3, batchSize: 2, groupSize: 4 }),
  baseModel: 'Qwen/Qwen3-0.6B',
  createdAt: new Date(1_600_000_000_000),
  workflowId: 'mel-run/r',
  data: { source: 'builtin', sha256: 'ab12', problems: 300, skippedRows: 0 },
  ...over,
});

describe('MLflow settings', () => {
  it('are off without MLFLOW_TRACKING_URI (or with it empty)', () => {
    expect(mlflowSettingsFromEnv({})).toBeUndefined();
    expect(mlflowSettingsFromEnv({ MLFLOW_TRACKING_URI: '' })).toBeUndefined();
    expect(trackersFromEnv({})).toEqual([]);
  });

  it('name the server, experiment (default mel-temporal) and per-call bound', () => {
    expect(mlflowSettingsFromEnv({ MLFLOW_TRACKING_URI: 'http://mlflow:5000/' })).toEqual({
      trackingUri: 'http://mlflow:5000',
      experiment: 'mel-temporal',
      timeoutMs: 10_000,
    });
    expect(
      mlflowSettingsFromEnv({
        MLFLOW_TRACKING_URI: 'https://host/prefix',
        MEL_MLFLOW_EXPERIMENT: 'mine',
        MEL_MLFLOW_TIMEOUT_S: '2.5',
      }),
    ).toMatchObject({ trackingUri: 'https://host/prefix', experiment: 'mine', timeoutMs: 2500 });
    expect(trackersFromEnv({ MLFLOW_TRACKING_URI: 'http://mlflow:5000' }).map((t) => t.name)).toEqual([
      'MLflow',
    ]);
  });

  it('authorize as MLflow does: username and password (basic) before a token (bearer)', () => {
    const uri = { MLFLOW_TRACKING_URI: 'http://mlflow:5000' };
    expect(mlflowSettingsFromEnv({ ...uri, MLFLOW_TRACKING_TOKEN: 't0k' })?.authorization).toBe('Bearer t0k');
    expect(
      mlflowSettingsFromEnv({
        ...uri,
        MLFLOW_TRACKING_TOKEN: 't0k',
        MLFLOW_TRACKING_USERNAME: 'u',
        MLFLOW_TRACKING_PASSWORD: 'p',
      })?.authorization,
    ).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('refuse what MLflow’s REST API cannot be reached by, and a username without password, naming no secret', () => {
    expect(() => mlflowSettingsFromEnv({ MLFLOW_TRACKING_URI: 'databricks' })).toThrow(ConfigError);
    expect(() => mlflowSettingsFromEnv({ MLFLOW_TRACKING_URI: 'file:///tmp/mlruns' })).toThrow(
      /MLFLOW_TRACKING_URI/,
    );
    expect(() =>
      mlflowSettingsFromEnv({ MLFLOW_TRACKING_URI: 'http://m', MEL_MLFLOW_TIMEOUT_S: '0' }),
    ).toThrow(/MEL_MLFLOW_TIMEOUT_S/);
    const error = (() => {
      try {
        mlflowSettingsFromEnv({ MLFLOW_TRACKING_URI: 'http://m', MLFLOW_TRACKING_USERNAME: 'secret-user' });
      } catch (caught) {
        return caught as Error;
      }
    })();
    expect(error?.message).toMatch(/MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD go together/);
    expect(error?.message).not.toContain('secret-user');
  });
});

describe('MLflow params and tags', () => {
  it('flatten objects to dotted keys, arrays and dates as leaves', () => {
    expect(flatten({ a: { b: 1, c: { d: 'x' } }, e: [1, 2], f: null })).toEqual([
      ['a.b', 1],
      ['a.c.d', 'x'],
      ['e', [1, 2]],
      ['f', null],
    ]);
  });

  it('are the configuration, base model and data pin, as text', () => {
    const params = new Map(runParams(run()).map((param) => [param.key, param.value]));
    expect(params.get('runId')).toBe('r');
    expect(params.get('mode')).toBe('grpo');
    expect(params.get('optimizer.learningRate')).toBe('0.0001');
    expect(params.get('sampling.rollout.maxTokens')).toBe('64');
    expect(params.get('mel.metaExperience.mode')).toBeDefined();
    expect(params.get('baseModel')).toBe('Qwen/Qwen3-0.6B');
    expect(params.get('data.sha256')).toBe('ab12');
    expect([...params.keys()].every((key) => /^[\w.\- /]+$/.test(key))).toBe(true);
  });

  it('keep keys and values within MLflow’s limits', () => {
    expect(mlflowKey('a:b@c.d e/f-g')).toBe('a_b_c.d e/f-g');
    expect(mlflowKey('k'.repeat(300))).toHaveLength(LIMITS.keyLength);
    const long = run({ baseModel: 'm'.repeat(7000) });
    expect(runParams(long).find((param) => param.key === 'baseModel')?.value).toHaveLength(
      LIMITS.paramValueLength,
    );
  });

  it('are sent only where MLflow lacks them', () => {
    const params = [
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ];
    expect(missingParams(params, [{ key: 'a', value: '1' }])).toEqual([{ key: 'b', value: '2' }]);
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('tag the MLflow run with the MEL run, its mode and model', () => {
    expect(runTags(run())).toEqual(
      expect.arrayContaining([
        { key: 'mel.runId', value: 'r' },
        { key: 'mel.mode', value: 'grpo' },
        { key: 'mel.baseModel', value: 'Qwen/Qwen3-0.6B' },
      ]),
    );
    expect(runFilter('r-1_a')).toBe("tags.`mel.runId` = 'r-1_a'");
  });
});

describe('MLflow points of a recorded step', () => {
  it('are its finite numbers at the MEL step and the time it was first recorded, the marker last', () => {
    const points = stepPoints(row(2), 0);
    expect(points.at(-1)).toEqual({ key: STEP_MARKER, value: 4, timestamp: 1_700_000_002_000, step: 2 });
    expect(new Map(points.map((point) => [point.key, point.value]))).toEqual(
      new Map([
        ['trajectories', 16],
        ['passRate', 0.5],
        ['mixedGroups', 1],
        ['pairs', 1],
        ['candidates', 1],
        ['parsedCandidates', 1],
        ['accepted', 1],
        ['rejected', 0],
        ['grpoLoss', 0.1],
        ['stageDurationsMs.rollout', 10],
        ['stageDurationsMs.verify', 2],
        ['prompts', 4],
      ]),
    );
    expect(points.every((point) => point.step === 2 && point.timestamp === 1_700_000_002_000)).toBe(true);
  });

  it('are the same points every time, at the fallback time for a step recorded before steps kept one', () => {
    expect(stepPoints(row(1), 0)).toEqual(stepPoints(row(1), 5));
    const old = stepPoints(row(1, { recordedAt: undefined }), 42);
    expect(old.every((point) => point.timestamp === 42)).toBe(true);
  });

  it('are batched for the steps MLflow lacks only, whole steps within MLflow’s limit, in step order', () => {
    const rows = Array.from({ length: 200 }, (_, step) => row(step)).reverse();
    const perStep = stepPoints(row(0), 0).length;
    const batches = metricBatches(rows, new Set([0, 1, 5]), 0);
    const steps = batches
      .flat()
      .filter((point) => point.key === STEP_MARKER)
      .map((point) => point.step);
    expect(steps).toEqual(
      Array.from({ length: 200 }, (_, step) => step).filter((step) => ![0, 1, 5].includes(step)),
    );
    for (const batch of batches) {
      expect(batch.length).toBeLessThanOrEqual(LIMITS.metricsPerBatch);
      expect(batch.length % perStep).toBe(0);
    }
    expect(metricBatches([row(0)], new Set([0]), 0)).toEqual([]);
  });
});

describe('the MLflow run a MEL run keeps', () => {
  it('is the oldest, the lowest id among equally old, whatever order they are found in', () => {
    const runs = [
      { run_id: 'c', start_time: 5 },
      { run_id: 'b', start_time: 5 },
      { run_id: 'a', start_time: 9 },
    ];
    expect(keptRun(runs)).toEqual({ keep: runs[1], duplicates: [runs[0], runs[2]] });
    expect(keptRun([...runs].reverse()).keep).toBe(runs[1]);
  });
});

describe('the MLflow REST client', () => {
  let server: Server;
  let uri: string;
  const seen: { url?: string; headers?: IncomingHttpHeaders; body?: string }[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        seen.push({ url: request.url, headers: request.headers, body: Buffer.concat(chunks).toString() });
        if (request.url?.includes('slow')) return; // never answers
        if (request.url?.includes('missing'))
          response.writeHead(404).end('{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no such thing"}');
        else if (request.url?.includes('proxy')) response.writeHead(502).end('<html>bad gateway</html>');
        else response.writeHead(200).end('{"experiment_id":"7"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('calls /api/2.0/mlflow/ under the tracking URI, JSON with the Authorization header', async () => {
    const api = mlflowApi({ trackingUri: uri, experiment: 'e', timeoutMs: 2000, authorization: 'Bearer x' });
    const answer = z.object({ experiment_id: z.string() });
    expect(await api.post('experiments/create', { name: 'e' }, answer)).toEqual({ experiment_id: '7' });
    await api.get('experiments/get-by-name', { experiment_name: 'a b' }, answer);
    expect(seen.at(-2)).toMatchObject({
      url: '/prefix/api/2.0/mlflow/experiments/create',
      body: '{"name":"e"}',
    });
    expect(seen.at(-2)?.headers).toMatchObject({
      authorization: 'Bearer x',
      'content-type': 'application/json',
    });
    expect(seen.at(-1)?.url).toBe('/prefix/api/2.0/mlflow/experiments/get-by-name?experiment_name=a+b');
  });

  it('turns error answers into MlflowError with MLflow’s code, or the text a proxy answered', async () => {
    const api = mlflowApi({ trackingUri: uri, experiment: 'e', timeoutMs: 2000 });
    const missing = await api.get('missing', {}, z.unknown()).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(MlflowError);
    expect(missing).toMatchObject({ status: 404, code: 'RESOURCE_DOES_NOT_EXIST' });
    await expect(api.get('proxy', {}, z.unknown())).rejects.toThrow(/502 : <html>bad gateway/);
  });

  it('gives up on a call after its timeout', async () => {
    const api = mlflowApi({ trackingUri: uri, experiment: 'e', timeoutMs: 200 });
    const started = Date.now();
    await expect(api.post('slow', {}, z.unknown())).rejects.toThrow(/timeout|aborted/i);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('sending to trackers', () => {
  it('logs a failing tracker as a warning and goes on to the next', async () => {
    const failing: StepTracker = {
      name: 'Down',
      record: () => Promise.reject(new Error('http://u:pw@h refused')),
    };
    const working = { name: 'Up', record: vi.fn(() => Promise.resolve()) };
    const warn = vi.fn();
    await sendToTrackers([failing, working], run(), [row(0)], { warn });
    expect(working.record).toHaveBeenCalledWith(run(), [row(0)]);
    expect(warn).toHaveBeenCalledTimes(1);
    const [fields] = warn.mock.calls[0] as [{ tracker: string; error: string }];
    expect(fields).toMatchObject({ tracker: 'Down', runId: 'r' });
    expect(fields.error).not.toContain('pw');
  });
});
