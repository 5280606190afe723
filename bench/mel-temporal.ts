/**
 * One measured configuration of mel-temporal: a fresh engine double and worker process, a real run through the
 * stack's Temporal server and MongoDB (a database of its own), then the numbers read back from the step
 * histories, the double's timeline and the database.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import proto, { type temporal as protos } from '@temporalio/proto';
import type { Endpoints } from '../common/env.js';
import type { EngineInterval } from '../engine-double/timeline.js';
import { parseRunConfig, type RunConfig } from '../mel/run-config.js';
import { connectMongo } from '../store/mongo.js';
import { currentProgress, startRun } from '../temporal/client.js';
import { runWorkflowId, stepWorkflowId } from '../temporal/contracts/run.js';
import { configLabel, type BenchConfig } from './configs.js';
import { measureStep, type ActivitySpan, type StepMeasure, type StepSpans } from './metrics.js';
import { answersHttp, waitUntilReady } from '../stack/process.js';
import { logContains, startTsProcess, type BenchProcess } from './processes.js';
import { cpuPerWindow, startCpuSampler } from './cpu-usage.js';

export interface BenchEnv {
  client: Client;
  endpoints: Endpoints;
  /** The port every configuration's (first) engine double listens on (the stack was told MEL_ENGINE_URL for it); the others take the next ones. */
  doublePort: number;
  tokenizerDir: string;
  logDir: string;
  /** Wall-clock budget of one configuration; a run still going then is stopped and recorded as failed. */
  budgetMs: number;
}

export interface RunMeasurement {
  ok: boolean;
  error: string | null;
  steps: StepMeasure[];
  historyEvents: number;
  historyBytes: number;
  mongoBytes: number | null;
  workerPeakRssMb: number | null;
  maxSlots: number;
  /** Each step's CPU seconds by process group (bench/cpu-usage.ts). */
  cpuSecondsByStep: Record<string, number[]>;
}

export type OnProgress = (detail: string) => void;

const REFLECTION_MEAN_TOKENS = 512;

export function runConfigFor(config: BenchConfig, runId: string): RunConfig {
  const maxTokens = Math.min(8192, Math.ceil(config.meanRolloutTokens * 1.5) + 64);
  return parseRunConfig({
    runId,
    mode: config.mode,
    seed: 1,
    steps: config.steps,
    batchSize: config.batchSize,
    groupSize: config.groupSize,
    dataset: { source: 'builtin', builtinCount: datasetSize(config), builtinSeed: 0 },
    sampling: {
      rollout: { temperature: 1, maxTokens },
      reflection: { temperature: 0.7, maxTokens: REFLECTION_MEAN_TOKENS * 2 },
      validation: { temperature: 1, maxTokens },
    },
    mel: { pairs: config.pairsCap === null ? {} : { maxPairsPerGroup: config.pairsCap } },
    ...(config.promptsPerChunk === undefined ? {} : { fanOut: { promptsPerChunk: config.promptsPerChunk } }),
  });
}

export function datasetSize(config: BenchConfig): number {
  return Math.max(300, config.batchSize);
}

/** The engine double's flags for a configuration: its data set, rollout lengths and latency model. */
export function doubleArgs(config: BenchConfig, port: number, tokenizerDir: string): string[] {
  const latency =
    config.engineSlots === undefined
      ? config.latencyModel
      : JSON.stringify({ profile: config.latencyModel, maxConcurrentSequences: config.engineSlots });
  return [
    ...['--port', String(port), '--seed', '1', '--tokenizer', tokenizerDir],
    ...['--mean-tokens', String(config.meanRolloutTokens)],
    ...['--reflection-mean-tokens', String(REFLECTION_MEAN_TOKENS)],
    ...['--builtin-count', String(Math.max(1000, datasetSize(config)))],
    ...['--latency', latency],
    ...(config.lossReduction ? ['--reduction', config.lossReduction] : []),
  ];
}

/**
 * The configuration's engine doubles, one per engine on consecutive ports; several share a checkpoint directory
 * (each restores the policy the first one's training saved) and put their index in their model ids.
 */
export async function startDoubles(
  config: BenchConfig,
  env: BenchEnv,
  name: string,
): Promise<{ doubles: BenchProcess[]; urls: string[] }> {
  const shared = config.engines > 1 ? ['--checkpoint-dir', checkpointDir(env, name)] : [];
  const started = Array.from({ length: config.engines }, (_, index) => {
    const port = env.doublePort + index;
    const names = config.engines > 1 ? ['--name', `e${index}`, ...shared] : [];
    const double = startTsProcess(
      `engine double ${index}`,
      'engine-double/main.ts',
      [...doubleArgs(config, port, env.tokenizerDir), ...names],
      path.join(env.logDir, `${name}.double${config.engines > 1 ? index : ''}.log`),
      process.env,
    );
    return { double, url: `http://127.0.0.1:${port}` };
  });
  const doubles = started.map((s) => s.double);
  try {
    for (const { double, url } of started) {
      await waitUntilReady(double, () => answersHttp(`${url}/api/v1/healthz`));
    }
  } catch (error) {
    await Promise.all(doubles.map((double) => double.stop()));
    throw error;
  }
  return { doubles, urls: started.map((s) => s.url) };
}

function checkpointDir(env: BenchEnv, name: string): string {
  return path.join(env.logDir, `${name}.checkpoints`);
}

/** One engine double (the cookbook's, and the stack's stand-in while it starts). */
export async function startDouble(
  config: BenchConfig,
  env: BenchEnv,
  name: string,
): Promise<{ double: BenchProcess; url: string }> {
  const { doubles, urls } = await startDoubles({ ...config, engines: 1 }, env, name);
  return { double: doubles[0]!, url: urls[0]! };
}

/**
 * The worker processes: every role next to the first engine, an inference worker next to each other one. With
 * several engines each inference worker keeps twice as many chunks in flight as its engine has slots for.
 */
function startWorkerProcesses(
  config: BenchConfig,
  urls: string[],
  name: string,
  env: BenchEnv,
  database: string,
) {
  const inflight =
    config.engineSlots === undefined || config.promptsPerChunk === undefined
      ? {}
      : {
          MEL_WORKER_CONCURRENCY_GPU_INFERENCE: String(
            Math.ceil((2 * config.engineSlots) / (config.promptsPerChunk * config.groupSize)),
          ),
        };
  return urls.map((url, index) =>
    startTsProcess(
      `workers ${index}`,
      'workers/main.ts',
      index === 0 ? [] : ['--roles', 'gpuInference'],
      path.join(env.logDir, `${name}.workers${index === 0 ? '' : index}.log`),
      {
        ...process.env,
        ...inflight,
        MEL_ENGINE_URL: url,
        ...(config.lossReduction ? { MEL_ENGINE_LOSS_REDUCTION: config.lossReduction } : {}),
        MEL_MONGODB_DB: database,
        MEL_LOG_FORMAT: 'json',
      },
    ),
  );
}

export async function measureMelTemporal(
  config: BenchConfig,
  env: BenchEnv,
  onProgress: OnProgress,
): Promise<RunMeasurement> {
  const name = benchName(config);
  const database = name.replace(/-/g, '_');
  const { doubles, urls } = await startDoubles(config, env, name);
  let workers: BenchProcess[] = [];
  try {
    workers = startWorkerProcesses(config, urls, name, env, database);
    for (const worker of workers) {
      await waitUntilReady(worker, () => logContains(worker.log, 'workers running'), 120_000);
    }
    const runConfig = runConfigFor(config, name);
    const cpu = startCpuSampler(
      new Map([
        ...doubles.map((double) => [double.pid, 'engine double'] as const),
        ...workers.map((worker) => [worker.pid, 'workers'] as const),
        [process.pid, 'benchmark'],
      ]),
    );
    const outcome = await runWithBudget(env, runConfig, onProgress).finally(() => cpu.stop());
    const workerPeakRssMb = await workers[0]!.peakRssMb();
    onProgress('reading histories, timeline and database size');
    const spans = await stepSpans(env.client, name, outcome.completedSteps);
    const runHistory = await historySize(env.client, runWorkflowId(name));
    const { intervals, maxSlots } = await fetchTimelines(urls);
    const steps = spans.map((span) => measureStep(span, intervals, maxSlots));
    const cpuSecondsByStep = cpuPerWindow(await cpu.stop(), spans);
    return {
      ok: outcome.error === null,
      error: outcome.error,
      steps,
      historyEvents: runHistory.events + sum(spans.map((span) => span.historyEvents)),
      historyBytes: runHistory.bytes + sum(spans.map((span) => span.historyBytes)),
      mongoBytes: await databaseBytes(env.endpoints, database),
      workerPeakRssMb,
      maxSlots,
      cpuSecondsByStep,
    };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await Promise.all(doubles.map((double) => double.stop()));
    await rm(checkpointDir(env, name), { recursive: true, force: true });
    await dropDatabase(env.endpoints, database).catch(() => undefined);
  }
}

export function benchName(config: BenchConfig): string {
  const slug = configLabel(config)
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^mel-temporal-/, '');
  return `bench-${slug}-${Date.now().toString(36)}`.slice(0, 64);
}

interface RunOutcome {
  completedSteps: number;
  error: string | null;
}

/**
 * Starts the run and follows it until it ends, the budget is spent, or an activity attempt fails (a retried step
 * would measure its timeouts, not its work): then terminates it and says why.
 */
async function runWithBudget(env: BenchEnv, config: RunConfig, onProgress: OnProgress): Promise<RunOutcome> {
  const handle = await startRun(env.client, config);
  const result = handle.result().then(
    (status) => ({ nextStep: status.nextStep, error: null as string | null }),
    (error: unknown) => ({ nextStep: undefined, error: `run failed: ${(error as Error).message}` }),
  );
  const deadline = Date.now() + env.budgetMs;
  let nextStep = 0;
  while (Date.now() < deadline) {
    const done = await Promise.race([result, sleep(2_000).then(() => undefined)]);
    if (done) return { completedSteps: done.nextStep ?? nextStep, error: done.error };
    const progress = await currentProgress(env.client, config.runId).catch(() => undefined);
    if (!progress) continue;
    nextStep = progress.status.nextStep;
    const failure = await failedAttempt(env.client, config.runId, progress.status.currentStep);
    if (failure) {
      await handle.terminate(`benchmark: ${failure}`).catch(() => undefined);
      return { completedSteps: nextStep, error: `step ${progress.status.currentStep}: ${failure}` };
    }
    onProgress(`step ${Math.min(nextStep + 1, config.steps)}/${config.steps} ${progress.stage ?? ''}`);
  }
  await handle.terminate('benchmark budget spent').catch(() => undefined);
  return {
    completedSteps: nextStep,
    error: `over the budget of ${Math.round(env.budgetMs / 60_000)} min after ${nextStep} of ${config.steps} steps`,
  };
}

/** The first failed attempt of an activity of the running step, as `<activity>: <failure> (attempt n)`. */
async function failedAttempt(
  client: Client,
  runId: string,
  step: number | undefined,
): Promise<string | null> {
  if (step === undefined) return null;
  const description = await client.workflow
    .getHandle(stepWorkflowId(runId, step))
    .describe()
    .catch(() => undefined);
  for (const pending of description?.raw.pendingActivities ?? []) {
    if ((pending.attempt ?? 1) > 1 && pending.lastFailure) {
      return `${pending.activityType?.name ?? 'an activity'} failed: ${pending.lastFailure.message ?? 'no message'} (attempt ${(pending.attempt ?? 2) - 1})`;
    }
  }
  return null;
}

const { history: historyProto } = proto.temporal.api;
type HistoryEvent = protos.api.history.v1.IHistoryEvent;

async function stepSpans(client: Client, runId: string, steps: number): Promise<StepSpans[]> {
  const spans: StepSpans[] = [];
  for (let step = 0; step < steps; step++) {
    const history = await client.workflow.getHandle(stepWorkflowId(runId, step)).fetchHistory();
    spans.push(spansOf(step, history));
  }
  return spans;
}

function spansOf(step: number, history: protos.api.history.v1.IHistory): StepSpans {
  const events = history.events ?? [];
  const scheduled = new Map<number, { activity: string; ms: number }>();
  const activities: ActivitySpan[] = [];
  for (const event of events) {
    const id = Number(event.eventId);
    const attributes = event.activityTaskScheduledEventAttributes;
    if (attributes) scheduled.set(id, { activity: attributes.activityType?.name ?? '?', ms: timeOf(event) });
    const closedFrom = closedScheduledId(event);
    const opened = closedFrom === undefined ? undefined : scheduled.get(closedFrom);
    if (opened)
      activities.push({ activity: opened.activity, scheduledMs: opened.ms, closedMs: timeOf(event) });
  }
  return {
    step,
    startMs: timeOf(events[0]!),
    endMs: timeOf(events.at(-1)!),
    historyEvents: events.length,
    historyBytes: historyProto.v1.History.encode(history).finish().byteLength,
    activities,
  };
}

function closedScheduledId(event: HistoryEvent): number | undefined {
  const closed =
    event.activityTaskCompletedEventAttributes ??
    event.activityTaskFailedEventAttributes ??
    event.activityTaskTimedOutEventAttributes ??
    event.activityTaskCanceledEventAttributes;
  return closed?.scheduledEventId === undefined || closed.scheduledEventId === null
    ? undefined
    : Number(closed.scheduledEventId);
}

function timeOf(event: HistoryEvent): number {
  const time = event.eventTime;
  return Number(time?.seconds ?? 0) * 1000 + Math.floor((time?.nanos ?? 0) / 1e6);
}

async function historySize(client: Client, workflowId: string): Promise<{ events: number; bytes: number }> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return {
    events: history.events?.length ?? 0,
    bytes: historyProto.v1.History.encode(history).finish().byteLength,
  };
}

/** Every engine's intervals together, and their slots summed: several engines as one larger one. */
async function fetchTimelines(urls: string[]): Promise<{ intervals: EngineInterval[]; maxSlots: number }> {
  const timelines = await Promise.all(urls.map(fetchTimeline));
  return {
    intervals: timelines.flatMap((timeline) => timeline.intervals),
    maxSlots: sum(timelines.map((timeline) => timeline.maxSlots)),
  };
}

export async function fetchTimeline(url: string): Promise<{ intervals: EngineInterval[]; maxSlots: number }> {
  const response = await fetch(`${url}/double/v1/timeline`);
  if (!response.ok) throw new Error(`the engine double's timeline: HTTP ${response.status}`);
  const body = (await response.json()) as { intervals: EngineInterval[]; maxConcurrentSequences: number };
  return { intervals: body.intervals, maxSlots: body.maxConcurrentSequences };
}

async function databaseBytes(endpoints: Endpoints, database: string): Promise<number | null> {
  const mongo = await connectMongo({ ...endpoints, mongoDb: database });
  try {
    const stats = await mongo.db.stats();
    return typeof stats.dataSize === 'number' ? stats.dataSize : null;
  } finally {
    await mongo.close();
  }
}

async function dropDatabase(endpoints: Endpoints, database: string): Promise<void> {
  const mongo = await connectMongo({ ...endpoints, mongoDb: database });
  try {
    await mongo.db.dropDatabase();
  } finally {
    await mongo.close();
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
