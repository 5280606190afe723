/**
 * The Weights & Biases sink: one W&B run per MEL run, with the MEL run id as its id (run ids are letters, digits,
 * `_` and `-`, as W&B's are), so a resumed, re-attached or retried run continues the same W&B run; the run's
 * configuration as its config; each recorded step's metrics at `step` = the MEL step. It runs W&B's own Python client
 * (trackers/python/wandb_sink.py) with MEL_WANDB_PYTHON, the Python that has `wandb` installed: W&B has no
 * JavaScript client that writes runs. The helper logs only the steps W&B lacks, so a resent step adds no point.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError, optionalText } from '../common/env.js';
import { runPythonScript } from '../common/python-script.js';
import type { RunDoc } from '../store/documents.js';
import type { StepMetricsRow } from '../store/queries.js';
import { stepPoints } from './mlflow.js';
import type { StepTracker } from './tracker.js';

const SINK_SCRIPT = fileURLToPath(new URL('python/wandb_sink.py', import.meta.url));

const SettingsSchema = z.object({
  /** W&B's own variable: setting it turns the sink on. */
  WANDB_PROJECT: optionalText,
  MEL_WANDB_PYTHON: z.string().trim().min(1).default('python3'),
  MEL_WANDB_TIMEOUT_S: z.coerce.number().positive().default(120),
});

export interface WandbSettings {
  python: string;
  timeoutMs: number;
}

export function wandbSettingsFromEnv(source: NodeJS.ProcessEnv = process.env): WandbSettings | undefined {
  const parsed = SettingsSchema.safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
  }
  const env = parsed.data;
  if (!env.WANDB_PROJECT) return undefined;
  return { python: env.MEL_WANDB_PYTHON, timeoutMs: env.MEL_WANDB_TIMEOUT_S * 1000 };
}

export interface WandbRequest {
  runId: string;
  name: string;
  config: Record<string, unknown>;
  rows: { step: number; metrics: Record<string, number> }[];
}

/** What the helper is sent: the run's configuration (with its base model and data set pin) and every step's points. */
export function wandbRequest(run: RunDoc, rows: readonly StepMetricsRow[]): WandbRequest {
  return {
    runId: run._id,
    name: run._id,
    config: { ...run.config, baseModel: run.baseModel, ...(run.data ? { data: run.data } : {}) },
    rows: rows.map((row) => ({
      step: row.step,
      metrics: Object.fromEntries(stepPoints(row, 0).map((point) => [point.key, point.value])),
    })),
  };
}

export class WandbSink implements StepTracker {
  readonly name = 'W&B';

  constructor(private readonly settings: WandbSettings) {}

  async record(run: RunDoc, rows: readonly StepMetricsRow[]): Promise<void> {
    if (rows.length === 0) return;
    await runPythonScript(this.settings.python, SINK_SCRIPT, [], JSON.stringify(wandbRequest(run, rows)), {
      timeoutMs: this.settings.timeoutMs,
      env: { WANDB_SILENT: process.env.WANDB_SILENT ?? 'true' },
    });
  }
}
