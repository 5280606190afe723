/**
 * The W&B sink with W&B's own client (PyPI `wandb`, pinned in test/integration/wandb/) in offline mode, the only mode
 * that runs without a W&B account: recordStep on the stack's MongoDB writes one W&B run per MEL run, with each step's
 * metrics once at its MEL step, whatever is resent, retried or resumed on another worker. The offline run files
 * are read back with test/integration/wandb/read_offline.py. Online mode (the server's own step count, resuming a
 * run held on wandb.ai) cannot be checked here: nothing outside this machine can be reached.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecordActivities } from '../../activities/records.js';
import type { MelActivityDeps } from '../../activities/support.js';
import { loadEnv, REPO_ROOT } from '../../common/env.js';
import { createLogger } from '../../common/logger.js';
import { runPythonScript } from '../../common/python-script.js';
import { datasetPin, loadRunDataset } from '../../mel/node.js';
import type { RunConfig } from '../../mel/run-config.js';
import { ensureVenv } from '../../stack/install.js';
import { connectMongo, type MongoHandle } from '../../store/mongo.js';
import { WandbSink, wandbSettingsFromEnv } from '../../trackers/wandb.js';
import { shortRunConfig } from './mel-support.js';
import { endpoints, stepResult } from './support.js';

const PINS = path.join(REPO_ROOT, 'test', 'integration', 'wandb');

interface OfflineRun {
  runId: string;
  config: Record<string, unknown>;
  history: { step: number; metrics: Record<string, number> }[];
}

let python: string;
let mongo: MongoHandle;
let wandbDir: string;
const saved = { ...process.env };

beforeAll(async () => {
  const env = loadEnv();
  [python, mongo, wandbDir] = await Promise.all([
    ensureVenv(env, createLogger('wandb-venv'), {
      name: 'wandb-venv',
      dir: path.join(env.MEL_CACHE_DIR, 'wandb-venv'),
      requirements: path.join(PINS, 'requirements.txt'),
      constraints: path.join(PINS, 'constraints.txt'),
      check: 'import wandb',
      title: 'the W&B client venv for tests (125 MB)',
      expected: 'about 15 s',
    }),
    connectMongo(endpoints),
    mkdtemp(path.join(tmpdir(), 'mel-wandb-')),
  ]);
  Object.assign(process.env, { WANDB_MODE: 'offline', WANDB_DIR: wandbDir, WANDB_PROJECT: 'mel-test' });
});
afterAll(async () => {
  for (const key of ['WANDB_MODE', 'WANDB_DIR', 'WANDB_PROJECT']) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
  await mongo?.close();
  if (wandbDir) await rm(wandbDir, { recursive: true, force: true });
});

async function offlineRuns(runId: string): Promise<OfflineRun[]> {
  const out = await runPythonScript(python, path.join(PINS, 'read_offline.py'), [wandbDir]);
  return (JSON.parse(out) as OfflineRun[]).filter((run) => run.runId === runId);
}

/** A registered MEL run and its recordStep, sending to a sink (a new sink: a new worker process, say). */
async function registered(config: RunConfig) {
  const deps = { db: mongo.db, baseModel: 'tiny' } as unknown as MelActivityDeps;
  await createRecordActivities(deps).registerRun({
    config,
    data: datasetPin(await loadRunDataset(config)),
    workflowId: `mel-run/${config.runId}`,
  });
  return (sink: WandbSink) => createRecordActivities({ ...deps, trackers: [sink] }).recordStep;
}

describe('W&B sink, recordStep on the stack (offline mode)', () => {
  it('writes one W&B run per MEL run, each step once at its step, across resends, retries and resumes', async () => {
    const settings = wandbSettingsFromEnv({ ...process.env, MEL_WANDB_PYTHON: python })!;
    const config = shortRunConfig({ steps: 3, mode: 'grpo' });
    const recorder = await registered(config);
    const recordStep = recorder(new WandbSink(settings));
    await recordStep({ runId: config.runId, result: stepResult(0, 0.25) });
    await recordStep({ runId: config.runId, result: stepResult(1, 0.5) });
    await recordStep({ runId: config.runId, result: stepResult(1, 0.5) }); // a retry
    // A resumed run on another worker: a new sink, no state shared with the first.
    await recorder(new WandbSink(settings))({ runId: config.runId, result: stepResult(2, 0.75) });

    const runs = await offlineRuns(config.runId);
    expect(runs.length).toBeGreaterThan(0); // offline, each send is a local run of the same W&B id
    const points = runs.flatMap((run) => run.history);
    expect(points.map((point) => [point.step, point.metrics.passRate])).toEqual([
      [0, 0.25],
      [1, 0.5],
      [2, 0.75],
    ]);
    for (const key of ['prompts', 'grpoLoss', 'nllLoss', 'stageDurationsMs.rollout']) {
      expect(points.map((point) => typeof point.metrics[key])).toEqual(['number', 'number', 'number']);
    }
    for (const run of runs) {
      expect(run.config).toMatchObject({ runId: config.runId, mode: 'grpo', baseModel: 'tiny' });
    }
  });

  it('logs a send that fails (no Python with wandb) without failing the step; the next step catches up', async () => {
    const config = shortRunConfig({ steps: 2, mode: 'grpo' });
    const recorder = await registered(config);
    const broken = wandbSettingsFromEnv({ ...process.env, MEL_WANDB_PYTHON: '/nonexistent/python' })!;
    await recorder(new WandbSink(broken))({ runId: config.runId, result: stepResult(0, 0.25) });
    expect(await offlineRuns(config.runId)).toEqual([]);

    const settings = wandbSettingsFromEnv({ ...process.env, MEL_WANDB_PYTHON: python })!;
    await recorder(new WandbSink(settings))({ runId: config.runId, result: stepResult(1, 0.5) });
    const points = (await offlineRuns(config.runId)).flatMap((run) => run.history);
    expect(points.map((point) => point.step)).toEqual([0, 1]);
  });
});
