import path from 'node:path';
import { Binary, type Db } from 'mongodb';
import { expect } from 'vitest';
import { REPO_ROOT } from '../../common/env.js';
import type { DatasetPin } from '../../mel/dataset.js';
import { datasetPin, loadRunConfig, loadRunDataset } from '../../mel/node.js';
import { optimizerStepsIn } from '../../stack/engine-checkpoints.js';
import type {
  DatumDoc,
  MetaExperienceDoc,
  PairDoc,
  RewardDoc,
  StepDoc,
  TrajectoryDoc,
} from '../../store/documents.js';
import { COLLECTIONS } from '../../store/mongo.js';
import type { PolicyRef } from '../../temporal/contracts/common.js';
import { STAGES } from '../../temporal/contracts/run.js';
import { parseRunConfig, type RunConfig } from '../../mel/run-config.js';
import type { Client } from '@temporalio/client';
import { followRun, startRun } from '../../temporal/client.js';
import type { InProcessWorkers } from '../../workers/in-process.js';
import { uniqueId } from './support.js';
import { datumOf } from '../../store/datum-codec.js';
import { decodeLogprobs, decodeTokens } from '../../store/token-codec.js';

/** A short run that still exercises every stage: small batches, short generations. */
export function shortRunConfig(overrides: Partial<RunConfig> = {}): RunConfig {
  return parseRunConfig({
    runId: uniqueId('mel'),
    seed: 11,
    steps: 3,
    batchSize: 4,
    groupSize: 4,
    // The problems, prompt style and lengths the local tiny model was warm-started on (configs/demo.json).
    dataset: { source: 'builtin', builtinCount: 60, builtinSeed: 0 },
    sampling: {
      rollout: { temperature: 1, maxTokens: 96 },
      reflection: { temperature: 0.05, maxTokens: 256 },
      validation: { temperature: 0.3, maxTokens: 96 },
    },
    optimizer: { learningRate: 1e-4 },
    mel: { pairs: { maxPairsPerGroup: 3 }, metaExperience: { prompt: 'compact' } },
    // As many sequences in flight as before the fan-out: the CPU engine compiles per batch shape.
    fanOut: { promptsPerChunk: 4, generationsPerChunk: 4 },
    ...overrides,
  });
}

/** The pin of the run's data set, as `mel train` reads it before starting the run. */
export async function dataPin(config: RunConfig): Promise<DatasetPin> {
  return datasetPin(await loadRunDataset(config));
}

/** The demo's own configuration (configs/demo.json) under a fresh run id. */
export async function demoRunConfig(): Promise<RunConfig> {
  const template = await loadRunConfig(path.join(REPO_ROOT, 'configs', 'demo.json'));
  return { ...template, runId: uniqueId('demo') };
}

/**
 * The guarantees of a finished run: every stage ran for every step, every document exists exactly once with the
 * counts the configuration implies, and the engine's optimizer applied exactly one update per step.
 */
export async function expectCompleteRun(
  db: Db,
  config: RunConfig,
  finalPolicy: PolicyRef,
  optimizerSteps: (policy: PolicyRef) => Promise<number> = (policy) => optimizerStepsIn(policy.statePath),
) {
  const { runId, steps, batchSize, groupSize } = config;
  const stepDocs = await db
    .collection<StepDoc>(COLLECTIONS.steps)
    .find({ runId })
    .sort({ step: 1 })
    .toArray();
  expect(stepDocs.map((s) => s.step)).toEqual([...Array(steps).keys()]);
  for (const step of stepDocs) {
    expect(Object.keys(step.metrics!.stageDurationsMs).sort()).toEqual([...STAGES].sort());
    expect(step.update!.policyAfter.updates).toBe(step.step + 1);
  }

  const trajectories = await db.collection<TrajectoryDoc>(COLLECTIONS.trajectories).find({ runId }).toArray();
  const rewards = await db.collection<RewardDoc>(COLLECTIONS.rewards).find({ runId }).toArray();
  expect(trajectories).toHaveLength(steps * batchSize * groupSize);
  expect(new Set(trajectories.map((t) => t._id)).size).toBe(trajectories.length);
  expect(rewards.map((r) => r._id).sort()).toEqual(trajectories.map((t) => t._id).sort());
  for (const t of trajectories) {
    // Stored compactly (store/token-codec.ts), as many logprobs as tokens.
    expect(t.tokens, t._id).toBeInstanceOf(Binary);
    expect(decodeLogprobs(t.logprobs, t._id)).toHaveLength(decodeTokens(t.tokens, t._id).length);
  }

  const pairs = await db.collection<PairDoc>(COLLECTIONS.pairs).find({ runId }).toArray();
  const candidates = await db
    .collection<MetaExperienceDoc>(COLLECTIONS.metaExperiences)
    .find({ runId })
    .toArray();
  expect(candidates.map((c) => c.pairId).sort()).toEqual(pairs.map((p) => p._id).sort());
  expect(new Set(candidates.map((c) => c._id)).size).toBe(candidates.length);
  for (const candidate of candidates) expectConsistentVerdict(candidate);
  const accepted = candidates.filter((c) => c.verdict!.accepted);
  const datums = await db.collection<DatumDoc>(COLLECTIONS.datums).find({ runId }).toArray();
  for (const d of datums) {
    // Stored compactly (store/datum-codec.ts), one weight per target token.
    expect(d.datum.loss_fn_inputs.target_tokens.data, d._id).toBeInstanceOf(Binary);
    expect(d.datum.loss_fn_inputs.weights!.data, d._id).toBeInstanceOf(Binary);
    const { target_tokens, weights } = datumOf(d).loss_fn_inputs;
    expect(weights!.data, d._id).toHaveLength(target_tokens.data.length);
  }
  const nllDatums = datums.filter((d) => d.kind === 'nll');
  expect(nllDatums.map((d) => d.sourceId).sort()).toEqual(accepted.map((c) => c._id).sort());

  expect(finalPolicy.updates).toBe(steps);
  expect(await optimizerSteps(finalPolicy)).toBe(steps);
  return { stepDocs, trajectories, pairs, candidates };
}

/** What every verdict guarantees, whichever way it went: a reason, and the evidence the reason names. */
export function expectConsistentVerdict(candidate: MetaExperienceDoc): void {
  const { verdict } = candidate;
  expect(verdict, candidate._id).toBeDefined();
  expect(verdict!.detail, candidate._id).not.toBe('');
  if (verdict!.accepted) {
    expect(verdict!.reason).toBe('replay-verified');
    expect(candidate.validation!.correct).toBe(true);
    expect(candidate.internalization!.step).toBe(candidate.step);
    return;
  }
  expect(candidate.internalization ?? null).toBeNull();
  if (verdict!.reason === 'unparseable') expect(candidate.parse.ok).toBe(false);
  if (verdict!.reason === 'replay-wrong-answer') expect(candidate.validation!.correct).toBe(false);
  if (verdict!.reason === 'states-answer') {
    expect(candidate.leakage!.answerStatements!.length).toBeGreaterThan(0);
    expect(candidate.validation).toBeUndefined();
  }
}

/** Trains `config` to the end on the given client and workers, then checks the guarantees of a finished run. */
export async function trainAndCheck(
  stack: { temporal: Client; workers: InProcessWorkers },
  config: RunConfig,
  optimizerSteps?: (policy: PolicyRef) => Promise<number>,
) {
  await startRun(stack.temporal, config);
  const status = await followRun(stack.temporal, config.runId, () => undefined);
  expect(status.phase).toBe('completed');
  const checked = await expectCompleteRun(
    stack.workers.deps.mongo.db,
    config,
    status.policy!,
    optimizerSteps,
  );
  return { status, ...checked };
}
