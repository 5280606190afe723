import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../common/env.js';
import { parseRunConfig } from '../../../mel/run-config.js';
import type { StepMetrics } from '../../../store/documents.js';
import { parseStudyArgs, StudyOptionsError } from '../../../study/options.js';
import { studyEvalSets, studyRuns } from '../../../study/plan.js';
import {
  runQuantities,
  spread,
  studyTable,
  summarizeStudy,
  type StudyRunResult,
} from '../../../study/summary.js';

const template = parseRunConfig(
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'configs', 'demo.json'), 'utf8')),
);

function step(passRate: number, accepted = 0, candidates = 0): StepMetrics {
  return {
    prompts: 8,
    trajectories: 32,
    passRate,
    mixedGroups: 2,
    pairs: candidates,
    candidates,
    parsedCandidates: candidates,
    accepted,
    rejected: candidates - accepted,
    retentionRatio: candidates ? accepted / candidates : null,
    grpoLoss: 0.1,
    nllLoss: null,
    stageDurationsMs: {},
  };
}

const evalOf = (pass1: number) => ({
  k: 4,
  problems: 10,
  greedySamples: 10,
  sampledSamples: 40,
  pass1,
  avgK: pass1 / 2,
  passK: pass1,
});

describe('studyRuns', () => {
  it('pairs a GRPO and a MEL run per seed that differ only in mode, seed and id', () => {
    const runs = studyRuns(template, { seeds: [1, 2], steps: 5, prefix: 'st' });
    expect(runs.map((r) => r.runId)).toEqual(['st-grpo-s1', 'st-mel-s1', 'st-grpo-s2', 'st-mel-s2']);
    const [grpo, mel] = runs;
    expect({ ...grpo!.config, mode: 'x', runId: 'x' }).toEqual({ ...mel!.config, mode: 'x', runId: 'x' });
    expect(grpo!.config).toMatchObject({ mode: 'grpo', seed: 1, steps: 5 });
    expect(() => studyRuns(template, { seeds: [], steps: 1, prefix: 'st' })).toThrow(RangeError);
    expect(() => studyRuns(template, { seeds: [3, 3], steps: 1, prefix: 'st' })).toThrow(RangeError);
  });
});

describe('studyEvalSets', () => {
  it('draws held-out problems none of which is a training question, and the training set itself', () => {
    const [heldOut, train] = studyEvalSets(template, 100);
    expect(train!.problems).toHaveLength(template.dataset.builtinCount);
    const trained = new Set(train!.problems.map((p) => p.question));
    expect(heldOut!.problems.length).toBeGreaterThan(50);
    expect(heldOut!.problems.some((p) => trained.has(p.question))).toBe(false);
    expect(studyEvalSets(template, 100)).toEqual([heldOut, train]);
  });

  it('refuses a configuration that does not train on the built-in set', () => {
    const fromFile = { ...template, dataset: { ...template.dataset, source: 'data.jsonl' } };
    expect(() => studyEvalSets(fromFile, 10)).toThrow(/built-in/);
  });
});

describe('summarizeStudy', () => {
  const result = (
    mode: 'grpo' | 'mel',
    seed: number,
    passRates: number[],
    heldOut: number,
  ): StudyRunResult => ({
    runId: `${mode}-${seed}`,
    mode,
    seed,
    metrics: passRates.map((p) => step(p, mode === 'mel' ? 1 : 0, mode === 'mel' ? 2 : 0)),
    evals: { 'held-out': evalOf(heldOut) },
  });

  it('gives mean and sample sd per mode and MEL − GRPO paired by seed', () => {
    const summary = summarizeStudy([
      result('grpo', 1, [0.1, 0.3], 0.2),
      result('mel', 1, [0.1, 0.5], 0.3),
      result('grpo', 2, [0.2, 0.1], 0.4),
      result('mel', 2, [0.2, 0.4], 0.2),
    ]);
    expect(summary.seeds).toEqual([1, 2]);
    expect(summary.modes.grpo.lastPassRate!.mean).toBeCloseTo(0.2, 12);
    expect(summary.modes.grpo.lastPassRate!.sd).toBeCloseTo(Math.SQRT2 * 0.1, 12);
    expect(summary.difference.lastPassRate!.values.map((v) => Number(v.toFixed(12)))).toEqual([0.2, 0.3]);
    expect(summary.difference.heldOutPass1!.values.map((v) => Number(v.toFixed(12)))).toEqual([0.1, -0.2]);
    expect(summary.modes.mel.retention!.mean).toBeCloseTo(0.5, 12);
    expect(summary.modes.grpo.retention).toBeUndefined();
    expect(summary.difference.trainPass1).toBeUndefined();
  });

  it('pairs only seeds that have both runs', () => {
    const summary = summarizeStudy([result('grpo', 1, [0.1], 0.1), result('mel', 2, [0.2], 0.2)]);
    expect(summary.difference).toEqual({});
    expect(summary.modes.mel.lastPassRate).toEqual({ mean: 0.2, sd: null, values: [0.2] });
  });

  it('renders a table row per quantity that any mode has', () => {
    const table = studyTable(summarizeStudy([result('grpo', 1, [0.1], 0.25), result('mel', 1, [0.3], 0.5)]));
    expect(table).toContain('| held-out Pass@1 (greedy) | 0.250 | 0.500 | 0.250 |');
    expect(table).not.toContain('training-set');
  });
});

describe('runQuantities and spread', () => {
  it('leaves out what a run without steps or evals cannot give', () => {
    expect(runQuantities({ runId: 'r', mode: 'grpo', seed: 1, metrics: [], evals: {} })).toEqual({});
    expect(() => spread([])).toThrow(RangeError);
  });
});

describe('parseStudyArgs', () => {
  it('reads the defaults and the options', () => {
    expect(parseStudyArgs([], '/x')).toMatchObject({
      seeds: [1, 2, 3],
      steps: 8,
      prefix: 'study',
      configFile: '/x/configs/demo.json',
      outDir: '/x/docs/study',
      heldOut: 100,
      k: 4,
    });
    expect(parseStudyArgs(['--seeds', '4, 5', '--steps', '2', '--out', 'o'], '/x')).toMatchObject({
      seeds: [4, 5],
      steps: 2,
      outDir: '/x/o',
    });
    expect(parseStudyArgs(['--help'], '/x')).toBe('help');
  });

  it('names the option that is wrong', () => {
    expect(() => parseStudyArgs(['--seeds', '1,,2'], '/x')).toThrow(StudyOptionsError);
    expect(() => parseStudyArgs(['--steps', '0'], '/x')).toThrow(/--steps/);
    expect(() => parseStudyArgs(['--prefix', 'a/b'], '/x')).toThrow(/--prefix/);
    expect(() => parseStudyArgs(['--bogus'], '/x')).toThrow(StudyOptionsError);
  });
});
