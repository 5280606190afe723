import { describe, expect, it } from 'vitest';
import { decimal, duration, fields, indent, percent, progressBar, table } from '../../../cli/format.js';
import { progressLine, renderMetrics, runFraction, stepLabel } from '../../../cli/run-views.js';
import type { RunStatus } from '../../../temporal/contracts/run.js';

describe('format', () => {
  it('table aligns columns and cuts long cells', () => {
    expect(
      table(
        ['A', 'LONG'],
        [
          ['xyz', '1'],
          ['q', 'abcdefgh'],
        ],
        5,
      ),
    ).toBe('A    LONG\nxyz  1\nq    abcd…');
  });

  it('numbers: percent, decimal, duration, with "-" for missing values', () => {
    expect([percent(0.1234), percent(null), decimal(1 / 3, 2), decimal(undefined)]).toEqual([
      '12.3%',
      '-',
      '0.33',
      '-',
    ]);
    expect([duration(250), duration(12_340), duration(125_000), duration(null)]).toEqual([
      '250ms',
      '12.3s',
      '2m05s',
      '-',
    ]);
  });

  it('progressBar fills proportionally and clamps', () => {
    expect(progressBar(0.5, 10)).toBe('[█████░░░░░]  50%');
    expect(progressBar(2, 4)).toBe('[████] 100%');
  });

  it('fields aligns keys and drops undefined values; indent marks empty text', () => {
    expect(
      fields([
        ['a', '1'],
        ['long', undefined],
        ['bb', '2'],
      ]),
    ).toBe('a:  1\nbb: 2');
    expect(indent('', '  ')).toBe('  (empty)');
  });
});

describe('run views', () => {
  const status = (over: Partial<RunStatus>): RunStatus => ({
    runId: 'r',
    totalSteps: 4,
    phase: 'running',
    nextStep: 1,
    paused: false,
    stopRequested: false,
    ...over,
  });

  it('runFraction counts finished steps and stages of the running one', () => {
    expect(runFraction(status({ currentStep: 1 }), 'rollout')).toBe(7 / 28);
    expect(runFraction(status({ currentStep: 1 }), 'validate')).toBe(11 / 28);
    expect(runFraction(status({ nextStep: 4 }), undefined)).toBe(1);
  });

  it('progressLine names the step (from 0), the stage and a pending pause', () => {
    expect(progressLine(status({ currentStep: 1, paused: true }), 'verify')).toMatch(
      /^step 1 \(2\/4\) \[.*\] +\d+% {2}verify \(2\/7\) · pausing after this step$/,
    );
    expect(progressLine(status({ phase: 'paused', pauseReason: 'step 1 failed' }), undefined)).toMatch(
      / {2}paused \(step 1 failed\)$/,
    );
    expect(stepLabel(0, 3)).toBe('step 0 (1/3)');
  });

  it('renderMetrics shows one row per step with the excluded rollout items and the total stage time', () => {
    const text = renderMetrics([
      {
        runId: 'r',
        step: 0,
        prompts: 2,
        trajectories: 8,
        passRate: 0.25,
        mixedGroups: 1,
        pairs: 2,
        candidates: 2,
        parsedCandidates: 2,
        accepted: 1,
        rejected: 1,
        retentionRatio: 0.5,
        grpoLoss: 0.1,
        nllLoss: null,
        excludedPrompts: 1,
        excludedSamples: 3,
        stageDurationsMs: { rollout: 1_000, verify: 500 },
      },
    ]);
    expect(text.split('\n')[1]).toMatch(/^0 +25\.0% +1 +2 +2 +1 +1 +50\.0% +0\.1000 +- +1p 3s +1\.5s$/);
  });
});
