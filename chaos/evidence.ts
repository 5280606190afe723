/** Fetches what the checks (checks.ts) judge: the run's documents, `mel audit`'s records, the optimizer's counter. */
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import type { Endpoints } from '../common/env.js';
import type { RunConfig } from '../mel/run-config.js';
import { assembleAudit, type AuditRecord } from '../store/audit.js';
import { melCollections } from '../store/collections.js';
import { loadAuditEvidence } from '../store/queries.js';
import { runWorkflowId, statusQuery, type RunStatus } from '../temporal/contracts/run.js';
import type { RunEvidence } from './checks.js';

export async function collectEvidence(options: {
  db: Db;
  temporal: Client;
  endpoints: Endpoints;
  config: RunConfig;
  optimizerSteps: (statePath: string) => Promise<number>;
}): Promise<RunEvidence & { status: RunStatus | undefined }> {
  const { db, temporal, endpoints, config } = options;
  const { runId } = config;
  const handle = temporal.workflow.getHandle(runWorkflowId(runId));
  const description = await handle.describe();
  // A completed run's result is its final status; otherwise ask the run (which needs a worker).
  const status: RunStatus | undefined =
    description.status.name === 'COMPLETED'
      ? await handle.result()
      : await handle.query(statusQuery).catch(() => undefined);
  const finalPolicy = status?.policy;
  const optimizerSteps = finalPolicy
    ? await options
        .optimizerSteps(finalPolicy.statePath)
        .catch((error: Error) => `unreadable: ${error.message}`)
    : 'no final policy';

  const c = melCollections(db);
  const scope = { runId };
  const [stepDocs, prompts, trajectories, exclusions, rewards, pairs, candidates, nllDatums] =
    await Promise.all([
      c.steps.find(scope).toArray(),
      c.prompts.find(scope, { projection: { promptTokens: 0, promptText: 0, problem: 0 } }).toArray(),
      c.trajectories.find(scope, { projection: { tokens: 0, logprobs: 0, text: 0 } }).toArray(),
      c.exclusions.find(scope).toArray(),
      c.rewards.find(scope).toArray(),
      c.pairs.find(scope).toArray(),
      c.metaExperiences.find(scope, { projection: { generation: 0, validation: 0 } }).toArray(),
      c.datums.find({ ...scope, kind: 'nll' }, { projection: { datum: 0 } }).toArray(),
    ]);

  // The same assembly `mel audit <id>` prints.
  const links = { namespace: endpoints.temporalNamespace, uiUrl: endpoints.temporalUiUrl };
  const audits = new Map<string, AuditRecord | null>();
  for (const candidate of candidates) {
    const evidence = await loadAuditEvidence(db, candidate._id);
    audits.set(candidate._id, evidence && assembleAudit(evidence, links));
  }

  return {
    runId,
    steps: config.steps,
    batchSize: config.batchSize,
    groupSize: config.groupSize,
    workflowStatus: description.status.name,
    phase: status?.phase,
    finalPolicy,
    optimizerSteps,
    stepDocs,
    prompts,
    trajectories,
    exclusions,
    rewards,
    pairs,
    candidates,
    nllDatums,
    audits,
    status,
  };
}
