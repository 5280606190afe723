/** `mel replay`: re-run one step as a new workflow from the policy it started from, and compare with the original. */
import { WorkflowFailedError } from '@temporalio/client';
import type { Command } from 'commander';
import type { Db } from 'mongodb';
import { datasetPin } from '../mel/node.js';
import { ids, type RunDoc } from '../store/documents.js';
import { loadStepEvidence, policyAfterStep } from '../store/queries.js';
import { compareSteps, type Comparison, type LossComparison, type ReplayDiff } from '../store/replay-diff.js';
import { melCollections } from '../store/collections.js';
import { MelRunId, TASK_QUEUES, type PolicyRef } from '../temporal/contracts/common.js';
import { failureChain } from '../temporal/errors.js';
import { melReplayStepWorkflow } from '../workflows/index.js';
import {
  CliError,
  emit,
  parseStepOption,
  withContext,
  type CliContext,
  type OutputOptions,
} from './context.js';
import { readRunData } from './data-set.js';
import { decimal, table } from './format.js';
import { withCliWorkers } from './workers.js';

interface ReplayOptions extends OutputOptions {
  step: number;
  withWorkers?: boolean;
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      're-run step N as a new workflow from the policy it started from, with the same seeds, ' +
        'and report what differs from the original (trajectories, rewards, candidates, verdicts, losses)',
    )
    .argument('<run>', 'run id')
    .requiredOption('--step <n>', 'the step to replay (from 0)', parseStepOption)
    .option('--with-workers', 'run the workers in this process (else `npm run worker` must run)')
    .option('--json', 'print JSON')
    .action(withContext(replay));
}

async function replay(context: CliContext, runId: string, options: ReplayOptions): Promise<void> {
  const db = await context.db();
  const run = await context.run(runId);
  const policy = await startingPolicy(db, run, options.step);
  // A run from before data sets were pinned is pinned to what its data set reads now.
  const data = run.data ?? datasetPin(await readRunData(run.config));
  const replayRunId = `${runId.slice(0, 40)}-replay${options.step}-${Date.now().toString(36)}`;
  await withCliWorkers(context, { withWorkers: options.withWorkers, command: 'replay' }, async () => {
    if (!options.json)
      process.stdout.write(`replaying step ${options.step} of ${runId} as run ${replayRunId}...\n`);
    const client = await context.client();
    await client.workflow
      .execute(melReplayStepWorkflow, {
        taskQueue: TASK_QUEUES.cpu,
        workflowId: `mel-replay/${replayRunId}`,
        args: [
          {
            config: { ...run.config, runId: replayRunId },
            data,
            step: options.step,
            policy,
            originalRunId: runId,
          },
        ],
        typedSearchAttributes: [{ key: MelRunId, value: replayRunId }],
      })
      .catch((error: unknown) => {
        if (!(error instanceof WorkflowFailedError)) throw error;
        throw new CliError(`replay ${replayRunId} failed: ${failureChain(error)}`);
      });
  });
  const [original, replayed] = await Promise.all([
    loadStepEvidence(db, runId, options.step),
    loadStepEvidence(db, replayRunId, options.step),
  ]);
  emit(options, compareSteps(original, replayed), renderReplayDiff);
}

/** The policy step N started from: recorded by its update, else the previous step's result or the initial one. */
async function startingPolicy(db: Db, run: RunDoc, step: number): Promise<PolicyRef> {
  const stepDoc = await melCollections(db).steps.findOne({ _id: ids.step(run._id, step) });
  if (!stepDoc?.update) {
    throw new CliError(
      `step ${step} of run ${run._id} has not finished: only finished steps can be replayed`,
    );
  }
  const policy = stepDoc.update.policyBefore ?? (await policyAfterStep(db, run, step - 1));
  if (!policy) throw new CliError(`the policy step ${step} of run ${run._id} started from is not recorded`);
  return policy;
}

export function renderReplayDiff(diff: ReplayDiff): string {
  const row = (name: string, c: Comparison) => [
    name,
    String(c.original),
    String(c.replay),
    `${c.same}`,
    c.differing.length ? c.differing.join(' ') : '-',
  ];
  const loss = (name: string, l: LossComparison) => [
    name,
    decimal(l.original, 6),
    decimal(l.replay, 6),
    l.same ? 'same' : 'differs',
    '-',
  ];
  const body = table(
    ['', 'ORIGINAL', 'REPLAY', 'SAME', 'DIFFERING (ids within the run)'],
    [
      row('prompts (tokens)', diff.prompts),
      row('trajectories (tokens)', diff.trajectories),
      row('rewards', diff.rewards),
      row('pairs', diff.pairs),
      row('candidates (tokens)', diff.candidates),
      row('verdicts', diff.verdicts),
      loss('GRPO loss', diff.grpoLoss),
      loss('NLL loss', diff.nllLoss),
    ],
    120,
  );
  const verdict = diff.identical
    ? 'IDENTICAL: every prompt, trajectory, reward, pair, candidate, verdict and loss matches'
    : diff.prompts.differing.length > 0
      ? 'DIFFERENT: the prompts differ, so the code that renders them changed since the original step ran'
      : 'DIFFERENT: see the rows above';
  return `step ${diff.original.step} of ${diff.original.runId} vs its replay ${diff.replay.runId}\n\n${body}\n\n${verdict}`;
}
