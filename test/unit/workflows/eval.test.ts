/**
 * The eval workflow's split of its problems, with plain-object activities: chunks cover every problem once, their
 * number stays capped whatever the data set, at most `chunksInFlight` sample at once, and a split it cannot make
 * fails the eval for good.
 */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CHUNKS_PER_STAGE } from '../../../mel/fan-out.js';
import { TASK_QUEUES } from '../../../temporal/contracts/common.js';
import type { EvalChunk, EvalFanOut, EvalInput, EvalResult } from '../../../temporal/contracts/eval.js';
import type { melEvalWorkflow } from '../../../workflows/eval.js';
import { fakePolicy } from './fake-activities.js';
import { startWorkflowTestEnv, type WorkflowTestEnv } from './support.js';

const problemsOf = new Map<string, number>();
const sampled = new Map<string, EvalChunk[]>();
let inFlight = 0;
let mostInFlight = 0;

const activities = {
  prepareEval: async ({ evalId }: EvalInput) => ({ problems: problemsOf.get(evalId)! }),
  restorePolicy: async () => fakePolicy('eval', 1),
  releasePolicy: async () => undefined,
  sampleEvalChunk: async (chunk: EvalChunk) => {
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 20));
    inFlight--;
    sampled.set(chunk.evalId, [...(sampled.get(chunk.evalId) ?? []), chunk]);
  },
  scoreEvalChunk: async () => undefined,
  finishEval: async ({ evalId }: { evalId: string }) => ({ evalId }) as EvalResult,
};

let testEnv: WorkflowTestEnv;
let client: Client;

beforeAll(async () => {
  testEnv = await startWorkflowTestEnv(activities);
  client = testEnv.client;
}, 120_000);

afterAll(async () => {
  await testEnv?.teardown();
}, 60_000);

function runEval(evalId: string, problems: number, fanOut?: Partial<EvalFanOut>) {
  problemsOf.set(evalId, problems);
  const input: EvalInput = {
    evalId,
    target: { kind: 'run', runId: 'run', step: 0, policy: fakePolicy('run', 1) },
    data: { path: 'problems.jsonl', sha256: 'f'.repeat(64) },
    settings: { k: 1, temperature: 1, maxTokens: 64, limit: null } as EvalInput['settings'],
    ...(fanOut ? { fanOut } : {}),
  };
  return client.workflow.execute<typeof melEvalWorkflow>('melEvalWorkflow', {
    taskQueue: TASK_QUEUES.cpu,
    workflowId: `mel-eval/${evalId}`,
    args: [input],
  });
}

function covered(evalId: string): number[] {
  return (sampled.get(evalId) ?? []).flatMap(({ first, count }) =>
    Array.from({ length: count }, (_, i) => first + i),
  );
}

describe('the eval workflow', () => {
  it('samples its problems in chunks of the configured size, that many at once, each problem once', async () => {
    mostInFlight = 0;
    await runEval('eval-a', 23, { problemsPerChunk: 5, chunksInFlight: 3 });
    expect(
      sampled
        .get('eval-a')!
        .map((c) => c.count)
        .sort(),
    ).toEqual([3, 5, 5, 5, 5]);
    expect(covered('eval-a').sort((a, b) => a - b)).toEqual([...Array(23).keys()]);
    expect(mostInFlight).toBe(3);
  });

  it('keeps the number of chunks capped whatever the data set, with the default split', async () => {
    await runEval('eval-b', 5_000);
    expect(sampled.get('eval-b')).toHaveLength(MAX_CHUNKS_PER_STAGE);
    expect(new Set(covered('eval-b')).size).toBe(5_000);
  }, 60_000);

  it('fails for good, before restoring the policy, when its split is not possible', async () => {
    for (const fanOut of [{ problemsPerChunk: 0 }, { chunksInFlight: 0 }]) {
      const evalId = `eval-bad-${JSON.stringify(fanOut).replace(/\W/g, '')}`;
      const failure = await runEval(evalId, 10, fanOut).catch((error: unknown) => error as Error);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect(((failure as WorkflowFailedError).cause as ApplicationFailure).type).toBe('InvalidInput');
      expect(sampled.get(evalId)).toBeUndefined();
    }
  });
});
