import { MongoClient, type Db } from 'mongodb';
import { currentCallScope } from '../common/call-scope.js';
import type { Endpoints } from '../common/env.js';

export const COLLECTIONS = {
  smokeRuns: 'smoke_runs',
  runs: 'runs',
  steps: 'steps',
  prompts: 'prompts',
  trajectories: 'trajectories',
  rewards: 'rewards',
  pairs: 'pairs',
  metaExperiences: 'meta_experiences',
  datums: 'datums',
  grpoBatches: 'grpo_batches',
  exclusions: 'exclusions',
  stepMetrics: 'step_metrics',
  evals: 'evals',
  evalProblems: 'eval_problems',
  evalSamples: 'eval_samples',
  writeOnce: 'write_once',
} as const;

export interface MongoHandle {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** How long a command may go unanswered before it fails: a store that stops answering fails a call, not a run. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;

/**
 * A client whose every command has a deadline (`commandTimeoutMs`, the driver's socket timeout: MongoDB and
 * FerretDB alike, since the driver's own `timeoutMS` is deprecated), and whose every answered command is progress
 * of the activity attempt it was sent for (common/call-scope.ts).
 */
export async function connectMongo(
  endpoints: Pick<Endpoints, 'mongoUri' | 'mongoDb'>,
  { commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS }: { commandTimeoutMs?: number } = {},
): Promise<MongoHandle> {
  const client = new MongoClient(endpoints.mongoUri, {
    serverSelectionTimeoutMS: 10_000,
    socketTimeoutMS: commandTimeoutMs,
    monitorCommands: true,
  });
  client.on('commandSucceeded', (event) => currentCallScope()?.progressed(`store ${event.commandName}`));
  await client.connect();
  return { client, db: client.db(endpoints.mongoDb), close: () => client.close() };
}
