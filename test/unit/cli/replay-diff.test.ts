import { describe, expect, it } from 'vitest';
import { renderReplayDiff } from '../../../cli/replay-command.js';
import type { MetaExperienceDoc, PromptDoc, RewardDoc, TrajectoryDoc } from '../../../store/documents.js';
import { compareSteps, type StepEvidence } from '../../../store/replay-diff.js';

function evidence(
  runId: string,
  tokens: number[][],
  rewards: (0 | 1)[],
  accepted: boolean[],
  grpoLoss = 0.5,
): StepEvidence {
  const trajectories = tokens.map(
    (t, i) => ({ _id: `${runId}/step-1/p0/s${i}`, runId, tokens: t }) as TrajectoryDoc,
  );
  const rewardDocs = rewards.map(
    (reward, i) => ({ _id: `${runId}/step-1/p0/s${i}`, runId, reward }) as RewardDoc,
  );
  const candidates = accepted.map(
    (ok, i) =>
      ({
        _id: `${runId}/step-1/p0/pair-s${i}-s9/me`,
        runId,
        generation: { turns: [{ outputTokens: [i, 1] }] },
        verdict: { accepted: ok, reason: ok ? 'replay-verified' : 'replay-wrong-answer', detail: '' },
      }) as unknown as MetaExperienceDoc,
  );
  const prompts = [{ _id: `${runId}/step-1/p0`, runId, promptTokens: [7, 8] } as PromptDoc];
  return {
    runId,
    step: 1,
    prompts,
    trajectories,
    rewards: rewardDocs,
    pairs: [],
    candidates,
    stepDoc: {
      _id: `${runId}/step-1`,
      runId,
      step: 1,
      update: { grpoLoss, nllLoss: null },
    } as StepEvidence['stepDoc'],
  };
}

describe('compareSteps', () => {
  it('matches documents by their id within the run, so a replay under another run id can be identical', () => {
    const diff = compareSteps(
      evidence('a', [[1, 2], [3]], [1, 0], [true]),
      evidence('b', [[1, 2], [3]], [1, 0], [true]),
    );
    expect(diff.identical).toBe(true);
    expect(diff.trajectories).toEqual({ original: 2, replay: 2, same: 2, differing: [] });
    expect(diff.grpoLoss).toEqual({ original: 0.5, replay: 0.5, same: true });
  });

  it('names what differs: tokens, rewards, verdicts, missing documents, losses beyond float noise', () => {
    const diff = compareSteps(
      evidence('a', [[1, 2], [3]], [1, 0], [true, false], 0.5),
      evidence('b', [[1, 2], [4], [5]], [1, 1], [false, false], 0.5001),
    );
    expect(diff.identical).toBe(false);
    expect(diff.trajectories).toEqual({
      original: 2,
      replay: 3,
      same: 1,
      differing: ['step-1/p0/s1', 'step-1/p0/s2'],
    });
    expect(diff.rewards.differing).toEqual(['step-1/p0/s1']);
    expect(diff.verdicts.differing).toEqual(['step-1/p0/pair-s0-s9/me']);
    expect(diff.candidates.same).toBe(2);
    expect(diff.grpoLoss.same).toBe(false);
    expect(
      compareSteps(evidence('a', [], [], [], 1), evidence('b', [], [], [], 1 + 1e-7)).grpoLoss.same,
    ).toBe(true);
  });

  it('renders a row per compared record kind and the overall verdict', () => {
    const text = renderReplayDiff(compareSteps(evidence('a', [[1]], [1], []), evidence('b', [[2]], [1], [])));
    expect(text).toMatch(/trajectories \(tokens\) +1 +1 +0 +step-1\/p0\/s0/);
    expect(text).toMatch(/GRPO loss +0\.500000 +0\.500000 +same/);
    expect(text).toContain('DIFFERENT');
  });
});
