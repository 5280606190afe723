import { describe, expect, it } from 'vitest';
import { KeptModels } from '../../../activities/kept-models.js';
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
