/**
 * recordStep rewrites the run's metrics.jsonl from the step_metrics collection (the stack's MongoDB), so a retried
 * step leaves the file as it was and each step has exactly one line.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecordActivities } from '../../activities/records.js';
import type { MelActivityDeps } from '../../activities/support.js';
import { stepMetrics } from '../../store/queries.js';
import { connectMongo, type MongoHandle } from '../../store/mongo.js';
import { runMetricsPath } from '../../trackers/metrics-file.js';
import { endpoints, stepResult, uniqueId } from './support.js';

let mongo: MongoHandle;
let dir: string;

beforeAll(async () => {
  mongo = await connectMongo(endpoints);
  dir = await mkdtemp(path.join(tmpdir(), 'metrics-file-'));
});
afterAll(async () => {
  await mongo?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('metrics.jsonl from recordStep', () => {
  it('has one line per recorded step, the collection’s rows, unchanged by a retried step', async () => {
    const runId = uniqueId('metrics-file');
    const deps = { db: mongo.db, baseModel: 'unused', metricsDir: dir } as unknown as MelActivityDeps;
    const { recordStep } = createRecordActivities(deps);
    const file = runMetricsPath(dir, runId);
    const lines = async () =>
      (await readFile(file, 'utf8'))
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as { step: number; passRate: number });

    await recordStep({ runId, result: stepResult(0, 0.25) });
    await recordStep({ runId, result: stepResult(1, 0.5) });
    const afterTwo = await readFile(file, 'utf8');
    const [, firstRecorded] = await stepMetrics(mongo.db, runId);
    await recordStep({ runId, result: stepResult(1, 0.5) });
    expect(await readFile(file, 'utf8')).toBe(afterTwo);
    expect((await stepMetrics(mongo.db, runId))[1]).toEqual(firstRecorded);
    expect(firstRecorded?.recordedAt).toBeInstanceOf(Date);

    expect((await lines()).map(({ step, passRate }) => [step, passRate])).toEqual([
      [0, 0.25],
      [1, 0.5],
    ]);
    const rows = (await stepMetrics(mongo.db, runId)).map(({ recordedAt: _time, ...row }) => row);
    expect(await lines()).toEqual(rows);
  });
});
