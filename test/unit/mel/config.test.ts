import { describe, expect, it } from 'vitest';
import { parseMelConfig } from '../../../mel/index.js';

describe('MEL config', () => {
  it('fills the documented defaults', () => {
    const config = parseMelConfig();
    expect(config.advantage).toEqual({ estimator: 'grpo', stdEpsilon: 1e-6, stdEstimator: 'sample' });
    expect(config.pairs).toEqual({ seed: 0 });
    expect(config.metaExperience.mode).toBe('single-call');
    expect(config.metaExperience.leakage.policy).toBe('report');
    expect(config.loss).toEqual({
      grpoAggregation: 'seq-mean-token-mean',
      nllNormalisation: 'eq7',
      nllCoefficient: 1,
    });
    expect(config.dataset.onBadRow).toBe('fail');
  });

  it('keeps given values next to defaults and rejects bad ones', () => {
    const config = parseMelConfig({ pairs: { maxPairsPerGroup: 4 }, metaExperience: { mode: 'chained' } });
    expect(config.pairs).toEqual({ maxPairsPerGroup: 4, seed: 0 });
    expect(config.metaExperience).toMatchObject({ mode: 'chained', leakage: { policy: 'report' } });
    expect(() => parseMelConfig({ advantage: { estimator: 'ppo' } })).toThrow();
    expect(() => parseMelConfig({ pairs: { maxPairsPerGroup: 0 } })).toThrow();
    expect(() => parseMelConfig({ loss: { nllCoefficient: 0 } })).toThrow();
  });
});
