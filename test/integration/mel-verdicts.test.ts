/**
 * The verdict paths of MEL on the engine double: its deterministic fake model writes right and wrong answers,
 * parseable and unparseable reflections, and right and wrong replays, the same on every machine. So this run
 * is guaranteed to accept some meta-experiences and reject others, and each verdict can be checked end to end.
 */
import { describe, expect, it } from 'vitest';
import { shortRunConfig, trainAndCheck } from './mel-support.js';
import { doubleOptimizerSteps, useClientAndWorkers, useEngineDouble } from './support.js';

describe('MEL verdicts on the engine double', () => {
  const engine = useEngineDouble({
    seed: 3,
    pCorrect: 0.5,
    pUnparseable: 0.25,
    pTruncated: 0,
    pReplayCorrect: 0.5,
  });
  const stack = useClientAndWorkers(() => engine.endpoints);

  it('accepts replay-verified meta-experiences, internalizes exactly those, and rejects the rest with reasons', async () => {
    const config = shortRunConfig({ steps: 2 });
    const { candidates } = await trainAndCheck(stack, config, doubleOptimizerSteps(engine.double));
    const reasons = new Set(candidates.map((c) => c.verdict!.reason));
    expect(reasons).toContain('replay-verified');
    expect(reasons).toContain('replay-wrong-answer');
    expect(reasons).toContain('unparseable');
    // Exactly one optimizer step per training step across everything this run asked of the engine.
    expect(engine.double.stats().optimizer.totalOptimStepCalls).toBe(config.steps);
  });
});
