import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepMetricsRow } from '../../../store/queries.js';
import { REPO_ROOT } from '../../../common/env.js';
import {
  metricsDirFromEnv,
  metricsJsonl,
  runMetricsPath,
  writeMetricsFile,
} from '../../../trackers/metrics-file.js';
import { stepMetricsRow } from './step-metrics-row.js';

const row = (step: number, passRate = 0.5): StepMetricsRow => stepMetricsRow(step, { passRate });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'metrics-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('metrics.jsonl', () => {
  it('is a JSON line per step, in step order, starting with the step and run', () => {
    const lines = metricsJsonl([row(2), row(0), row(1)]).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => JSON.parse(line) as StepMetricsRow)).toEqual([row(0), row(1), row(2)]);
    expect(lines[0]).toMatch(/^\{"step":0,"runId":"r",/);
  });

  it('leaves out when a step was recorded', () => {
    expect(metricsJsonl([{ ...row(0), recordedAt: new Date(0) }])).toBe(metricsJsonl([row(0)]));
  });

  it('holds a step once, however often it is given', () => {
    expect(metricsJsonl([row(0, 0.1), row(0, 0.2)])).toBe(metricsJsonl([row(0, 0.2)]));
  });

  it('is replaced whole under <dir>/<run>/, leaving no partial file beside it', async () => {
    const file = runMetricsPath(dir, 'r');
    expect(file).toBe(path.join(dir, 'r', 'metrics.jsonl'));
    await writeMetricsFile(file, [row(0), row(1)]);
    await writeMetricsFile(file, [row(0)]);
    expect(await readFile(file, 'utf8')).toBe(metricsJsonl([row(0)]));
    expect(await readdir(path.dirname(file))).toEqual(['metrics.jsonl']);
  });

  it('lives under MEL_METRICS_DIR (absolute; default runs/ in the repository), or nowhere with off', () => {
    expect(metricsDirFromEnv({})).toBe(path.join(REPO_ROOT, 'runs'));
    expect(metricsDirFromEnv({ MEL_METRICS_DIR: 'off' })).toBeUndefined();
    expect(metricsDirFromEnv({ MEL_METRICS_DIR: 'out/m' })).toBe(path.resolve('out/m'));
  });
});
