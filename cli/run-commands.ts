/** `mel train`, `runs`, `status`, `pause`, `resume`, `stop`. */
import {
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import type { Command } from 'commander';
import { loadEnv } from '../common/env.js';
import { StatusLine, writeAbove } from '../common/progress.js';
import { findRun, forkSource, ForkSourceError, stepMetrics } from '../store/queries.js';
import {
  pauseUpdate,
  resumeUpdate,
  runWorkflowId,
  stopUpdate,
  type RunStatus,
} from '../temporal/contracts/run.js';
import { failureChain } from '../temporal/errors.js';
import { followRun, startRun, type Progress } from '../temporal/client.js';
import { assertUnchanged, type DatasetPin } from '../mel/index.js';
import { datasetPin, loadRunConfig, type RunDataset } from '../mel/node.js';
import {
  differentRunConfigMessage,
  runConfigWarnings,
  sameRunConfig,
  type RunConfig,
} from '../mel/run-config.js';
import type { InProcessWorkers } from '../workers/in-process.js';
import { missingWorkersWarning, startCliWorkers } from './workers.js';
import { CliError, emit, withContext, type CliContext, type OutputOptions } from './context.js';
import { describeRunData, readRunData } from './data-set.js';
import { fields } from './format.js';
import { firstLine, listRuns, loadStatus } from './run-state.js';
import {
  failedAt,
  progressLine,
  renderMetrics,
  renderRuns,
  renderStatus,
  stepDoneLine,
  stepLabel,
} from './run-views.js';

const UPDATE_DEADLINE_MS = 15_000;

export function registerRunCommands(program: Command): void {
  program
    .command('train')
    .description(
      'start a run from a configuration file, or attach to the run with the same id, and follow it',
    )
    .argument('<config>', 'run configuration (JSON), e.g. configs/demo.json')
    .option('--detach', 'start or attach, then return at once instead of following the run')
    .option(
      '--with-workers',
      'run the workers in this process while following (else `npm run worker` must run)',
    )
    .option('--json', 'print newline-delimited JSON events instead of a progress bar')
    .action(withContext(train));

  program
    .command('runs')
    .description('list runs, newest first')
    .option('--limit <n>', 'at most this many runs', parseCount, 50)
    .option('--json', 'print JSON')
    .action(
      withContext(async (context, options: OutputOptions & { limit: number }) =>
        emit(options, await listRuns(context, options.limit), renderRuns),
      ),
    );

  program
    .command('status')
    .description("a run's phase, current step and stage, last error and recent per-step metrics")
    .argument('<run>', 'run id')
    .option('--steps <n>', 'show the metrics of this many recent steps', parseCount, 5)
    .option('--json', 'print JSON')
    .action(
      withContext(async (context, runId: string, options: OutputOptions & { steps: number }) =>
        emit(options, await loadStatus(context, runId, options.steps), renderStatus),
      ),
    );

  const controls: [
    string,
    string,
    (handle: ReturnType<Client['workflow']['getHandle']>, reason?: string) => Promise<RunStatus>,
  ][] = [
    ['pause', 'pause a run after its current step', (h, reason) => withReason(h, pauseUpdate.name, reason)],
    ['resume', 'resume a paused run; a step that failed is retried', (h) => h.executeUpdate(resumeUpdate)],
    [
      'stop',
      'stop a run after its current step (it cannot be resumed)',
      (h, reason) => withReason(h, stopUpdate.name, reason),
    ],
  ];
  for (const [name, description, send] of controls) {
    const command = program
      .command(name)
      .description(description)
      .argument('<run>', 'run id')
      .option('--json', 'print JSON');
    if (name !== 'resume') command.option('--reason <text>', 'recorded as the pause/stop reason');
    command.action(
      withContext(async (context, runId: string, options: OutputOptions & { reason?: string }) => {
        const client = await context.client();
        const handle = client.workflow.getHandle(runWorkflowId(runId));
        const status = await client.connection
          .withDeadline(Date.now() + UPDATE_DEADLINE_MS, () => send(handle, options.reason))
          .catch((error: unknown) => {
            throw explainUpdateError(runId, name, error);
          });
        emit(options, status, (s) => `run ${runId}: ${describePhase(s)}`);
      }),
    );
  }
}

/** The pause and stop updates take an optional reason, a shape the SDK's typed overloads do not accept. */
function withReason(handle: ReturnType<Client['workflow']['getHandle']>, update: string, reason?: string) {
  return handle.executeUpdate<RunStatus, [string | undefined]>(update, { args: [reason] });
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`expected a positive whole number, got ${value}`);
  return n;
}

function explainUpdateError(runId: string, name: string, error: unknown): Error {
  if (error instanceof WorkflowNotFoundError) {
    return new CliError(
      `cannot ${name} run ${runId}: it is not running (finished, or no such run: \`mel status ${runId}\`)`,
    );
  }
  if (error instanceof WorkflowUpdateFailedError) {
    return new CliError(`cannot ${name} run ${runId}: ${error.cause?.message ?? error.message}`);
  }
  return new CliError(
    `cannot ${name} run ${runId}: ${firstLine(error)} (no worker answered? is \`npm run worker\` running?)`,
  );
}

function describePhase(status: RunStatus): string {
  const reason = status.pauseReason ? ` (${status.pauseReason})` : '';
  const step =
    status.currentStep !== undefined
      ? `, ${stepLabel(status.currentStep, status.totalSteps)} running`
      : `, ${status.nextStep}/${status.totalSteps} steps done`;
  return `${status.phase}${reason}${step}`;
}

export interface TrainOptions extends OutputOptions {
  detach?: boolean;
  withWorkers?: boolean;
}

async function train(context: CliContext, file: string, options: TrainOptions): Promise<void> {
  if (options.detach && options.withWorkers) {
    throw new CliError('--with-workers runs the workers only while following the run: drop --detach');
  }
  const config = await loadRunConfig(file).catch((error: unknown) => {
    throw new CliError(firstLine(error) === String(error) ? String(error) : (error as Error).message);
  });
  await trainRun(context, config, options);
}

/**
 * What `mel train` does once it has the configuration: starts the run (or attaches to it), follows it with a
 * progress bar and prints the per-step metrics at the end. Returns the final status (undefined with --detach).
 */
export async function trainRun(
  context: CliContext,
  config: RunConfig,
  options: TrainOptions,
): Promise<RunStatus | undefined> {
  const client = await context.client();
  const existing = await existingExecution(client, config.runId);
  const stored = await findRun(await context.db(), config.runId);
  if (stored && !sameRunConfig(stored.config, config))
    throw new CliError(differentRunConfigMessage(config.runId));
  if (existing && existing !== 'RUNNING') {
    throw new CliError(
      `run ${config.runId} has already finished (${existing}); see \`mel status ${config.runId}\`, ` +
        'or choose a new runId to train again',
    );
  }
  if (config.initialPolicy && !stored) {
    await forkSource(await context.db(), config.initialPolicy, config.lora.rank).catch((error: unknown) => {
      throw error instanceof ForkSourceError ? new CliError(error.message) : error;
    });
  }
  const dataset = await readRunData(config);
  if (stored?.data) checkSameData(config.runId, stored.data, dataset);
  const out = new TrainOutput(options);
  const { source, sha256, badRows } = dataset;
  out.event(
    'data',
    { runId: config.runId, source, sha256, problems: dataset.problems.length, skipped: badRows },
    describeRunData(dataset),
  );
  for (const warning of runConfigWarnings(config)) out.warn(warning);
  const workers = options.withWorkers ? await startCliWorkers(context) : undefined;
  try {
    const warning = workers ? undefined : await missingWorkersWarning(context, 'train');
    if (warning) out.warn(warning);
    await startRun(client, config, datasetPin(dataset));
    out.event(
      'started',
      { runId: config.runId, attached: existing === 'RUNNING', workflowId: runWorkflowId(config.runId) },
      `${existing ? 'attached to' : 'started'} run ${config.runId} (workflow ${runWorkflowId(config.runId)})`,
    );
    if (options.detach) return undefined;
    detachOnInterrupt(out, config.runId, workers);
    const pollMs = loadEnv().MEL_PROGRESS_POLL_MS;
    const final = await followRun(client, config.runId, (progress) => out.progress(progress), pollMs).catch(
      (error: unknown) => {
        if (error instanceof WorkflowFailedError) {
          throw new CliError(`run ${config.runId} failed: ${failureChain(error)}`);
        }
        throw error;
      },
    );
    out.finished(final, await stepMetrics(await context.db(), config.runId));
    return final;
  } finally {
    out.stop();
    await workers?.stop();
  }
}

/** The status of the run's workflow (RUNNING, COMPLETED, …), or null when it was never started. */
export async function existingExecution(client: Client, runId: string): Promise<string | null> {
  try {
    return (await client.workflow.getHandle(runWorkflowId(runId)).describe()).status.name;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return null;
    throw error;
  }
}

/** Attaching to a run means training on its data set: a file that changed since the run started is refused. */
function checkSameData(runId: string, pinned: DatasetPin, dataset: RunDataset): void {
  try {
    assertUnchanged(dataset.source, pinned.sha256, dataset.sha256, `run ${runId} was started`);
  } catch (error) {
    throw new CliError(`cannot attach to run ${runId}: ${(error as Error).message}`);
  }
}

/** Ctrl-C leaves the run going (it is durable); only this process and its in-process workers stop. */
function detachOnInterrupt(out: TrainOutput, runId: string, workers: InProcessWorkers | undefined): void {
  process.once('SIGINT', () => {
    out.warn(
      workers
        ? `stopping the in-process workers; run ${runId} waits for a worker (\`npm run worker\`) to go on`
        : `detached; run ${runId} goes on: \`mel status ${runId}\``,
    );
    void (workers?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

/**
 * Progress of `mel train`: a bar redrawn in place with a spinner and the elapsed time on a terminal, a line per
 * change elsewhere, NDJSON events with --json. Lines that stay (started, each finished step) go above the bar.
 */
export class TrainOutput {
  private readonly line: StatusLine;
  private lastStepShown?: number;
  private lastErrorShown?: string;

  constructor(private readonly options: OutputOptions) {
    const live = Boolean(process.stdout.isTTY) && !options.json;
    this.line = new StatusLine({ stream: process.stdout, live, spinner: true });
  }

  event(event: string, data: object, text: string): void {
    this.line.print(this.options.json ? JSON.stringify({ event, ...data }) : text);
  }

  warn(message: string): void {
    writeAbove(process.stderr, `warning: ${message}\n`);
  }

  progress({ status, stage }: Progress): void {
    this.announce(status);
    // A step between two stages (starting, or recording its metrics) says nothing new: keep the last bar.
    if (status.currentStep !== undefined && stage === undefined) return;
    if (!this.options.json) {
      this.line.update(progressLine(status, stage), true);
      return;
    }
    this.line.print(
      JSON.stringify({
        event: 'progress',
        runId: status.runId,
        phase: status.phase,
        step: status.currentStep,
        stage,
        nextStep: status.nextStep,
        totalSteps: status.totalSteps,
      }),
    );
  }

  finished(status: RunStatus, metrics: Awaited<ReturnType<typeof stepMetrics>>): void {
    this.announce(status);
    this.line.stop();
    const summary = fields([
      ['run', `${status.runId}: ${status.phase}`],
      ['steps', `${status.nextStep}/${status.totalSteps}`],
      ['policy', status.policy?.statePath],
    ]);
    this.event('finished', { status }, `${summary}\n\n${renderMetrics(metrics)}`);
  }

  stop(): void {
    this.line.stop();
  }

  /** Lines that stay: each finished step, each failure (the run closes before the last step is polled). */
  private announce(status: RunStatus): void {
    const { lastStep, lastError } = status;
    if (lastStep && lastStep.step !== this.lastStepShown) {
      this.lastStepShown = lastStep.step;
      this.event('step', { runId: status.runId, ...lastStep }, stepDoneLine(lastStep, status.totalSteps));
    }
    if (lastError && lastError.message !== this.lastErrorShown) {
      this.lastErrorShown = lastError.message;
      this.event(
        'step-failed',
        { runId: status.runId, ...lastError },
        `${failedAt(lastError)} failed after its retries: ${lastError.message}\n` +
          `the run is paused; fix the cause, then: mel resume ${status.runId}`,
      );
    }
  }
}
