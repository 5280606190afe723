/**
 * `npm run demo`: installs and starts the local stack, runs workers in this process, and runs a short MEL
 * training (configs/demo.json, 3 steps) on the built-in arithmetic set with the tiny local model. Shows
 * progress per step and stage, then a summary: per-step metrics, accepted and rejected meta-experiences with
 * their reasons, and where to look in the Temporal UI. The stack stays up afterwards; `npm run stack -- down`.
 */
import path from 'node:path';
import { REPO_ROOT, resolveEndpoints, type Endpoints } from '../common/env.js';
import { createLogger } from '../common/logger.js';
import { Stack } from '../stack/stack.js';
import type { MetaExperienceDoc, StepDoc } from '../store/documents.js';
import { COLLECTIONS, type MongoHandle } from '../store/mongo.js';
import { connectClient, connectWorker } from '../temporal/connection.js';
import { installTemporalRuntime } from '../temporal/runtime.js';
import { runWorkflowId, STAGES } from '../temporal/contracts/run.js';
import { followRun, startRun, type Progress } from '../temporal/client.js';
import { loadRunConfig } from '../mel/node.js';
import { connectActivityDeps, createWorkers } from '../workers/workers.js';

const log = createLogger('demo');

function printProgress(total: number, started: number) {
  return ({ status, stage }: Progress) => {
    const seconds = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
    if (status.currentStep === undefined) {
      console.log(`${seconds}s  ${status.phase}`);
      return;
    }
    if (!stage) return;
    const done = STAGES.indexOf(stage);
    const bar = STAGES.map((_, i) => (i < done ? '■' : i === done ? '▸' : '·')).join('');
    console.log(`${seconds}s  step ${status.currentStep + 1}/${total}  ${bar}  ${stage}`);
  };
}

async function printSummary(mongo: MongoHandle, runId: string, endpoints: Endpoints) {
  const steps = await mongo.db
    .collection<StepDoc>(COLLECTIONS.steps)
    .find({ runId })
    .sort({ step: 1 })
    .toArray();
  console.log(
    '\nstep  pass-rate  mixed  pairs  candidates  accepted  retention  grpo-loss  nll-loss  seconds',
  );
  for (const { step, metrics: m } of steps) {
    if (!m) continue;
    const seconds = Object.values(m.stageDurationsMs).reduce((a, b) => a + (b ?? 0), 0) / 1000;
    console.log(
      [
        String(step).padEnd(4),
        m.passRate.toFixed(2).padStart(9),
        String(m.mixedGroups).padStart(6),
        String(m.pairs).padStart(6),
        String(m.candidates).padStart(11),
        String(m.accepted).padStart(9),
        (m.retentionRatio === null ? '-' : m.retentionRatio.toFixed(2)).padStart(10),
        (m.grpoLoss === null ? '-' : m.grpoLoss.toFixed(4)).padStart(10),
        (m.nllLoss === null ? '-' : m.nllLoss.toFixed(3)).padStart(9),
        seconds.toFixed(1).padStart(8),
      ].join(' '),
    );
  }
  const candidates = await mongo.db
    .collection<MetaExperienceDoc>(COLLECTIONS.metaExperiences)
    .find({ runId })
    .sort({ _id: 1 })
    .toArray();
  console.log(`\nMeta-experiences: ${candidates.length} candidates`);
  for (const candidate of candidates) {
    const verdict = candidate.verdict;
    const mark = verdict?.accepted ? 'ACCEPTED' : 'rejected';
    console.log(
      `  ${mark.padEnd(8)} ${candidate._id}  ${verdict?.reason ?? 'no verdict'}: ${verdict?.detail ?? ''}`,
    );
  }
  if (endpoints.temporalUiUrl) {
    const base = `${endpoints.temporalUiUrl}/namespaces/${endpoints.temporalNamespace}/workflows`;
    console.log(`\nTemporal UI: ${base}/${encodeURIComponent(runWorkflowId(runId))}`);
    console.log(`  steps:      ${base}?query=${encodeURIComponent(`MelRunId="${runId}"`)}`);
  }
  console.log(
    `MongoDB:     ${endpoints.mongoUri} database ${endpoints.mongoDb}, documents with runId "${runId}"`,
  );
}

async function main() {
  installTemporalRuntime(createLogger('temporal-sdk'), 'WARN');
  const stack = await Stack.prepare(log);
  await stack.up();
  const endpoints = resolveEndpoints(stack.env);
  const template = await loadRunConfig(path.join(REPO_ROOT, 'configs', 'demo.json'));
  const config = {
    ...template,
    runId: `${template.runId}-${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`,
  };

  const deps = await connectActivityDeps(endpoints);
  const connection = await connectWorker(endpoints);
  const workers = await createWorkers(connection, deps);
  const running = workers.map((worker) => worker.run());
  const client = await connectClient(endpoints);
  try {
    console.log(
      `\nMEL run ${config.runId}: ${config.steps} steps × ${config.batchSize} prompts × ${config.groupSize} samples`,
    );
    await startRun(client, config);
    const status = await followRun(client, config.runId, printProgress(config.steps, Date.now()));
    console.log(`run ${status.phase}${status.lastError ? `; last error: ${status.lastError.message}` : ''}`);
    await printSummary(deps.mongo, config.runId, endpoints);
    console.log('\nThe stack is still running. Stop it with: npm run stack -- down');
  } finally {
    for (const worker of workers) worker.shutdown();
    await Promise.all(running);
    await client.connection.close();
    await connection.close();
    await deps.mongo.close();
  }
}

main().catch((error: unknown) => {
  log.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
