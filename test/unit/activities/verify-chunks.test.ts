/**
 * verify on a chunk of the step's prompts (the step workflow's fan-out): it scores only those prompts' rollouts and
 * reports only their counts, so that the chunks' summaries combine into the step's. MongoDB is replaced by the few
 * in-memory operations the activity uses (in-memory-db.ts).
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, expect, it } from 'vitest';
import { createRolloutActivities } from '../../../activities/rollout.js';
import { parseRunConfig } from '../../../mel/run-config.js';
import { VerifierPool } from '../../../mel/verifier-pool.js';
import type { RewardDoc } from '../../../store/documents.js';
import { COLLECTIONS } from '../../../store/mongo.js';
import { inMemoryDb, type Doc } from './in-memory-db.js';

const runId = 'verify-chunks';
const config = parseRunConfig({ runId, steps: 1, batchSize: 3, groupSize: 2 });
/** Per prompt, its two rollouts; the answer is always 2. */
const ROLLOUTS = [
  ['\\boxed{2}', '\\boxed{2}'],
  ['\\boxed{2}', '\\boxed{3}'],
  ['\\boxed{5}', '\\boxed{2}'],
];

function step(): Record<string, Doc[]> {
  const promptId = (p: number) => `${runId}/step-0/p${p}`;
  const problem = { id: 'q', question: 'What is 1 + 1?', answer: '2' };
  return {
    [COLLECTIONS.runs]: [{ _id: runId, config, baseModel: 'base', createdAt: new Date(), workflowId: runId }],
    [COLLECTIONS.prompts]: ROLLOUTS.map((_, p) => ({
      _id: promptId(p),
      runId,
      step: 0,
      promptIndex: p,
      problem,
    })),
    [COLLECTIONS.trajectories]: ROLLOUTS.flatMap((texts, p) =>
      texts.map((text, sampleIndex) => ({
        _id: `${promptId(p)}/s${sampleIndex}`,
        runId,
        step: 0,
        promptId: promptId(p),
        sampleIndex,
        text,
      })),
    ),
  };
}

const pool = new VerifierPool({ threads: 1 });
afterAll(() => pool.close());

it("scores only the chunk's prompts and reports only their counts", async () => {
  const contents = step();
  const deps = { db: inMemoryDb(contents), compareSymbolically: pool.compare, baseModel: 'base' };
  const { verify } = createRolloutActivities(
    deps as unknown as Parameters<typeof createRolloutActivities>[0],
  );

  const chunk = await new MockActivityEnvironment().run(verify, {
    runId,
    step: 0,
    items: { start: 1, end: 3 },
  });
  expect(chunk).toEqual({ passRate: 0.5, mixedGroups: 2, rollouts: 4, correct: 2 });
  const scored = () => (contents[COLLECTIONS.rewards] as unknown as RewardDoc[]).map((r) => r._id).sort();
  expect(scored()).toEqual([1, 2].flatMap((p) => [0, 1].map((s) => `${runId}/step-0/p${p}/s${s}`)));

  const first = await new MockActivityEnvironment().run(verify, {
    runId,
    step: 0,
    items: { start: 0, end: 1 },
  });
  expect(first).toEqual({ passRate: 1, mixedGroups: 0, rollouts: 2, correct: 2 });
  expect(scored()).toHaveLength(6);
});
