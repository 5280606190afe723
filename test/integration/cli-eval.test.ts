/**
 * `mel eval` as a user runs it (child processes), on the policy of a one-step run trained in the test: the metrics
 * are those of the answers stored in MongoDB, starting the same eval again returns the stored result without
 * recording anything new, and bad data is refused with its file:line, by the CLI and by the activity itself.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvalReport } from '../../cli/eval-command.js';
import { generateBuiltinDataset } from '../../mel/index.js';
import type { EvalDoc, EvalProblemDoc, EvalSampleDoc, StepDoc } from '../../store/documents.js';
import { COLLECTIONS, connectMongo, type MongoHandle } from '../../store/mongo.js';
import { TASK_QUEUES } from '../../temporal/contracts/common.js';
import { evalWorkflowId } from '../../temporal/contracts/eval.js';
import { melEvalWorkflow } from '../../workflows/index.js';
import { mel, melJson, writeConfigFile } from './cli-support.js';
import { shortRunConfig } from './mel-support.js';
import { client as connectTemporal, endpoints, startWorkers, uniqueId } from './support.js';
import { decodeLogprobs, decodeTokens } from '../../store/token-codec.js';

const K = 3;
const PROBLEMS = 5;

describe('mel eval on the policy of a real run', () => {
  const config = shortRunConfig({ steps: 1, batchSize: 2, groupSize: 2 });
  const { runId } = config;
  const evalArgs = (data: string) => ['eval', runId, '--data', data, '--k', String(K), '--max-tokens', '64'];
  let dir: string;
  let data: string;
  let mongo: MongoHandle;
  let first: EvalReport;

  const samplesOf = (evalId: string) =>
    mongo.db.collection<EvalSampleDoc>(COLLECTIONS.evalSamples).find({ evalId }).sort({ _id: 1 }).toArray();

  beforeAll(async () => {
    const configFile = await writeConfigFile(config);
    dir = path.dirname(configFile);
    // Built-in problems past the first 60: generated like the run's (and the warm start's), trained on by neither.
    data = path.join(dir, 'held-out.jsonl');
    const heldOut = generateBuiltinDataset({ seed: 0, count: 60 + PROBLEMS }).slice(60);
    await writeFile(
      data,
      heldOut.map(({ id, question, answer }) => JSON.stringify({ id, question, answer })).join('\n'),
    );
    mongo = await connectMongo(endpoints);
    const trained = await mel(['train', configFile, '--with-workers']);
    expect(trained.code, trained.stderr).toBe(0);
  });

  afterAll(async () => {
    await mongo?.close();
  });

  it('evaluates the newest policy of a run; its metrics are those of the answers stored in MongoDB', async () => {
    first = await melJson<EvalReport>([...evalArgs(data), '--with-workers']);
    const step = await mongo.db.collection<StepDoc>(COLLECTIONS.steps).findOne({ runId, step: 0 });
    expect(first.target).toEqual({
      kind: 'run',
      runId,
      step: 0,
      statePath: step!.update!.policyAfter.statePath,
    });
    expect(first.stored).toBe(false);
    expect(first.workflowId).toBe(evalWorkflowId(first.evalId));
    expect(first.settings).toEqual({ k: K, temperature: 1, maxTokens: 64, limit: null, seed: 0 });

    const samples = await samplesOf(first.evalId);
    const greedy = samples.filter((s) => s.kind === 'greedy');
    const sampled = samples.filter((s) => s.kind === 'sampled');
    expect(greedy).toHaveLength(PROBLEMS);
    expect(new Set(greedy.map((s) => s.problemIndex)).size).toBe(PROBLEMS);
    expect(sampled).toHaveLength(PROBLEMS * K);
    for (const sample of samples) {
      expect(sample.verification, sample._id).toBeDefined();
      expect(sample.temperature).toBe(sample.kind === 'greedy' ? 0 : 1);
      const tokens = decodeTokens(sample.tokens, sample._id);
      expect(tokens.length).toBeLessThanOrEqual(64);
      expect(decodeLogprobs(sample.logprobs, sample._id)).toHaveLength(tokens.length);
    }
    expect(new Set(samples.map((s) => s.seed)).size).toBe(samples.length);

    // Recomputed from the records: with n = k samples, Pass@k is the fraction of problems with any correct one.
    const correct = (s: EvalSampleDoc) => s.verification!.correct;
    const anyCorrect = new Set(sampled.filter(correct).map((s) => s.problemIndex));
    expect(first.metrics).toEqual({
      k: K,
      problems: PROBLEMS,
      greedySamples: PROBLEMS,
      sampledSamples: PROBLEMS * K,
      pass1: greedy.filter(correct).length / PROBLEMS,
      avgK: sampled.filter(correct).length / (PROBLEMS * K),
      passK: anyCorrect.size / PROBLEMS,
    });
    expect(first.metrics.passK).toBeGreaterThanOrEqual(first.metrics.avgK);
    expect(first.truncated).toBe(samples.filter((s) => s.stopReason === 'length').length);

    const doc = await mongo.db.collection<EvalDoc>(COLLECTIONS.evals).findOne({ _id: first.evalId });
    expect(doc).toMatchObject({ status: 'completed', problems: PROBLEMS, workflowId: first.workflowId });
    expect({ ...doc!.result, stored: false, url: first.url }).toEqual(first);
  });

  it('the same eval again returns the stored result and records nothing new', async () => {
    const before = await samplesOf(first.evalId);
    const again = await melJson<EvalReport>([...evalArgs(data), '--eval-id', first.evalId, '--with-workers']);
    expect(again.stored).toBe(true);
    expect({ ...again, stored: false }).toEqual(first);
    expect(await samplesOf(first.evalId)).toEqual(before);
    const problems = mongo.db.collection<EvalProblemDoc>(COLLECTIONS.evalProblems);
    expect(await problems.countDocuments({ evalId: first.evalId })).toBe(PROBLEMS);

    // The same policy named by its checkpoint path is the same eval; other settings under this id are refused.
    const byCheckpoint = await melJson<EvalReport>([
      'eval',
      first.target.statePath,
      '--data',
      data,
      '--k',
      String(K),
      '--max-tokens',
      '64',
      '--with-workers',
    ]);
    expect(byCheckpoint).toMatchObject({ evalId: first.evalId, stored: true, metrics: first.metrics });
    const other = await mel([...evalArgs(data), '--k', '2', '--eval-id', first.evalId]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(
      `eval ${first.evalId} already exists with another policy, data file or settings`,
    );
    expect(await samplesOf(first.evalId)).toEqual(before);
  });

  it('a bad data file, an unknown run or checkpoint, or a bad option fails with a clear message', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    await writeFile(
      bad,
      '{"id": "a", "question": "1 + 1?", "answer": "2"}\n{"id": "b", "question": "2 + 2?"}\n',
    );
    const refused = await mel(evalArgs(bad));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `${bad}:2: field "answer|ground_truth|reward_model.ground_truth|reward_spec.ground_truth|solution": ` +
        'missing answer (looked for answer, ground_truth, reward_model.ground_truth, reward_spec.ground_truth, ' +
        'solution; the row has id, question;',
    );

    const missing = await mel(['eval', `${runId}-nope`, '--data', data]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no run named ${runId}-nope`);
    const checkpoint = await mel(['eval', 'tinker://nope/weights/nope', '--data', data]);
    expect(checkpoint.code).toBe(1);
    expect(checkpoint.stderr).toContain('is not a policy any run recorded');
    const zero = await mel([...evalArgs(data), '--k', '0']);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toMatch(/--k: .*>=1/);
  });

  it('the activity itself refuses bad data with a non-retryable failure naming file:line', async () => {
    const bad = path.join(dir, 'bad-for-worker.jsonl');
    await writeFile(bad, '{"id": "a", "question": "1 + 1?", "answer": "2"}\nnot json\n');
    const step = await mongo.db.collection<StepDoc>(COLLECTIONS.steps).findOne({ runId, step: 0 });
    const workers = await startWorkers(['cpu']);
    let temporal: Client | undefined;
    try {
      temporal = await connectTemporal();
      const evalId = uniqueId('eval-bad');
      const failure = await temporal.workflow
        .execute(melEvalWorkflow, {
          taskQueue: TASK_QUEUES.cpu,
          workflowId: evalWorkflowId(evalId),
          args: [
            {
              evalId,
              target: {
                kind: 'run',
                runId,
                step: 0,
                policy: step!.update!.policyAfter,
              },
              data: { path: bad, sha256: 'not checked: the file is refused first' },
              settings: first.settings,
            },
          ],
        })
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const activity = (failure as WorkflowFailedError).cause;
      expect(activity).toBeInstanceOf(ActivityFailure);
      const cause = (activity as ActivityFailure).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
      expect(cause!.message).toContain(`${bad}:2: invalid JSON`);
      expect((activity as ActivityFailure).retryState).toBe('NON_RETRYABLE_FAILURE');
      expect(await mongo.db.collection<EvalDoc>(COLLECTIONS.evals).findOne({ _id: evalId })).toBeNull();
    } finally {
      await temporal?.connection.close();
      await workers.stop();
    }
  });

  it('has --help', async () => {
    const help = await mel(['eval', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: mel eval');
    for (const option of ['--data', '--k', '--temperature', '--max-tokens', '--limit', '--eval-id', '--json'])
      expect(help.stdout).toContain(option);
  });
});
