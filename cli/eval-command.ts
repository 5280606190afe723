/**
 * `mel eval`: Pass@1 (greedy) and Avg@k / Pass@k (k sampled answers) of a run's newest policy, or of a checkpoint a
 * run saved, on a held-out data file, as a workflow (`mel-eval/<evalId>`) that stores every answer in MongoDB.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import type { Command } from 'commander';
import type { Db } from 'mongodb';
import { EvalIdSchema, EvalSettingsSchema, type EvalSettings } from '../mel/index.js';
import { loadProblemsFile } from '../mel/node.js';
import { findEval, findPolicyByStatePath, findRun, latestPolicy } from '../store/queries.js';
import { MelRunId, TASK_QUEUES } from '../temporal/contracts/common.js';
import {
  evalIdentity,
  evalProgressQuery,
  evalWorkflowId,
  type EvalDefinition,
  type EvalProgress,
  type EvalResult,
  type EvalTarget,
} from '../temporal/contracts/eval.js';
import { failureChain } from '../temporal/errors.js';
import { historyUrl } from '../temporal/ui.js';
import { followWorkflow } from '../temporal/client.js';
import { melEvalWorkflow } from '../workflows/index.js';
import { CliError, emit, withContext, type CliContext, type OutputOptions } from './context.js';
import { EVAL_SETS, resolveEvalData } from './eval-sets.js';
import { fields, percent, progressBar, table } from './format.js';
import { linksOf } from './run-state.js';
import { withCliWorkers } from './workers.js';

export interface EvalOptions extends OutputOptions {
  data: string;
  k: number;
  temperature: number;
  maxTokens: number;
  limit?: number;
  seed: number;
  evalId?: string;
  withWorkers?: boolean;
}

/** What `mel eval` prints (with --json, as one object). */
export interface EvalReport extends EvalResult {
  /** True when the eval had completed before this command: its stored result, nothing sampled again. */
  stored: boolean;
  url?: string;
}

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description(
      'Pass@1 (greedy answer) and Avg@k / Pass@k (k sampled answers) of a policy on a held-out data set, ' +
        'run as a workflow; the same eval id again returns the stored result',
    )
    .argument(
      '<run-or-checkpoint>',
      "a run id (its newest policy) or a policy's saved training state (tinker://<model>/weights/<name>)",
    )
    .requiredOption(
      '--data <set|file>',
      `held-out problems: a shipped set (${EVAL_SETS.map((set) => set.name).join(', ')}) or a .jsonl, .ndjson ` +
        'or .parquet file, read as for training',
    )
    .option('--k <n>', 'sampled answers per problem (Avg@k, Pass@k)', Number, 4)
    .option('--temperature <t>', 'temperature of the sampled answers (the greedy one uses 0)', Number, 1)
    .option('--max-tokens <n>', 'token limit of every answer', Number, 96)
    .option('--limit <n>', 'only the first N problems of the file', Number)
    .option('--seed <n>', 'the seed every sampling seed derives from (with problem and sample)', Number, 0)
    .option(
      '--eval-id <id>',
      'id of the eval (default: derived from policy, data and settings, so the same command returns ' +
        'the stored result)',
    )
    .option('--with-workers', 'run the workers in this process (else `npm run worker` must run)')
    .option('--json', 'print JSON')
    .action(
      withContext(async (context, target: string, options: EvalOptions) =>
        emit(options, await evaluate(context, target, options), renderEval),
      ),
    );
}

/** Runs (or finds) the eval of `targetArg` as `mel eval` does, with its progress output; returns what it prints. */
export async function evaluate(
  context: CliContext,
  targetArg: string,
  options: EvalOptions,
): Promise<EvalReport> {
  const settings = parseSettings(options);
  const { path: dataPath } = resolveEvalData(options.data);
  const file = await loadProblemsFile(dataPath).catch((error: unknown) => {
    throw new CliError(`cannot use data file ${options.data}: ${(error as Error).message}`);
  });
  if (file.problems.length === 0) throw new CliError(`data file ${options.data} has no problems`);

  const db = await context.db();
  const definition: EvalDefinition = {
    target: await resolveTarget(db, targetArg),
    data: { path: dataPath, sha256: file.sha256 },
    settings,
  };
  const evalId = options.evalId ?? defaultEvalId(definition);
  if (options.evalId !== undefined) {
    const parsed = EvalIdSchema.safeParse(evalId);
    if (!parsed.success) throw new CliError(`--eval-id ${evalId}: ${parsed.error.issues[0]?.message}`);
  }
  const existing = await findEval(db, evalId);
  if (existing && !isDeepStrictEqual(evalIdentity(existing.definition), evalIdentity(definition))) {
    throw new CliError(
      `eval ${evalId} already exists with another policy, data file or settings; ` +
        'choose another --eval-id (or leave it out)',
    );
  }

  const workflowId = evalWorkflowId(evalId);
  const progress = new ProgressOutput(options);
  return withCliWorkers(context, { withWorkers: options.withWorkers, command: 'eval' }, async () => {
    const client = await context.client();
    const handle = await client.workflow.start(melEvalWorkflow, {
      taskQueue: TASK_QUEUES.cpu,
      workflowId,
      workflowIdConflictPolicy: 'USE_EXISTING',
      args: [{ evalId, ...definition }],
      typedSearchAttributes: [{ key: MelRunId, value: definition.target.runId }],
    });
    progress.line(`eval ${evalId} (workflow ${workflowId}): ${describeTarget(definition.target)}`);
    const result = await followWorkflow(
      handle.result(),
      () => handle.query(evalProgressQuery),
      (p) => `${p.phase}/${p.problemsSampled}/${p.problemsScored}`,
      (p) => progress.update(p),
    ).catch((error: unknown) => {
      if (!(error instanceof WorkflowFailedError)) throw error;
      throw new CliError(`eval ${evalId} failed: ${failureChain(error)}`);
    });
    progress.done();
    return {
      ...result,
      stored: result.workflowRunId !== handle.firstExecutionRunId,
      url: historyUrl(linksOf(context), { workflowId, workflowRunId: result.workflowRunId }),
    };
  });
}

function parseSettings(options: EvalOptions): EvalSettings {
  const parsed = EvalSettingsSchema.safeParse({
    k: options.k,
    temperature: options.temperature,
    maxTokens: options.maxTokens,
    limit: options.limit ?? null,
    seed: options.seed,
  });
  if (parsed.success) return parsed.data;
  const flag = (key: PropertyKey | undefined) =>
    `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  throw new CliError(
    parsed.error.issues.map((issue) => `${flag(issue.path[0])}: ${issue.message}`).join('\n'),
  );
}

const CHECKPOINT = /^[a-z][a-z0-9+.-]*:\/\//i;

/** A run id: its newest policy. A checkpoint path: the policy some run saved there. */
async function resolveTarget(db: Db, target: string): Promise<EvalTarget> {
  if (CHECKPOINT.test(target)) {
    const recorded = await findPolicyByStatePath(db, target);
    if (!recorded) {
      throw new CliError(
        `checkpoint ${target} is not a policy any run recorded (the training state of a step's update or of ` +
          "a run's start, like the `policy:` line of `mel train`)",
      );
    }
    return { kind: 'checkpoint', ...recorded };
  }
  const run = await findRun(db, target);
  if (!run) throw new CliError(`no run named ${target}: see \`mel runs\` (or give a checkpoint, tinker://…)`);
  const latest = await latestPolicy(db, run);
  if (!latest) throw new CliError(`run ${target} has no policy yet: it has not started`);
  return { kind: 'run', ...latest };
}

/** `<run>-eval-<hash of policy, data and settings>`: the same command finds the same eval. */
function defaultEvalId(definition: EvalDefinition): string {
  const hash = createHash('sha256')
    .update(JSON.stringify(evalIdentity(definition)))
    .digest('hex');
  return `${definition.target.runId.slice(0, 60)}-eval-${hash.slice(0, 12)}`;
}

function describeTarget(target: Pick<EvalTarget, 'runId' | 'step'>): string {
  return target.step === null
    ? `initial policy of run ${target.runId}`
    : `policy of run ${target.runId} after step ${target.step}`;
}

/** The progress bar while the eval runs: redrawn on a terminal, one line per change elsewhere, none with --json. */
class ProgressOutput {
  private readonly live = process.stdout.isTTY;
  private barShown = false;

  constructor(private readonly options: OutputOptions) {}

  line(text: string): void {
    if (this.options.json) return;
    this.done();
    process.stdout.write(`${text}\n`);
  }

  update(progress: EvalProgress): void {
    if (this.options.json) return;
    const text = evalProgressLine(progress);
    if (!this.live) return this.line(text);
    process.stdout.write(`\r\x1b[K${text}`);
    this.barShown = true;
  }

  done(): void {
    if (!this.barShown) return;
    process.stdout.write('\r\x1b[K');
    this.barShown = false;
  }
}

export function evalProgressLine(progress: EvalProgress): string {
  const { phase, problems, problemsSampled, problemsScored } = progress;
  const fraction =
    phase === 'completed' ? 1 : problems ? (problemsSampled + problemsScored) / (2 * problems + 1) : 0;
  const counts = problems
    ? `: ${problemsSampled}/${problems} problems sampled, ${problemsScored} scored`
    : '';
  return `${progressBar(fraction)}  ${phase}${counts}`;
}

export function renderEval(report: EvalReport): string {
  const { metrics, settings, target, data } = report;
  const summary = fields([
    ['eval', `${report.evalId}${report.stored ? ' (stored result: it had completed before)' : ''}`],
    ['workflow', report.workflowId],
    ['policy', `${target.statePath} (${describeTarget(target)})`],
    ['data', `${data.path} (sha256 ${data.sha256.slice(0, 12)}), ${metrics.problems} problems`],
    [
      'sampling',
      `1 greedy + ${settings.k} at temperature ${settings.temperature}, max ${settings.maxTokens} tokens, ` +
        `seed ${settings.seed}; ${report.truncated} answer(s) hit the limit`,
    ],
    ['temporal ui', report.url],
  ]);
  const k = metrics.k;
  const body = table(
    ['PASS@1', `AVG@${k}`, `PASS@${k}`, 'PROBLEMS', 'SAMPLES'],
    [
      [
        percent(metrics.pass1),
        percent(metrics.avgK),
        percent(metrics.passK),
        String(metrics.problems),
        String(metrics.greedySamples + metrics.sampledSamples),
      ],
    ],
  );
  return `${summary}\n\n${body}`;
}
