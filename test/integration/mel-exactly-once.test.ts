/**
 * Exactly one optimizer update per training step when the engine applies an optim_step but its answer is lost
 * (the engine double's drop-response fault). The client must not re-send the step: the policy update fails its
 * attempt with an unknown outcome, and the retry restores the previous step's saved state into a fresh model.
 */
import { describe, expect, it } from 'vitest';
import { shortRunConfig, trainAndCheck } from './mel-support.js';
import { doubleOptimizerSteps, useClientAndWorkers, useEngineDouble } from './support.js';

describe('exactly-once optimizer steps under a lost response', () => {
  const engine = useEngineDouble({
    faults: [{ route: 'optim_step', call: 1, action: { type: 'drop-response' } }],
  });
  const stack = useClientAndWorkers(() => engine.endpoints);

  it('completes the run with one update per step on the model it continues from', async () => {
    const config = shortRunConfig({ steps: 2 });
    await trainAndCheck(stack, config, doubleOptimizerSteps(engine.double));
    // The lost step was applied once, to a model the retry abandoned; nothing was applied twice to one model.
    const { totalOptimStepCalls, models } = engine.double.stats().optimizer;
    expect(totalOptimStepCalls).toBe(config.steps + 1);
    for (const model of Object.values(models)) expect(model.optimStepCalls).toBeLessThanOrEqual(1);
  });
});
