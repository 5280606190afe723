import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRunConfig } from '../../../mel/node.js';
import {
  parseRunConfig,
  REFLECTION_BUDGETS,
  RunConfigError,
  runConfigWarnings,
  sameRunConfig,
} from '../../../mel/run-config.js';

const minimal = { runId: 'r1', steps: 2, batchSize: 4, groupSize: 8 };

describe('run configuration', () => {
  it('fills the documented defaults', () => {
    const config = parseRunConfig(minimal);
    expect(config.dataset.source).toBe('builtin');
    expect(config.sampling.rollout.temperature).toBe(1);
    expect(config.mel.advantage.estimator).toBe('grpo');
    expect(config.mel.metaExperience.mode).toBe('single-call');
    expect(config.grpo).toEqual({ lossFn: 'ppo', clipLow: 0.8, clipHigh: 1.2 });
  });

  it('gives the reflection the token budget its prompt style needs, unless the configuration sets one', () => {
    const budget = (mel: object, reflection?: object) =>
      parseRunConfig({ ...minimal, mel, ...(reflection ? { sampling: { reflection } } : {}) }).sampling
        .reflection;
    expect(budget({})).toEqual({ temperature: 0.7, maxTokens: REFLECTION_BUDGETS['appendix-c'].default });
    expect(budget({ metaExperience: { prompt: 'compact' } }).maxTokens).toBe(
      REFLECTION_BUDGETS.compact.default,
    );
    expect(budget({ metaExperience: { mode: 'chained', prompt: 'compact' } }).maxTokens).toBe(
      REFLECTION_BUDGETS['appendix-c'].default,
    );
    expect(budget({}, { temperature: 0.2 })).toEqual({ temperature: 0.2, maxTokens: 2048 });
    expect(budget({}, { temperature: 0.2, maxTokens: 300 }).maxTokens).toBe(300);
  });

  it('warns when the reflection budget will cut reflections off, and only then', () => {
    const warnings = (input: object) => runConfigWarnings(parseRunConfig({ ...minimal, ...input }));
    expect(warnings({})).toEqual([]);
    const short = { sampling: { reflection: { temperature: 0.7, maxTokens: 256 } } };
    expect(warnings(short)).toEqual([expect.stringMatching(/maxTokens is 256.*appendix-c.*1024/)]);
    expect(warnings({ ...short, mel: { metaExperience: { prompt: 'compact' } } })).toEqual([]);
    expect(warnings({ ...short, mode: 'grpo' })).toEqual([]);
  });

  it('names every bad field', () => {
    const error = (() => {
      try {
        parseRunConfig({ ...minimal, groupSize: 1, runId: 'bad id', extra: true });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(RunConfigError);
    expect(error!.message).toMatch(/groupSize/);
    expect(error!.message).toMatch(/runId/);
    expect(error!.message).toMatch(/extra/);
  });

  it('names the validation field and its bounds', () => {
    const message = (mel: unknown) => {
      try {
        parseRunConfig({ ...minimal, mel });
      } catch (e) {
        return (e as Error).message;
      }
      return 'parsed';
    };
    expect(message({ validation: { replays: 3, minCorrect: 4 } })).toBe(
      'run configuration is invalid:\n  mel.validation.minCorrect: must be between 1 and replays (3), got 4',
    );
    expect(message({ validation: { minCorrect: 2 } })).toMatch(
      /mel\.validation\.minCorrect: must be between 1 and replays \(1\), got 2/,
    );
    expect(message({ validation: { replays: 2, minCorrect: 0 } })).toMatch(
      /mel\.validation\.minCorrect: Too small/,
    );
    expect(message({ validation: { replays: 0 } })).toMatch(/mel\.validation\.replays: Too small/);
    expect(message({ metaExperience: { gate: 'loose' } })).toMatch(/mel\.metaExperience\.gate/);
  });

  it('reports unreadable and malformed files with their path', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mel-config-'));
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{ "runId": ');
    await expect(loadRunConfig(broken)).rejects.toThrow(new RegExp(`${broken}.*not valid JSON`));
    await expect(loadRunConfig(path.join(dir, 'missing.json'))).rejects.toThrow(/cannot read/);
  });

  it('loads the demo configuration shipped with the project', async () => {
    const config = await loadRunConfig(
      path.join(import.meta.dirname, '..', '..', '..', 'configs', 'demo.json'),
    );
    expect(config.steps).toBe(3);
  });

  it('treats a stored configuration as the same run whatever its key order or omitted defaults', () => {
    const config = parseRunConfig(minimal);
    expect(sameRunConfig(minimal, config)).toBe(true);
    expect(sameRunConfig({ groupSize: 8, batchSize: 4, steps: 2, runId: 'r1' }, config)).toBe(true);
    expect(sameRunConfig(JSON.parse(JSON.stringify(config)), config)).toBe(true);
    expect(sameRunConfig({ ...minimal, steps: 3 }, config)).toBe(false);
    expect(
      sameRunConfig({ ...minimal, sampling: { rollout: { temperature: 0.5, maxTokens: 8 } } }, config),
    ).toBe(false);
  });

  it('takes initialPolicy as a run and step or a saved state, nothing else', () => {
    expect(parseRunConfig({ ...minimal, initialPolicy: { runId: 'a', step: 2 } }).initialPolicy).toEqual({
      runId: 'a',
      step: 2,
    });
    const statePath = 'tinker://model_1/weights/a-step-2';
    expect(parseRunConfig({ ...minimal, initialPolicy: { statePath } }).initialPolicy).toEqual({ statePath });
    expect(() => parseRunConfig({ ...minimal, initialPolicy: { statePath: '/tmp/x' } })).toThrow(/tinker:/);
    expect(() => parseRunConfig({ ...minimal, initialPolicy: { runId: 'a' } })).toThrow();
    expect(() => parseRunConfig({ ...minimal, initialPolicy: { runId: 'a', step: 1, statePath } })).toThrow();
  });
});
