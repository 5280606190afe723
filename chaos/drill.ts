/**
 * The chaos drill: one real run on the local stack while its workers are killed with SIGKILL at random moments
 * (at least once inside a policy update) and Temporal, MongoDB (FerretDB) and the engine are each restarted once,
 * on a seeded schedule (schedule.ts); then the checks of checks.ts. Every wait is bounded (wait.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Env } from '../common/env.js';
import { machineFacts, type MachineFacts } from '../common/machine.js';
import type { Logger } from '../common/logger.js';
import type { RunConfig } from '../mel/run-config.js';
import type { Stack } from '../stack/stack.js';
import { connectMongo } from '../store/mongo.js';
import { currentProgress, startRun } from '../temporal/client.js';
import { connectClient } from '../temporal/connection.js';
import { runWorkflowId, stepWorkflowId, type RunStatus, type StageName } from '../temporal/contracts/run.js';
import { activityAttempts, runningActivities, type ActivityAttempts } from '../temporal/history.js';
import { checkFaults, checkRun, type Check, type FaultRecord } from './checks.js';
import { doubleProcessEngine, stackEngine, type DrillEngine } from './engines.js';
import { collectEvidence } from './evidence.js';
import type { DrillSettings } from './options.js';
import { describeFault, planFaults, position, type Fault } from './schedule.js';
import { DrillAbort, waitFor, within } from './wait.js';
import { DrillWorkers } from './workers.js';

export interface DrillSummary {
  ok: boolean;
  seed: number;
  command: string;
  short: boolean;
  engine: string;
  runId: string;
  run: { steps: number; batchSize: number; groupSize: number };
  machine: MachineFacts;
  startedAt: string;
  durationS: number;
  plan: string[];
  faults: FaultRecord[];
  checks: Check[];
  unexpectedWorkerExits: number;
  error?: string;
  dir: string;
}

/** Where the run is: closed, or its step and stage (the position schedule.ts orders moments by). */
type Where =
  | { closed: true; workflowStatus: string }
  | { closed: false; status: RunStatus; step?: number; stage?: StageName; at: number };

/** The bound of one call to a service that is up (connect, start the run, read a history). */
const CALL_BOUND_MS = 60_000;

export interface DrillDeps {
  stack: Stack;
  env: Env;
  log: Logger;
  /** The run's configuration; its runId, steps and batch size are the drill's. */
  config: RunConfig;
  /** How the drill was started, for the summary. */
  command: string;
}

export async function runDrill(settings: DrillSettings, deps: DrillDeps): Promise<DrillSummary> {
  const { stack, env, log, config } = deps;
  const startedAt = new Date();
  const deadline = startedAt.getTime() + settings.timeoutMs;
  const remaining = () => Math.max(1_000, deadline - Date.now());
  const elapsedS = () => Math.round((Date.now() - startedAt.getTime()) / 100) / 10;
  const plan = planFaults(settings.schedule);
  const dir = path.join(env.MEL_STACK_DIR, 'chaos', config.runId);
  await mkdir(dir, { recursive: true });

  log.info(
    { seed: settings.seed, runId: config.runId, engine: settings.engine, steps: config.steps, dir },
    `chaos drill, seed ${settings.seed} (replay it with --seed ${settings.seed})`,
  );
  for (const fault of plan) log.info({ fault: fault.id }, `planned ${describeFault(fault)}`);

  const records: FaultRecord[] = plan.map((fault) => ({ fault, injected: false }));
  const summary: DrillSummary = {
    ok: false,
    seed: settings.seed,
    command: deps.command,
    short: settings.short,
    engine: settings.engine,
    runId: config.runId,
    run: { steps: config.steps, batchSize: config.batchSize, groupSize: config.groupSize },
    machine: machineFacts(),
    startedAt: startedAt.toISOString(),
    durationS: 0,
    plan: plan.map(describeFault),
    faults: records,
    checks: [],
    unexpectedWorkerExits: 0,
    dir,
  };

  let engine: DrillEngine | undefined;
  let workers: DrillWorkers | undefined;
  let temporal: Client | undefined;
  let following = true;
  try {
    engine =
      settings.engine === 'skyrl'
        ? stackEngine(stack, env)
        : await doubleProcessEngine({
            dir,
            options: settings.double,
            startTimeoutMs: settings.startTimeoutMs,
            log,
          });
    log.info({ engine: engine.describe }, 'engine');
    const endpoints = { ...stack.endpoints, engineUrl: engine.url };
    temporal = await within(
      `Temporal at ${endpoints.temporalAddress}`,
      CALL_BOUND_MS,
      connectClient(endpoints),
    );
    const client = temporal;
    workers = new DrillWorkers({
      dir,
      env: { ...process.env, MEL_ENGINE_URL: engine.url, MEL_LOG_FORMAT: 'json' },
      startTimeoutMs: settings.startTimeoutMs,
      log,
    });
    await workers.startAll();
    await within(`the run ${config.runId} to start`, CALL_BOUND_MS, startRun(client, config));
    log.info({ runId: config.runId, workflowId: runWorkflowId(config.runId) }, 'run started');

    const where = async (): Promise<Where> => {
      const description = await client.workflow.getHandle(runWorkflowId(config.runId)).describe();
      if (description.status.name !== 'RUNNING')
        return { closed: true, workflowStatus: description.status.name };
      const { status, stage } = await currentProgress(client, config.runId);
      if (status.phase === 'paused' && status.lastError) {
        throw new DrillAbort(
          `the run paused: step ${status.lastError.step} failed: ${status.lastError.message}`,
        );
      }
      const step = status.currentStep;
      // Between steps, or before a step reports its first stage: just before that step's rollout.
      const at =
        step !== undefined && stage
          ? position(step, stage)
          : position(step ?? status.nextStep, 'rollout') - 1;
      return { closed: false, status, step, stage, at };
    };

    // Progress, as it goes: a line whenever the step or stage changes.
    const follower = (async () => {
      let last = '';
      while (following) {
        const now = await within('the run progress', CALL_BOUND_MS, where()).catch(() => undefined);
        const key = now && (now.closed ? now.workflowStatus : `${now.step}/${now.stage}`);
        if (now && key !== last) {
          last = key!;
          if (now.closed)
            log.info({ elapsedS: elapsedS(), workflowStatus: now.workflowStatus }, 'run closed');
          else log.info({ elapsedS: elapsedS(), step: now.step, stage: now.stage }, 'run progress');
        }
        await sleep(1_000);
      }
    })();

    const restartWorkers = async (fault: Extract<Fault, { kind: 'kill-workers' }>, record: FaultRecord) => {
      const pids = workers!.kill(fault.targets);
      record.injected = true;
      record.atS = elapsedS();
      log.warn(
        {
          fault: fault.id,
          targets: fault.targets,
          pids,
          step: record.step,
          stage: record.stage,
          elapsedS: record.atS,
        },
        `SIGKILL worker process(es) ${fault.targets.join('+')}`,
      );
      const down = Date.now();
      await sleep(fault.downtimeMs);
      for (const group of fault.targets) await workers!.start(group);
      record.recoveredS = Math.round((Date.now() - down) / 100) / 10;
      record.detail = `${record.detail ? `${record.detail}; ` : ''}killed pids ${pids.join(', ')}`;
    };

    const waitUntilReached = (step: number, stage: StageName) =>
      waitFor(`the run to reach step ${step} ${stage}`, remaining(), async () => {
        const now = await where();
        return now.closed || now.at >= position(step, stage) ? now : undefined;
      });

    const inject = async (record: FaultRecord) => {
      const { fault } = record;
      if (fault.kind === 'kill-workers' && fault.duringPolicyUpdate)
        return killDuringPolicyUpdate(fault, record);
      const reached = await waitUntilReached(fault.at.step, fault.at.stage);
      if (reached.closed) {
        record.note = `the run closed (${reached.workflowStatus}) before step ${fault.at.step} ${fault.at.stage}`;
        return;
      }
      await sleep(fault.at.afterMs);
      const now = await where().catch(() => reached);
      if (now.closed) {
        record.note = `the run closed (${now.workflowStatus}) before the fault fired`;
        return;
      }
      record.step = now.step;
      record.stage = now.stage;
      if (fault.kind === 'kill-workers') return restartWorkers(fault, record);
      record.injected = true;
      record.atS = elapsedS();
      log.warn(
        {
          fault: fault.id,
          service: fault.service,
          downtimeMs: fault.downtimeMs,
          step: now.step,
          stage: now.stage,
          elapsedS: record.atS,
        },
        `restarting ${fault.service}`,
      );
      const down = Date.now();
      const bound = fault.downtimeMs + settings.startTimeoutMs + 30_000;
      await within(
        `${fault.service} to come back`,
        bound,
        fault.service === 'engine'
          ? engine!.restart(fault.downtimeMs)
          : stack.crashAndRestart(fault.service, fault.downtimeMs),
      );
      record.recoveredS = Math.round((Date.now() - down) / 100) / 10;
      record.detail = `SIGKILL, down ${fault.downtimeMs} ms, answering again after ${record.recoveredS} s`;
      log.info(
        { fault: fault.id, service: fault.service, seconds: record.recoveredS },
        `${fault.service} is back`,
      );
    };

    const killDuringPolicyUpdate = async (
      fault: Extract<Fault, { kind: 'kill-workers' }>,
      record: FaultRecord,
    ) => {
      for (let step = fault.at.step; step < config.steps; step++) {
        const seen = await waitFor(
          `a policyUpdate of step ${step} to run`,
          remaining(),
          async () => {
            const running = await runningActivities(client, stepWorkflowId(config.runId, step)).catch(
              (error) => {
                if (error instanceof WorkflowNotFoundError) return [];
                throw error;
              },
            );
            const update = running.find((activity) => activity.activityType === 'policyUpdate');
            if (update) return { update };
            const now = await where();
            if (now.closed) return { closed: now.workflowStatus };
            return now.at > position(step, 'policy-update') ? { passed: true } : undefined;
          },
          200,
        );
        if ('closed' in seen) {
          record.note = `the run closed (${seen.closed}) before a policyUpdate could be hit`;
          return;
        }
        if (!('update' in seen)) {
          log.info(
            { fault: fault.id, step },
            'missed the policy update of this step; waiting for the next one',
          );
          continue;
        }
        await sleep(fault.at.afterMs);
        const running = await within(
          `the pending activities of step ${step}`,
          CALL_BOUND_MS,
          runningActivities(client, stepWorkflowId(config.runId, step)),
        );
        const still = running.find(
          (activity) => activity.activityType === 'policyUpdate' && activity.attempt === seen.update!.attempt,
        );
        if (!still) {
          log.info(
            { fault: fault.id, step },
            'the policy update finished within the delay; waiting for the next one',
          );
          continue;
        }
        record.step = step;
        record.stage = 'policy-update';
        record.detail = `policyUpdate attempt ${still.attempt} running on worker ${still.workerIdentity}`;
        return restartWorkers(fault, record);
      }
      record.note = 'no policy update left to hit';
    };

    for (const record of records) await inject(record);
    log.info({ elapsedS: elapsedS() }, 'all faults done; waiting for the run to finish');
    await waitFor('the run to finish', remaining(), async () => {
      const now = await where();
      return now.closed ? now : undefined;
    });
    following = false;
    await follower;

    const mongo = await within('MongoDB', CALL_BOUND_MS, connectMongo(endpoints));
    try {
      const evidence = await within(
        "the run's documents, audits and the optimizer's counter",
        remaining(),
        collectEvidence({
          db: mongo.db,
          temporal: client,
          endpoints,
          config,
          optimizerSteps: engine.optimizerSteps,
        }),
      );
      const attempts = new Map<number, ActivityAttempts | undefined>();
      for (const record of records) {
        if (
          record.step === undefined ||
          record.fault.kind !== 'kill-workers' ||
          !record.fault.duringPolicyUpdate
        )
          continue;
        const history = await within(
          `the history of step ${record.step}`,
          CALL_BOUND_MS,
          activityAttempts(client, stepWorkflowId(config.runId, record.step)),
        );
        attempts.set(record.step, history.get('policyUpdate'));
      }
      summary.unexpectedWorkerExits = workers.unexpectedExits.length;
      summary.checks = [
        ...checkRun(evidence),
        ...checkFaults(records, attempts),
        {
          name: 'no worker process died without being killed',
          ok: workers.unexpectedExits.length === 0,
          detail:
            workers.unexpectedExits
              .map(
                (exit) =>
                  `${exit.group} pid ${exit.pid} (code ${exit.code}, signal ${exit.signal}; ${exit.log})`,
              )
              .join('; ') || 'none',
        },
      ];
    } finally {
      await mongo.close();
    }
    summary.ok = summary.checks.every((check) => check.ok);
  } catch (error) {
    summary.error = (error as Error).message;
    for (const record of records) if (!record.injected) record.note ??= 'the drill stopped before it';
    log.error({ err: error, elapsedS: elapsedS() }, 'the drill failed');
  } finally {
    following = false;
    await workers?.close().catch(() => undefined);
    await engine?.close().catch(() => undefined);
    await temporal?.connection.close().catch(() => undefined);
    summary.durationS = elapsedS();
  }
  return summary;
}

/** The summary's checks as lines: `PASS  name: detail`. */
export function checkLines(summary: DrillSummary): string[] {
  return summary.checks.map((check) => `${check.ok ? 'PASS' : 'FAIL'}  ${check.name}: ${check.detail}`);
}

export async function writeSummary(summary: DrillSummary, file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(summary, null, 2)}\n`);
}
