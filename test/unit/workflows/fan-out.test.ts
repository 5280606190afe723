/**
 * The step workflow's fan-out of its sampling stages, of verify and of the GRPO datums, with fake activities: each
 * stage is split into chunks that cover its items exactly once, the summaries are combined, the number of activities
 * per stage is capped whatever the batch, and so is the step's history; a step without a usable rollout fails.
 */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  combineRewardSummaries,
  describeCounts,
  itemChunks,
  MAX_CHUNKS_PER_STAGE,
  sumCounts,
  type ItemRange,
} from '../../../mel/fan-out.js';
import { TASK_QUEUES } from '../../../temporal/contracts/common.js';
import type { StepFanOut, StepInput, StepResult } from '../../../temporal/contracts/run.js';
import { failureChain } from '../../../temporal/errors.js';
import type { melStepWorkflow } from '../../../workflows/step.js';
import { FakeMel, fakePolicy, stageKey } from './fake-activities.js';
import { eventually, startWorkflowTestEnv, type WorkflowTestEnv } from './support.js';

const fake = new FakeMel();
let testEnv: WorkflowTestEnv;
let client: Client;

beforeAll(async () => {
  testEnv = await startWorkflowTestEnv(fake.activities);
  client = testEnv.client;
}, 120_000);

afterAll(async () => {
  await testEnv?.teardown();
}, 60_000);

async function runStep(runId: string, fanOut: StepFanOut | undefined, mode: StepInput['mode'] = 'mel') {
  const handle = await client.workflow.start<typeof melStepWorkflow>('melStepWorkflow', {
    taskQueue: TASK_QUEUES.cpu,
    workflowId: `${runId}/step-0`,
    args: [{ runId, step: 0, policy: fakePolicy(runId, 0), mode, ...(fanOut ? { fanOut } : {}) }],
  });
  const result: StepResult = await handle.result();
  const history = await handle.fetchHistory();
  return { result, events: history.events?.length ?? 0 };
}

/** The ranges cover [0, total) once, in order. */
function expectCover(ranges: (ItemRange | undefined)[], total: number) {
  const sorted = [...ranges].map((r) => r!).sort((a, b) => a.start - b.start);
  expect(sorted[0]?.start ?? 0).toBe(0);
  sorted.forEach((r, i) => expect(r.start).toBe(i === 0 ? 0 : sorted[i - 1]!.end));
  expect(sorted.at(-1)?.end ?? 0).toBe(total);
}

describe('itemChunks', () => {
  it('splits into chunks of the given size, growing them to stay within the cap', () => {
    expect(itemChunks(10, 4)).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 8, end: 10 },
    ]);
    expect(itemChunks(0, 4)).toEqual([]);
    const capped = itemChunks(10_000, 1);
    expect(capped).toHaveLength(MAX_CHUNKS_PER_STAGE);
    expect(capped.at(-1)!.end).toBe(10_000);
    expect(() => itemChunks(5, 0)).toThrow(/chunks of 0/);
  });

  it('sums counts field by field, nested ones too', () => {
    const parts = [
      { prompts: 2, exclusionReasons: { a: 1 } },
      { prompts: 3, exclusionReasons: { a: 2, b: 1 } },
      { prompts: 1 },
    ];
    expect(sumCounts(parts)).toEqual({ prompts: 6, exclusionReasons: { a: 3, b: 1 } });
    expect(describeCounts({ a: 3, b: 1 })).toBe('a ×3, b ×1');
    expect(describeCounts({})).toBe('nothing excluded');
  });

  it("combines verify's chunk summaries by their counts, not by averaging their rates", () => {
    const chunk = (rollouts: number, correct: number, mixedGroups: number) => ({
      passRate: rollouts ? correct / rollouts : 0,
      rollouts,
      correct,
      mixedGroups,
    });
    expect(combineRewardSummaries([chunk(8, 8, 0), chunk(24, 0, 1), chunk(0, 0, 0)])).toEqual(
      chunk(32, 8, 1),
    );
    expect(combineRewardSummaries([])).toEqual(chunk(0, 0, 0));
  });
});

describe('the sampling stages of a step', () => {
  it('go in chunks that cover every prompt, pair and candidate once, with the summaries summed', async () => {
    fake.pairsPerStep = 37;
    const { result } = await runStep('fan-a', { prompts: 50, promptsPerChunk: 16, generationsPerChunk: 10 });
    const ranges = (stage: 'rollout' | 'verify' | 'summarize' | 'validate') =>
      fake.ranges.get(stageKey('fan-a', 0, stage))!;
    expect(ranges('rollout')).toHaveLength(4);
    expectCover(ranges('rollout'), 50);
    expect(ranges('verify')).toHaveLength(4);
    expectCover(ranges('verify'), 50);
    expect(ranges('summarize')).toHaveLength(4);
    expectCover(ranges('summarize'), 37);
    expectCover(ranges('validate'), 37);
    expect(result.rollout).toEqual({ prompts: 50, trajectories: 200, truncated: 0 });
    expect(result.verify).toEqual({ passRate: 0.25, mixedGroups: 50, rollouts: 200, correct: 50 });
    expect(result.summarize).toEqual({ candidates: 37, parsed: 37, leaking: 0 });
    expect(result.validate.accepted + result.validate.rejected).toBe(37);
  });

  it('keep a 512-prompt step with 8,000 pairs within MAX_CHUNKS_PER_STAGE activities per stage and a bounded history', async () => {
    fake.pairsPerStep = 8_000;
    const { events } = await runStep('fan-b', { prompts: 512, promptsPerChunk: 1, generationsPerChunk: 1 });
    const fannedOut = ['rollout', 'verify', 'internalize', 'summarize', 'validate'] as const;
    for (const stage of fannedOut) {
      // internalize: the chunks' GRPO datums, then one call for the NLL datums.
      const calls = MAX_CHUNKS_PER_STAGE + (stage === 'internalize' ? 1 : 0);
      expect(fake.ranges.get(stageKey('fan-b', 0, stage))).toHaveLength(calls);
    }
    expect(events).toBeLessThanOrEqual(6 * fannedOut.length * MAX_CHUNKS_PER_STAGE + 60);
  });

  it('run no summarize or validate activity for a step without pairs, and report zeros', async () => {
    fake.pairsPerStep = 0;
    const { result } = await runStep('fan-e', { prompts: 4, promptsPerChunk: 2, generationsPerChunk: 2 });
    expect(fake.ranges.get(stageKey('fan-e', 0, 'summarize'))).toBeUndefined();
    expect(result.summarize).toEqual({ candidates: 0, parsed: 0, leaking: 0 });
    expect(result.validate).toEqual({ accepted: 0, rejected: 0 });
    fake.pairsPerStep = 3;
  });

  it('verify each prompt chunk as soon as its rollout ends, while other chunks still sample', async () => {
    const release = fake.holdChunk(stageKey('fan-g', 0, 'rollout'), 2);
    const running = runStep('fan-g', { prompts: 6, promptsPerChunk: 2, generationsPerChunk: 2 });
    try {
      await eventually(
        async () => fake.ranges.get(stageKey('fan-g', 0, 'verify')) ?? [],
        (verified) => verified.length === 2,
      );
      expect(fake.ranges.get(stageKey('fan-g', 0, 'verify'))).toEqual(
        expect.arrayContaining([
          { start: 0, end: 2 },
          { start: 4, end: 6 },
        ]),
      );
      expect(fake.count(stageKey('fan-g', 0, 'contrast'))).toBe(0);
    } finally {
      release();
    }
    const { result } = await running;
    expectCover(fake.ranges.get(stageKey('fan-g', 0, 'verify'))!, 6);
    expect(result.verify).toEqual({ passRate: 0.25, mixedGroups: 6, rollouts: 24, correct: 6 });
  });

  it('fail the step when no chunk gave a usable rollout', async () => {
    fake.usableRollouts = false;
    try {
      await expect(
        runStep('fan-d', { prompts: 20, promptsPerChunk: 8, generationsPerChunk: 8 }),
      ).rejects.toThrow();
      const handle = client.workflow.getHandle('fan-d/step-0');
      const failure = await handle.result().catch((error: unknown) => error as Error);
      expect(failureChain(failure)).toMatch(/no rollout of step 0 is usable \(engine-rejected ×20\)/);
    } finally {
      fake.usableRollouts = true;
    }
  });

  it('fail the step for good, instead of retrying its workflow task, when its fanOut cannot split a stage', async () => {
    const started = Date.now();
    const failure = await runStep('fan-f', { prompts: 20, promptsPerChunk: 0, generationsPerChunk: 8 }).catch(
      (error: unknown) => error as Error,
    );
    expect(failureChain(failure)).toMatch(/cannot fan out the stage: chunks of 0 items/);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(((failure as WorkflowFailedError).cause as ApplicationFailure).type).toBe('InvalidInput');
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(fake.ranges.get(stageKey('fan-f', 0, 'rollout'))).toBeUndefined();
  });

  it('run one activity per stage for a step started without fanOut (as before the fan-out)', async () => {
    fake.pairsPerStep = 3;
    await runStep('fan-c', undefined);
    expect(fake.ranges.get(stageKey('fan-c', 0, 'rollout'))).toEqual([undefined]);
    expect(fake.ranges.get(stageKey('fan-c', 0, 'verify'))).toEqual([undefined]);
    expect(fake.ranges.get(stageKey('fan-c', 0, 'validate'))).toEqual([undefined]);
  });
});

describe('the datums of a step', () => {
  const calls = (runId: string) => fake.internalized.filter((call) => call.runId === runId);

  it('are built for GRPO a prompt chunk at a time as each is verified, while other chunks still sample', async () => {
    const release = fake.holdChunk(stageKey('over-b', 0, 'rollout'), 2);
    const running = runStep('over-b', { prompts: 6, promptsPerChunk: 2, generationsPerChunk: 2 }, 'grpo');
    try {
      await eventually(
        async () => calls('over-b'),
        (built) => built.length === 2,
      );
      expect(calls('over-b')).toEqual(
        expect.arrayContaining([
          { runId: 'over-b', step: 0, datums: 'grpo', items: { start: 0, end: 2 } },
          { runId: 'over-b', step: 0, datums: 'grpo', items: { start: 4, end: 6 } },
        ]),
      );
    } finally {
      release();
    }
    const { result } = await running;
    expectCover(
      calls('over-b').map((call) => call.items),
      6,
    );
    expect(calls('over-b').every((call) => call.datums === 'grpo')).toBe(true);
    expect(result.internalize).toEqual({ grpoDatums: 12, nllDatums: 0 });
  });

  it('are built for GRPO before the reflection stages end, and for NLL after validate', async () => {
    const release = fake.hold(stageKey('over-a', 0, 'contrast'));
    const running = runStep('over-a', { prompts: 4, promptsPerChunk: 2, generationsPerChunk: 2 });
    try {
      await fake.called(stageKey('over-a', 0, 'contrast'));
      await eventually(
        async () => calls('over-a'),
        (built) => built.length === 2,
      );
      expect(calls('over-a').map((call) => call.datums)).toEqual(['grpo', 'grpo']);
    } finally {
      release();
    }
    const { result } = await running;
    expect(calls('over-a').map((call) => call.datums)).toEqual(['grpo', 'grpo', 'nll']);
    expect(calls('over-a').at(-1)).toEqual({ runId: 'over-a', step: 0, datums: 'nll' });
    expect(result.internalize).toEqual({ grpoDatums: 8, nllDatums: 2 });
  });
});

describe("the GRPO datums' gradients", () => {
  const keys = (runId: string) => ({
    gradients: stageKey(runId, 0, 'grpo-gradients'),
    update: stageKey(runId, 0, 'policy-update'),
    summarize: stageKey(runId, 0, 'summarize'),
  });
  const fanOut = { prompts: 4, promptsPerChunk: 2, generationsPerChunk: 2 };

  it('are sent once every GRPO datum is built, while the reflection stages sample', async () => {
    const { gradients, summarize, update } = keys('grad-a');
    const release = fake.hold(summarize);
    const running = runStep('grad-a', fanOut);
    try {
      await fake.called(gradients);
      expect(fake.internalized.filter((call) => call.runId === 'grad-a')).toHaveLength(2);
      expect(fake.calls).not.toContain(update);
    } finally {
      release();
    }
    await running;
    expect(fake.count(gradients)).toBe(1);
    expect(fake.calls.indexOf(gradients)).toBeLessThan(fake.calls.indexOf(update));
  });

  it("wait for contrast, whose pairs bound the step's NLL datums", async () => {
    const { gradients } = keys('grad-e');
    const contrast = stageKey('grad-e', 0, 'contrast');
    const release = fake.hold(contrast);
    const running = runStep('grad-e', fanOut);
    try {
      await fake.called(contrast);
      await eventually(
        async () => fake.internalized.filter((call) => call.runId === 'grad-e' && call.datums === 'grpo'),
        (grpo) => grpo.length === 2,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(fake.calls).not.toContain(gradients);
    } finally {
      release();
    }
    await running;
    expect(fake.nllBounds.get('grad-e')).toEqual([fake.pairsPerStep]);
  });

  it('are waited for by the policy update', async () => {
    const { gradients, update } = keys('grad-b');
    const release = fake.hold(gradients);
    const running = runStep('grad-b', fanOut);
    try {
      await fake.called(stageKey('grad-b', 0, 'internalize'));
      await eventually(
        async () => fake.internalized.filter((call) => call.runId === 'grad-b' && call.datums === 'nll'),
        (nll) => nll.length === 1,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(fake.calls).not.toContain(update);
    } finally {
      release();
    }
    await running;
    expect(fake.count(update)).toBe(1);
  });

  it('failing to be sent leaves the whole update to the policy update, which still runs', async () => {
    const { gradients, update } = keys('grad-c');
    fake.fail(gradients, () => ApplicationFailure.nonRetryable('engine refused', 'Refused'));
    const { result } = await runStep('grad-c', fanOut);
    expect(fake.count(gradients)).toBe(1);
    expect(fake.count(update)).toBe(1);
    expect(result.update.grpoLoss).not.toBeNull();
  });

  it('are left to the policy update in a GRPO step, which has no reflection to overlap', async () => {
    const { gradients, update } = keys('grad-d');
    await runStep('grad-d', fanOut, 'grpo');
    expect(fake.count(gradients)).toBe(0);
    expect(fake.count(update)).toBe(1);
  });
});
