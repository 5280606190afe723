/**
 * Exactly one optimizer update per training step when the engine applies an optim_step but its answer is lost
 * (the engine double's drop-response fault). The client must not re-send the step: the policy update fails its
 * attempt with an unknown outcome, and the retry restores the previous step's saved state into a fresh model,
 * which the next step then continues on.
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
    const { stepDocs } = await trainAndCheck(stack, config, doubleOptimizerSteps(engine.double));
    const { totalOptimStepCalls, models } = engine.double.stats().optimizer;
    expect(totalOptimStepCalls).toBe(config.steps + 1);
    // The lost step was applied once, to a model the retry abandoned; every other model applied one optim_step per
    // step it recorded (a model kept loaded between steps records several), so none was applied twice for a step.
    const recorded = stepDocs.map((s) => s.update!.engineModelId);
    const unrecorded = Object.entries(models).filter(
      ([id, model]) => model.optimStepCalls !== recorded.filter((r) => r === id).length,
    );
    expect(unrecorded.map(([, model]) => model.optimStepCalls)).toEqual([1]);
    // The retry restored the saved state into a fresh model; the next step, with nothing gone wrong, kept it.
    expect(stepDocs.map((s) => s.update!.startedFrom)).toEqual(['saved-state', 'kept-model']);
    expect(recorded[1]).toBe(recorded[0]);
  });
});
