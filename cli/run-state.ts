/**
 * What the CLI knows about runs: the run workflow's own status (query), Temporal's visibility records, and the
 * per-step metrics in MongoDB. Queries need a worker to answer; without one the CLI falls back to what the
 * server and the database know, and says so.
 */
import { queuesWithoutPollers } from '../temporal/client.js';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { findRun, listRunDocs, stepMetrics, type StepMetricsRow } from '../store/queries.js';
import { MelPhase, MelRunId, MelStep } from '../temporal/contracts/common.js';
import { runWorkflowId, type RunStatus, type StageName } from '../temporal/contracts/run.js';
import { historyUrl } from '../temporal/ui.js';
import { currentProgress } from '../temporal/client.js';
import { CliError, type CliContext } from './context.js';
import type { RunMode } from '../mel/run-config.js';

const QUERY_DEADLINE_MS = 5_000;
/** Training runs, and the one-step runs `mel replay` makes. */
const RUN_WORKFLOWS_QUERY = 'WorkflowType = "melRunWorkflow" OR WorkflowType = "melReplayStepWorkflow"';

export interface WorkflowSummary {
  workflowId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED, ... */
  executionStatus: string;
  startTime?: Date;
  closeTime?: Date;
  url?: string;
}

export interface StatusReport {
  runId: string;
  /** 'mel' or the 'grpo' baseline; absent when the run has no document. */
  mode?: RunMode;
  workflow: WorkflowSummary | null;
  /** The run workflow's own status; absent when no worker answered its query. */
  run?: RunStatus;
  stage?: StageName;
  /** The step and phase the run last published as search attributes (known even without a worker). */
  searchAttributes: { step?: number; phase?: string };
  recentMetrics: StepMetricsRow[];
  notes: string[];
}

export async function loadStatus(context: CliContext, runId: string, recentSteps = 5): Promise<StatusReport> {
  const client = await context.client();
  const db = await context.db();
  const [described, metrics, doc] = await Promise.all([
    describeRun(context, client, runId),
    stepMetrics(db, runId),
    findRun(db, runId),
  ]);
  const report: StatusReport = {
    runId,
    ...(doc ? { mode: doc.config.mode } : {}),
    workflow: described?.workflow ?? null,
    searchAttributes: described?.searchAttributes ?? {},
    recentMetrics: metrics.slice(-recentSteps),
    notes: [],
  };
  if (!described) {
    if (!doc) throw new CliError(`no run named ${runId}: see \`mel runs\``);
    report.notes.push(
      `no workflow ${runWorkflowId(runId)} on the server (its history may be past retention)`,
    );
    return report;
  }
  await addRunStatus(client, report);
  return report;
}

async function addRunStatus(client: Client, report: StatusReport): Promise<void> {
  if (report.workflow?.executionStatus === 'COMPLETED') {
    report.run = await client.workflow.getHandle(runWorkflowId(report.runId)).result();
    return;
  }
  try {
    const progress = await client.connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
      currentProgress(client, report.runId),
    );
    report.run = progress.status;
    report.stage = progress.stage;
  } catch (error) {
    report.notes.push(
      `no worker answered the status query (${firstLine(error)}): is \`npm run worker\` running? ` +
        'Showing what the server and the database know.',
    );
  }
}

async function describeRun(context: CliContext, client: Client, runId: string) {
  try {
    const description = await client.workflow.getHandle(runWorkflowId(runId)).describe();
    return {
      workflow: {
        workflowId: description.workflowId,
        executionStatus: description.status.name,
        startTime: description.startTime,
        closeTime: description.closeTime,
        url: historyUrl(linksOf(context), {
          workflowId: description.workflowId,
          workflowRunId: description.runId,
        }),
      },
      searchAttributes: {
        step: description.typedSearchAttributes.get(MelStep),
        phase: description.typedSearchAttributes.get(MelPhase),
      },
    };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
}

export function linksOf(context: CliContext) {
  return { namespace: context.endpoints.temporalNamespace, uiUrl: context.endpoints.temporalUiUrl };
}

export interface RunListing {
  runId: string;
  executionStatus: string | null;
  phase: string | null;
  step: number | null;
  mode: RunMode | null;
  totalSteps: number | null;
  stepsRecorded: number;
  startTime: Date | null;
  closeTime: Date | null;
}

/** Runs known to Temporal or MongoDB, newest first: one row per run id (its latest execution). */
export async function listRuns(context: CliContext, limit = 50): Promise<RunListing[]> {
  const client = await context.client();
  const [executions, docs] = await Promise.all([
    latestRunExecutions(client, limit),
    context.db().then((db) => listRunDocs(db, limit)),
  ]);
  const docsById = new Map(docs.map((doc) => [doc.runId, doc]));
  const rows: RunListing[] = executions.map((execution) => {
    const doc = docsById.get(execution.runId);
    docsById.delete(execution.runId);
    return {
      ...execution,
      mode: doc?.mode ?? null,
      totalSteps: doc?.totalSteps ?? null,
      stepsRecorded: doc?.stepsRecorded ?? 0,
    };
  });
  // Runs beyond the newest executions listed: looked up one by one, so none is shown as missing its workflow.
  for (const doc of docsById.values()) {
    const [execution] = await latestRunExecutions(client, 1, ` AND MelRunId = "${doc.runId}"`);
    rows.push({
      runId: doc.runId,
      executionStatus: null,
      phase: null,
      step: null,
      startTime: doc.createdAt,
      closeTime: null,
      ...execution,
      mode: doc.mode,
      totalSteps: doc.totalSteps,
      stepsRecorded: doc.stepsRecorded,
    });
  }
  return rows.sort((a, b) => (b.startTime?.getTime() ?? 0) - (a.startTime?.getTime() ?? 0)).slice(0, limit);
}

async function latestRunExecutions(client: Client, limit: number, andQuery = '') {
  const seen = new Map<string, Omit<RunListing, 'mode' | 'totalSteps' | 'stepsRecorded'>>();
  // Newest first; continue-as-new leaves older executions of the same id, which are skipped.
  for await (const execution of client.workflow.list({ query: `(${RUN_WORKFLOWS_QUERY})${andQuery}` })) {
    if (seen.has(execution.workflowId)) continue;
    seen.set(execution.workflowId, {
      runId:
        execution.typedSearchAttributes.get(MelRunId) ??
        execution.workflowId.replace(/^mel-(run|replay)\//, ''),
      executionStatus: execution.status.name,
      phase: execution.typedSearchAttributes.get(MelPhase) ?? null,
      step: execution.typedSearchAttributes.get(MelStep) ?? null,
      startTime: execution.startTime,
      closeTime: execution.closeTime ?? null,
    });
    if (seen.size >= limit) break;
  }
  return [...seen.values()];
}

/** Task queues that no worker has polled recently: work sent there waits until a worker starts. */
export async function queuesWithoutWorkers(context: CliContext): Promise<string[]> {
  return queuesWithoutPollers(await context.client(), context.endpoints.temporalNamespace);
}

export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}
