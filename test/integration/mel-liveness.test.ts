/**
 * A hung call costs its activity one attempt, well within the heartbeat timeout, and the retry completes the step:
 * the engine double never answers one `asample` (the rollout) nor the first `forward_backward` (the GRPO datums,
 * sent ahead of the policy update by `accumulateGrpoGradients`), and MongoDB never answers validate's first verdict write (a fault proxy in front of it). The workers'
 * stall bound is 8 s here (MEL_STALL_TIMEOUT_S, 120 s by default).
 */
import { describe, expect, it } from 'vitest';
import { STALLED } from '../../activities/attempt.js';
import { COLLECTIONS } from '../../store/mongo.js';
import { activityAttempts } from '../../temporal/history.js';
import { shortRunConfig, trainAndCheck } from './mel-support.js';
import { doubleOptimizerSteps, useClientAndWorkers, useEngineDouble, useMongoFaults } from './support.js';

/** The activities' heartbeat timeout (workflows/activity-options.ts). */
const HEARTBEAT_TIMEOUT_MS = 30_000;
const liveness = { stallTimeoutMs: 8_000, heartbeatEveryMs: 500 };

describe('liveness: a hung engine or MongoDB call', () => {
  const engine = useEngineDouble({
    faults: [
      { route: 'asample', call: 2, action: { type: 'hang' } },
      { route: 'forward_backward', call: 1, action: { type: 'hang' } },
    ],
  });
  const mongo = useMongoFaults([
    { commands: ['update'], collection: COLLECTIONS.metaExperiences, call: 1, action: 'hang' },
  ]);
  const stack = useClientAndWorkers(() => ({ ...engine.endpoints, mongoUri: mongo.proxy.uri }), { liveness });

  it('fails its attempt as Stalled within the heartbeat timeout, and the retry completes the step', async () => {
    const config = shortRunConfig({ steps: 1 });
    await trainAndCheck(stack, config, doubleOptimizerSteps(engine.double));
    expect(mongo.proxy.fired()).toHaveLength(1);

    const attempts = await activityAttempts(stack.temporal, `${config.runId}/step-0`);
    for (const activity of ['rollout', 'validate', 'accumulateGrpoGradients']) {
      // (A slow machine may stall an attempt more than once.)
      expect(attempts.get(activity)!.attempt, activity).toBeGreaterThanOrEqual(2);
      expect(attempts.get(activity)!.lastFailure, activity).toEqual({
        message: expect.stringMatching(/^no engine or MongoDB call answered/),
        type: STALLED,
      });
      // Failed by the stall bound, long before the server would miss its heartbeats.
      const idleS = Number(/for (\d+) s/.exec(attempts.get(activity)!.lastFailure!.message)![1]);
      expect(idleS * 1000, activity).toBeLessThanOrEqual(
        liveness.stallTimeoutMs + 2 * liveness.heartbeatEveryMs,
      );
      expect(idleS * 1000, activity).toBeLessThan(HEARTBEAT_TIMEOUT_MS);
    }
  });
});
