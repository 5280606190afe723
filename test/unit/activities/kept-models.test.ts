import { describe, expect, it } from 'vitest';
import { KeptModels, StepGradients, type GrpoGradients } from '../../../activities/kept-models.js';
import type { PolicyRef } from '../../../temporal/contracts/common.js';

const policy = (modelId: string, updates: number): PolicyRef => ({
  modelId,
  statePath: `tinker://${modelId}/weights/run-step-${updates - 1}`,
  samplerPath: `tinker://${modelId}/run-step-${updates - 1}`,
  updates,
  rank: 8,
});

describe('the training models a worker keeps between steps', () => {
  it('hands the kept model to the first update that starts from exactly the recorded policy, and to no other', () => {
    const kept = new KeptModels();
    kept.keep('run', policy('m1', 1));
    expect(kept.take('run', policy('m1', 1))).toBe('m1');
    expect(kept.take('run', policy('m1', 1))).toBeUndefined();
  });

  it('gives nothing for another policy, and forgets the kept one then too', () => {
    const kept = new KeptModels();
    kept.keep('run', policy('m1', 2));
    expect(kept.take('run', { ...policy('m1', 2), statePath: 'tinker://m1/weights/other' })).toBeUndefined();
    expect(kept.take('run', policy('m1', 2))).toBeUndefined();
    kept.keep('run', policy('m1', 2));
    expect(kept.take('run', policy('m1', 1))).toBeUndefined();
    expect(kept.take('other-run', policy('m1', 2))).toBeUndefined();
    expect(kept.take('run', policy('m1', 2))).toBeUndefined();
  });

  it('keeps one model per run, the latest, and none that was unloaded', () => {
    const kept = new KeptModels();
    kept.keep('a', policy('m1', 1));
    kept.keep('a', policy('m2', 2));
    kept.keep('b', policy('m3', 1));
    kept.forgetModel('m3');
    expect(kept.take('a', policy('m1', 1))).toBeUndefined();
    kept.keep('a', policy('m2', 2));
    expect(kept.take('a', policy('m2', 2))).toBe('m2');
    expect(kept.take('b', policy('m3', 1))).toBeUndefined();
  });
});

describe("the models holding a step's GRPO gradients", () => {
  const held = (step: number, before = policy('m1', 3), modelId = 'm2'): GrpoGradients => ({
    step,
    policy: before,
    modelId,
    grpoLoss: 0.5,
    grpoDatums: 16,
    stepDatums: 20,
    startedFrom: 'kept-model',
  });

  it("hands them to the step's first policy update on the same policy, and to no second one", () => {
    const gradients = new StepGradients();
    gradients.put('run-a', held(3));
    expect(gradients.take('run-a', 3, policy('m1', 3))).toEqual(held(3));
    expect(gradients.take('run-a', 3, policy('m1', 3))).toBeUndefined();
  });

  it('gives nothing to another step or policy, and drops what it held for the run then too', () => {
    const gradients = new StepGradients();
    gradients.put('run-a', held(3));
    expect(gradients.take('run-a', 4, policy('m1', 3))).toBeUndefined();
    gradients.put('run-a', held(3));
    expect(gradients.take('run-a', 3, policy('other', 3))).toBeUndefined();
    expect(gradients.take('run-a', 3, policy('m1', 3))).toBeUndefined();
  });

  it('holds the latest put for a run, and runs apart', () => {
    const gradients = new StepGradients();
    gradients.put('run-a', held(3, policy('m1', 3), 'stale'));
    gradients.put('run-a', held(3, policy('m1', 3), 'latest'));
    gradients.put('run-b', held(0, policy('m1', 3), 'b'));
    expect(gradients.take('run-a', 3, policy('m1', 3))?.modelId).toBe('latest');
    expect(gradients.take('run-b', 0, policy('m1', 3))?.modelId).toBe('b');
  });
});
