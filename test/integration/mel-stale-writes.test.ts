/**
 * A stale attempt cannot change what its retry wrote. MongoDB (behind a fault proxy) holds summarize's first
 * candidate write and the policy update's record write; each attempt stalls on its held write and is retried, the
 * retry writes its own, and the held writes reach MongoDB only once the run has completed: the verdicts validate
 * set and the update record the run continued from stay as they were. The workers' stall bound is 8 s.
 */
import type { Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { STALLED } from '../../activities/attempt.js';
import type { MetaExperienceDoc, StepDoc } from '../../store/documents.js';
import { COLLECTIONS } from '../../store/mongo.js';
import { activityAttempts } from '../../temporal/history.js';
import { followRun, startRun } from '../../temporal/client.js';
import { expectCompleteRun, shortRunConfig } from './mel-support.js';
import { doubleOptimizerSteps, useClientAndWorkers, useEngineDouble, useMongoFaults } from './support.js';

const liveness = { stallTimeoutMs: 8_000, heartbeatEveryMs: 500 };

/** An update command that sets a step's update record. */
function setsUpdateRecord(command: Document): boolean {
  const updates = (command.updates ?? []) as { u?: { $set?: Document } }[];
  return updates.some((statement) => statement.u?.$set?.update !== undefined);
}

describe('fencing: late writes of stale attempts', () => {
  const engine = useEngineDouble();
  const mongo = useMongoFaults([
    { commands: ['insert', 'update'], collection: COLLECTIONS.metaExperiences, call: 1, action: 'hold' },
    // The first write of the update record (internalize's counts and the attempt's engine model are written to the
    // step document before it).
    { commands: ['update'], collection: COLLECTIONS.steps, where: setsUpdateRecord, call: 1, action: 'hold' },
  ]);
  const stack = useClientAndWorkers(() => ({ ...engine.endpoints, mongoUri: mongo.proxy.uri }), { liveness });

  it('changes no verdict and no update record', async () => {
    const config = shortRunConfig({ steps: 1 });
    const stepId = `${config.runId}/step-0`;
    await startRun(stack.temporal, config);
    const status = await followRun(stack.temporal, config.runId, () => undefined);
    expect(status.phase).toBe('completed');
    expect(mongo.proxy.fired()).toHaveLength(2);
    // Each attempt that held a write stalled on it and was retried (a slow machine may stall one more often).
    const attempts = await activityAttempts(stack.temporal, stepId);
    for (const activity of ['summarize', 'policyUpdate']) {
      expect(attempts.get(activity)!.attempt, activity).toBeGreaterThanOrEqual(2);
      expect(attempts.get(activity)!.lastFailure?.type, activity).toBe(STALLED);
    }
    const { db } = stack.workers.deps.mongo;
    const candidates = db.collection<MetaExperienceDoc>(COLLECTIONS.metaExperiences);
    const steps = db.collection<StepDoc>(COLLECTIONS.steps);
    const candidatesAfterRun = await candidates.find({ runId: config.runId }).sort({ _id: 1 }).toArray();
    const stepAfterRun = await steps.findOne({ _id: stepId });

    await mongo.proxy.release();
    expect(await candidates.find({ runId: config.runId }).sort({ _id: 1 }).toArray()).toEqual(
      candidatesAfterRun,
    );
    const step = await steps.findOne({ _id: stepId });
    expect(step!.update).toEqual(stepAfterRun!.update);
    expect(step!.update!.policyAfter).toEqual(status.policy);
    await expectCompleteRun(db, config, status.policy!, doubleOptimizerSteps(engine.double));
  });
});
