/**
 * The leakage gate end to end on the engine double: some of its reflections box the answer in their success
 * analysis (`pStatesAnswer`, written as \frac{a}{b} where the truth is a/b), and every replay is right. Without the
 * gate those would be "replay-verified" and trained on; with it they are rejected as `states-answer` before any
 * replay is sampled, counted as rejected in the step's metrics, and `mel audit` says why.
 */
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../store/audit.js';
import type { MetaExperienceDoc } from '../../store/documents.js';
import { mel, melJson } from './cli-support.js';
import { shortRunConfig, trainAndCheck } from './mel-support.js';
import { doubleOptimizerSteps, useClientAndWorkers, useEngineDouble } from './support.js';

const statesAnswer = (candidate: MetaExperienceDoc) =>
  candidate.generation.turns.some((turn) => turn.text.includes('\\boxed{'));

describe('MEL leakage gate on the engine double', () => {
  const engine = useEngineDouble({
    seed: 3,
    pCorrect: 0.5,
    pUnparseable: 0,
    pTruncated: 0,
    pReplayCorrect: 1,
    pStatesAnswer: 0.5,
  });
  const stack = useClientAndWorkers(() => engine.endpoints);

  it('rejects a meta-experience that states the answer before its replay, with the reason in mel audit', async () => {
    const base = shortRunConfig({ steps: 1 });
    // Room for the sentence that states the answer: a truncated reflection would be rejected as unparseable.
    const reflection = { ...base.sampling.reflection, maxTokens: 512 };
    const config = { ...base, sampling: { ...base.sampling, reflection } };
    const { candidates, stepDocs } = await trainAndCheck(stack, config, doubleOptimizerSteps(engine.double));
    const stating = candidates.filter(statesAnswer);
    expect(stating.length).toBeGreaterThan(0);
    expect(stating.length).toBeLessThan(candidates.length);
    for (const candidate of stating) {
      expect(candidate.verdict).toMatchObject({ accepted: false, reason: 'states-answer' });
      expect(candidate.validation).toBeUndefined();
    }
    // Every other candidate was replayed, and the double's replays are all right.
    for (const candidate of candidates.filter((c) => !statesAnswer(c))) {
      expect(candidate.verdict!.reason).toBe('replay-verified');
    }
    expect(stepDocs[0]!.metrics!.rejected).toBe(stating.length);

    const audit = await melJson<AuditRecord>(['audit', stating[0]!._id]);
    expect(audit.decision).toMatchObject({ accepted: false, reason: 'states-answer' });
    expect(audit.decision!.detail).toContain(`states the answer ${audit.question!.groundTruth}`);
    expect(audit.leakage!.answerStatements!.length).toBeGreaterThan(0);
    expect(audit.leakage!.rejected).toBe(true);
    expect(audit.validation).toBeNull();
    const text = (await mel(['audit', stating[0]!._id])).stdout;
    expect(text).toContain('REJECTED (states-answer)');
    expect(text).toContain('rejected before its replay, whatever the leakage policy');
  });
});
