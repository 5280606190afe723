/**
 * The verify activity on a step where one rollout is hostile (the truncated division chain that once held a worker's
 * event loop for minutes, its heartbeats stopped, the run hung): the activity completes, scores that rollout 0 with
 * the reason recorded, and an activity running beside it in the same process keeps heartbeating on time.
 * MongoDB is replaced by the few in-memory operations the activity uses (in-memory-db.ts).
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, expect, it } from 'vitest';
import { createRolloutActivities } from '../../../activities/rollout.js';
import { runAttempt } from '../../../activities/attempt.js';
import { parseRunConfig } from '../../../mel/run-config.js';
import { VerifierPool } from '../../../mel/verifier-pool.js';
import type { RewardDoc } from '../../../store/documents.js';
import { COLLECTIONS } from '../../../store/mongo.js';
import { TRUNCATED_DIVISION_CHAIN } from '../mel/adversarial-corpus.js';
import { inMemoryDb, type Doc } from './in-memory-db.js';

const runId = 'hostile-rollout';
const config = parseRunConfig({
  runId,
  steps: 1,
  batchSize: 1,
  groupSize: 4,
  mel: { verifier: { comparisonDeadlineMs: 500 } },
});
const problem = { id: 'p0', question: 'What is 1 + 1?', answer: '2' };
const ROLLOUTS = ['so \\boxed{2}', 'The answer is 3.', TRUNCATED_DIVISION_CHAIN, '\\boxed{\\frac{4}{2}}'];
const HEARTBEAT_EVERY_MS = 50;

function stepWithOneHostileRollout(): Record<string, Doc[]> {
  const promptId = `${runId}/step-0/p0`;
  return {
    [COLLECTIONS.runs]: [{ _id: runId, config, baseModel: 'base', createdAt: new Date(), workflowId: runId }],
    [COLLECTIONS.prompts]: [{ _id: promptId, runId, step: 0, promptIndex: 0, problem }],
    [COLLECTIONS.trajectories]: ROLLOUTS.map((text, sampleIndex) => ({
      _id: `${promptId}/s${sampleIndex}`,
      runId,
      step: 0,
      promptId,
      sampleIndex,
      text,
    })),
  };
}

const pool = new VerifierPool({ threads: 1 });
afterAll(() => pool.close());

// A genuinely blocked event loop is late on every try; a busy shared machine rarely makes a heartbeat late thrice.
it(
  'completes, scores the hostile rollout 0 as verifier-timeout, while a neighbour keeps heartbeating',
  { retry: 2 },
  async () => {
    const contents = stepWithOneHostileRollout();
    const deps = { db: inMemoryDb(contents), compareSymbolically: pool.compare, baseModel: 'base' };
    const { verify } = createRolloutActivities(
      deps as unknown as Parameters<typeof createRolloutActivities>[0],
    );

    const verifying = new MockActivityEnvironment().run(verify, { runId, step: 0 });
    const neighbour = new MockActivityEnvironment();
    const beats: number[] = [];
    neighbour.on('heartbeat', () => beats.push(performance.now()));
    const beatsWithoutProgress = { stallTimeoutMs: 60_000, heartbeatEveryMs: HEARTBEAT_EVERY_MS };
    await neighbour.run(() => runAttempt(beatsWithoutProgress, () => verifying));

    expect(await verifying).toEqual({ passRate: 0.5, mixedGroups: 1, rollouts: 4, correct: 2 });
    const rewards = contents[COLLECTIONS.rewards] as unknown as RewardDoc[];
    expect(rewards.map(({ reward, reason }) => [reward, reason])).toEqual([
      [1, 'equivalent'],
      [0, 'not-equivalent'],
      [0, 'verifier-timeout'],
      [1, 'equivalent'],
    ]);
    // The hostile comparison ran for its whole 500 ms deadline, and the neighbour's heartbeats kept their pace.
    expect(beats.length).toBeGreaterThanOrEqual(500 / HEARTBEAT_EVERY_MS / 2);
    const gaps = beats.slice(1).map((beat, i) => beat - beats[i]!);
    expect(Math.max(...gaps)).toBeLessThan(HEARTBEAT_EVERY_MS + 100);
  },
);
