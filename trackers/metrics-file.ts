/**
 * `metrics.jsonl`: a run's per-step metrics as a file, one JSON line per recorded step in step order, for tools
 * that read files (pandas, notebooks, trackers' importers). Always written whole from the `step_metrics`
 * collection, so a retried or replayed `recordStep` rewrites the same lines instead of adding any.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { REPO_ROOT } from '../common/env.js';
import type { StepMetricsRow } from '../store/queries.js';

export const METRICS_FILE = 'metrics.jsonl';

const settingsSchema = z.object({
  /** Each run's metrics.jsonl goes to `<dir>/<runId>/` on the host whose cpu worker records the step; `off`: none. */
  MEL_METRICS_DIR: z.string().trim().min(1).default(path.join(REPO_ROOT, 'runs')),
});

/** Where a worker keeps the runs' metrics files (MEL_METRICS_DIR, absolute), or undefined with `off`. */
export function metricsDirFromEnv(source: NodeJS.ProcessEnv = process.env): string | undefined {
  const { MEL_METRICS_DIR } = settingsSchema.parse(source);
  return MEL_METRICS_DIR === 'off' ? undefined : path.resolve(MEL_METRICS_DIR);
}

/**
 * The file's text: `{"step":n,"runId":…,…metrics}` per row, sorted by step, a step at most once; without the
 * step's `recordedAt`, as before steps had one.
 */
export function metricsJsonl(rows: readonly StepMetricsRow[]): string {
  const byStep = new Map(rows.map((row) => [row.step, row]));
  return [...byStep.values()]
    .sort((a, b) => a.step - b.step)
    .map(
      ({ step, runId, recordedAt: _omitted, ...metrics }) =>
        `${JSON.stringify({ step, runId, ...metrics })}\n`,
    )
    .join('');
}

/** `<dir>/<runId>/metrics.jsonl`. */
export function runMetricsPath(dir: string, runId: string): string {
  return path.join(dir, runId, METRICS_FILE);
}

/** Replaces `file` with the rows' lines at once (a new file renamed over it): a reader never sees half a file. */
export async function writeMetricsFile(file: string, rows: readonly StepMetricsRow[]): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.${randomUUID()}.partial`;
  try {
    await writeFile(partial, metricsJsonl(rows));
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
}
