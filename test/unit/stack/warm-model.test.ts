import { describe, expect, it } from 'vitest';
import { loadEnv, resolveEndpoints } from '../../../common/env.js';
import { roundModelDir } from '../../../stack/warm-model.js';
import { DEFAULT_WARM_START, WARM_START_ROUNDS, targetsMet } from '../../../training/warm-start.js';

describe('warm-start rounds', () => {
  const env = loadEnv({ MEL_CACHE_DIR: '/cache' });

  it('chains the rounds: each writes its own folder, the last one the model the engine serves', () => {
    const dirs = WARM_START_ROUNDS.map((round) => roundModelDir(env, round));
    expect(new Set(dirs).size).toBe(WARM_START_ROUNDS.length);
    expect(dirs.at(-1)).toBe(resolveEndpoints(env).baseModel);
    expect(dirs[0]).toBe('/cache/models/tiny-qwen3-warm-solve');
  });

  it('asks only the last round for parseable reflections', () => {
    const solving = { step: 250, passRate: 0.3, mixedGroupFraction: 0.6, parseRate: 0 };
    const targets = WARM_START_ROUNDS.map((round) => ({ ...DEFAULT_WARM_START, ...round.options }).targets);
    expect(targets.map((t) => targetsMet(solving, t))).toEqual([true, false]);
    expect(targetsMet({ ...solving, parseRate: 0.9 }, targets[1]!)).toBe(true);
  });
});
