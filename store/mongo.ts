import { MongoClient, type Db } from 'mongodb';
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
  exclusions: 'exclusions',
  stepMetrics: 'step_metrics',
  evals: 'evals',
  evalProblems: 'eval_problems',
  evalSamples: 'eval_samples',
} as const;

export interface MongoHandle {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

export async function connectMongo(endpoints: Pick<Endpoints, 'mongoUri' | 'mongoDb'>): Promise<MongoHandle> {
  const client = new MongoClient(endpoints.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  return { client, db: client.db(endpoints.mongoDb), close: () => client.close() };
}
