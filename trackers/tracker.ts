/**
 * Experiment trackers that `recordStep` sends each run's recorded steps to (trackers/mlflow.ts, trackers/wandb.ts).
 * A tracker is sent the whole run each time and sends only what it lacks, so a tracker that fails is logged and
 * skipped: the training step goes on, and the next recorded step catches the tracker up. (The run's last steps are
 * not resent after it ends; MongoDB, metrics.jsonl and `mel report` have them.)
 */
import { createLogger, type Logger } from '../common/logger.js';
import { redactedMessage } from '../common/redact.js';
import type { RunDoc } from '../store/documents.js';
import type { StepMetricsRow } from '../store/queries.js';
import { mlflowSettingsFromEnv } from './mlflow-client.js';
import { MlflowSink } from './mlflow.js';
import { WandbSink, wandbSettingsFromEnv } from './wandb.js';

export interface StepTracker {
  readonly name: string;
  /** Makes the tracker hold the run's recorded steps (`rows`, all of them); safe to repeat. */
  record(run: RunDoc, rows: readonly StepMetricsRow[]): Promise<void>;
}

let logger: Logger | undefined;
const trackerLog = () => (logger ??= createLogger('trackers'));

/** Sends the run's steps to each tracker in turn; one that fails is logged as a warning, never thrown. */
export async function sendToTrackers(
  trackers: readonly StepTracker[],
  run: RunDoc,
  rows: readonly StepMetricsRow[],
  log: Pick<Logger, 'warn'> = trackerLog(),
): Promise<void> {
  for (const tracker of trackers) {
    await tracker
      .record(run, rows)
      .catch((error: unknown) =>
        log.warn(
          { tracker: tracker.name, runId: run._id, error: redactedMessage(error) },
          `${tracker.name} could not be sent the run's steps; the next recorded step sends what it lacks`,
        ),
      );
  }
}

/** The trackers the environment configures (MLFLOW_TRACKING_URI: MLflow; WANDB_PROJECT: W&B); none by default. */
export function trackersFromEnv(source: NodeJS.ProcessEnv = process.env): StepTracker[] {
  const mlflow = mlflowSettingsFromEnv(source);
  const wandb = wandbSettingsFromEnv(source);
  return [...(mlflow ? [new MlflowSink(mlflow)] : []), ...(wandb ? [new WandbSink(wandb)] : [])];
}
