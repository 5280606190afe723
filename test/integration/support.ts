import type { Client } from '@temporalio/client';
import { afterAll, beforeAll } from 'vitest';
import { resolveEndpoints, type Endpoints } from '../../common/env.js';
import { startEngineDouble, type EngineDouble } from '../../engine-double/server.js';
import type { EngineDoubleInput } from '../../engine-double/options.js';
import type { LivenessSettings } from '../../activities/index.js';
import { connectClient } from '../../temporal/connection.js';
import type { PolicyRef } from '../../temporal/contracts/common.js';
import type { StepResult } from '../../temporal/contracts/run.js';
import type { TaskQueueRole } from '../../temporal/contracts/common.js';
import { startWorkersInProcess, type InProcessWorkers } from '../../workers/in-process.js';
import { startMongoFaultProxy, type MongoFaultProxy, type MongoFaultRule } from './mongo-faults.js';

export const endpoints = resolveEndpoints();

export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** What a step's workflow hands `recordStep` (for calling it directly): `passRate` tells steps apart. */
export function stepResult(step: number, passRate: number): StepResult {
  const policy = { statePath: 's', samplerPath: 'p', modelId: 'm', updates: step + 1, rank: 8 };
  return {
    step,
    policy,
    rollout: { prompts: 2, trajectories: 8, truncated: 0 },
    verify: { passRate, mixedGroups: 1 },
    contrast: { pairs: 1 },
    summarize: { candidates: 1, parsed: 1, leaking: 0 },
    validate: { accepted: 1, rejected: 0 },
    internalize: { grpoDatums: 8, nllDatums: 1 },
    update: { policy, grpoLoss: 0.25, nllLoss: 1.5 },
    stageDurationsMs: { rollout: 100 },
  };
}

/** Real workers in this test process, against the running stack; `stop()` shuts them down. */
export function startWorkers(
  roles?: TaskQueueRole[],
  engineEndpoints: Endpoints = endpoints,
  liveness?: LivenessSettings,
) {
  return startWorkersInProcess(engineEndpoints, roles, liveness);
}

export function client(): Promise<Client> {
  return connectClient(endpoints);
}

/**
 * A Temporal client and in-process workers for the tests of one file: connected before them (after any
 * `beforeAll` registered earlier), shut down after them. Read the fields inside tests only.
 */
export function useClientAndWorkers(
  engineEndpoints: () => Endpoints = () => endpoints,
  options: { liveness?: LivenessSettings } = {},
): {
  temporal: Client;
  workers: InProcessWorkers;
} {
  const handle = {} as { temporal: Client; workers: InProcessWorkers };
  beforeAll(async () => {
    handle.temporal = await client();
    handle.workers = await startWorkers(undefined, engineEndpoints(), options.liveness);
  });
  afterAll(async () => {
    await handle.workers?.stop();
    await handle.temporal?.connection.close();
  });
  return handle;
}

export interface DoubleHandle {
  double: EngineDouble;
  /** The stack's endpoints with the engine replaced by the double. */
  endpoints: Endpoints;
}

/**
 * The engine double (a Tinker-wire server with a deterministic fake model) in this test process, for the tests of
 * one file: what it samples is the same on every machine, so tests can rely on both verdicts occurring. Register it
 * before useClientAndWorkers(() => handle.endpoints). With `exportUrl`, child processes (the `mel` CLI) reach it
 * through MEL_ENGINE_URL.
 */
export function useEngineDouble(
  input: EngineDoubleInput = {},
  options: { exportUrl?: boolean } = {},
): DoubleHandle {
  const handle = {} as DoubleHandle;
  const saved = process.env.MEL_ENGINE_URL;
  beforeAll(async () => {
    handle.double = await startEngineDouble(input);
    handle.endpoints = { ...endpoints, engineUrl: handle.double.url };
    if (options.exportUrl) process.env.MEL_ENGINE_URL = handle.double.url;
  });
  afterAll(async () => {
    if (options.exportUrl) {
      if (saved === undefined) delete process.env.MEL_ENGINE_URL;
      else process.env.MEL_ENGINE_URL = saved;
    }
    await handle.double?.close();
  });
  return handle;
}

/** The optimizer's own step count of the model a policy was saved from, as the double counted it. */
export function doubleOptimizerSteps(double: EngineDouble): (policy: PolicyRef) => Promise<number> {
  return async ({ statePath }) => {
    const modelId = /^tinker:\/\/([^/]+)\//.exec(statePath)?.[1];
    const model = modelId ? double.stats().optimizer.models[modelId] : undefined;
    if (!model) throw new Error(`the engine double has no model for ${statePath}`);
    return model.optimizerSteps;
  };
}

/**
 * A fault proxy in front of the stack's MongoDB (mongo-faults.ts) for the tests of one file; give the workers
 * `{ ...endpoints, mongoUri: handle.proxy.uri }`.
 */
export function useMongoFaults(rules: MongoFaultRule[]): { proxy: MongoFaultProxy } {
  const handle = {} as { proxy: MongoFaultProxy };
  beforeAll(async () => {
    handle.proxy = await startMongoFaultProxy(endpoints.mongoUri, rules);
  });
  afterAll(async () => {
    await handle.proxy?.close();
  });
  return handle;
}
