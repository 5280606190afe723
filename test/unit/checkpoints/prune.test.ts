import { describe, expect, it } from 'vitest';
import { checkpointsToPrune, type SavedStepPolicy } from '../../../checkpoints/prune.js';

const saved = (step: number, pruned = false): SavedStepPolicy => ({
  step,
  policy: { statePath: `tinker://m/weights/s${step}`, samplerPath: `tinker://m/s${step}` },
  pruned,
});

describe('checkpointsToPrune', () => {
  it('keeps the newest keepLast steps and prunes the older ones, oldest first, whatever the order given', () => {
    const choice = checkpointsToPrune([saved(3), saved(0), saved(4), saved(1), saved(2)], 2, new Set());
    expect(choice).toEqual([
      { step: 0, paths: ['tinker://m/weights/s0', 'tinker://m/s0'] },
      { step: 1, paths: ['tinker://m/weights/s1', 'tinker://m/s1'] },
      { step: 2, paths: ['tinker://m/weights/s2', 'tinker://m/s2'] },
    ]);
  });

  it('prunes nothing while there are at most keepLast steps', () => {
    expect(checkpointsToPrune([saved(0), saved(1)], 2, new Set())).toEqual([]);
    expect(checkpointsToPrune([], 1, new Set())).toEqual([]);
  });

  it('skips what was pruned before and what something references, by either path', () => {
    const referenced = new Set(['tinker://m/weights/s1', 'tinker://m/s2']);
    const choice = checkpointsToPrune(
      [saved(0, true), saved(1), saved(2), saved(3), saved(4)],
      1,
      referenced,
    );
    expect(choice.map((c) => c.step)).toEqual([3]);
  });
});
