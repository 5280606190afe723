/** Run registration and per-step metrics: the bookkeeping the audit and reports read. */
import { ids, type StepMetrics } from '../store/documents.js';
import { melCollections } from '../store/collections.js';
import { upsertOne } from '../store/writes.js';
import type { RecordStepInput, RegisterRunInput } from '../temporal/contracts/run.js';
import { assertUnchanged } from '../mel/index.js';
import { differentRunConfigMessage, parseRunConfig, sameRunConfig } from '../mel/run-config.js';
import { stepMetrics as recordedStepMetrics } from '../store/queries.js';
import { runMetricsPath, writeMetricsFile } from '../trackers/metrics-file.js';
import { sendToTrackers } from '../trackers/tracker.js';
import { invalidInput, type MelActivityDeps } from './support.js';

export function createRecordActivities({
  db,
  baseModel,
  metricsDir,
  trackers = [],
  metrics: telemetry,
}: MelActivityDeps) {
  const { runs, steps, stepMetrics } = melCollections(db);

  /**
   * Stores the run's configuration and data set pin once; a second start with a different configuration or data
   * set is refused.
   */
  async function registerRun({ config, data, workflowId, replayOf }: RegisterRunInput): Promise<void> {
    const parsed = parseRunConfig(config);
    const existing = await runs.findOne({ _id: parsed.runId });
    if (existing) {
      if (!sameRunConfig(existing.config, parsed))
        throw invalidInput(differentRunConfigMessage(parsed.runId));
      if (existing.data) {
        assertUnchanged(data.source, existing.data.sha256, data.sha256, `run ${parsed.runId} was registered`);
      }
      return;
    }
    await upsertOne(runs, parsed.runId, {
      $setOnInsert: {
        config: parsed,
        data,
        baseModel,
        createdAt: new Date(),
        workflowId,
        ...(replayOf ? { replayOf } : {}),
      },
    });
  }

  /**
   * Writes the step's metrics (per-step curve for reports) once its stages have all run, then rewrites the run's
   * metrics.jsonl from all that are recorded (with `metricsDir`) and sends them to the trackers (a tracker that
   * fails is logged and skipped: it never fails the step).
   */
  async function recordStep({ runId, result }: RecordStepInput): Promise<StepMetrics> {
    // As summarize counted them: counting the stored candidates would read each of them whole on FerretDB.
    const candidates = result.summarize.candidates;
    const metrics: StepMetrics = {
      prompts: result.rollout.prompts,
      trajectories: result.rollout.trajectories,
      excludedPrompts: result.rollout.excludedPrompts ?? 0,
      excludedSamples: result.rollout.excludedSamples ?? 0,
      passRate: result.verify.passRate,
      mixedGroups: result.verify.mixedGroups,
      pairs: result.contrast.pairs,
      candidates,
      parsedCandidates: result.summarize.parsed,
      accepted: result.validate.accepted,
      rejected: result.validate.rejected,
      retentionRatio: candidates ? result.validate.accepted / candidates : null,
      grpoLoss: result.update.grpoLoss,
      nllLoss: result.update.nllLoss,
      stageDurationsMs: result.stageDurationsMs,
    };
    const id = ids.step(runId, result.step);
    // Upserts: a stale attempt of this step may record it at the same time.
    await upsertOne(stepMetrics, id, {
      $set: { runId, step: result.step, ...metrics },
      $setOnInsert: { recordedAt: new Date() },
    });
    await upsertOne(steps, id, { $set: { runId, step: result.step, metrics } });
    telemetry?.stepRecorded(runId, result.step, metrics);
    await publishSteps(runId);
    return metrics;
  }

  /** metrics.jsonl and the trackers, from every recorded step of the run. */
  async function publishSteps(runId: string): Promise<void> {
    if (!metricsDir && trackers.length === 0) return;
    const rows = await recordedStepMetrics(db, runId);
    if (metricsDir) await writeMetricsFile(runMetricsPath(metricsDir, runId), rows);
    const run = trackers.length > 0 ? await runs.findOne({ _id: runId }) : null;
    if (run) await sendToTrackers(trackers, run, rows);
  }

  return { registerRun, recordStep };
}
