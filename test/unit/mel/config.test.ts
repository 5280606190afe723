import { describe, expect, it } from 'vitest';
import { parseMelConfig } from '../../../mel/index.js';

describe('MEL config', () => {
  it('fills the documented defaults', () => {
    const config = parseMelConfig();
    expect(config.advantage).toEqual({ estimator: 'grpo', stdEpsilon: 1e-6, stdEstimator: 'sample' });
    expect(config.pairs).toEqual({ seed: 0 });
    expect(config.metaExperience.mode).toBe('single-call');
    expect(config.metaExperience.leakage.policy).toBe('report');
    expect(config.metaExperience.gate).toBe('strict');
    expect(config.validation).toEqual({ replays: 1, minCorrect: 1 });
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

  it('gate: strict or replay-only', () => {
    expect(parseMelConfig({ metaExperience: { gate: 'replay-only' } }).metaExperience.gate).toBe(
      'replay-only',
    );
    expect(() => parseMelConfig({ metaExperience: { gate: 'none' } })).toThrow();
  });

  it('validation: minCorrect defaults to replays, and 1 ≤ minCorrect ≤ replays', () => {
    expect(parseMelConfig({ validation: { replays: 3 } }).validation).toEqual({ replays: 3, minCorrect: 3 });
    expect(parseMelConfig({ validation: { replays: 3, minCorrect: 2 } }).validation).toEqual({
      replays: 3,
      minCorrect: 2,
    });
    // A parsed configuration parses to itself (a stored run's configuration is parsed again).
    const parsed = parseMelConfig({ validation: { replays: 4, minCorrect: 1 } });
    expect(parseMelConfig(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed);
    expect(() => parseMelConfig({ validation: { replays: 0 } })).toThrow();
    expect(() => parseMelConfig({ validation: { replays: 33 } })).toThrow();
    expect(() => parseMelConfig({ validation: { replays: 1.5 } })).toThrow();
    expect(() => parseMelConfig({ validation: { replays: 2, minCorrect: 0 } })).toThrow();
    expect(() => parseMelConfig({ validation: { replays: 2, minCorrect: 3 } })).toThrow();
    expect(() => parseMelConfig({ validation: { minCorrect: 2 } })).toThrow();
  });
});
