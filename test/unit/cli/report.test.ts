import { describe, expect, it } from 'vitest';
import { CHART_SIZE, fittedRange, lineChartSvg, ticks } from '../../../cli/report/chart.js';
import { reportCharts, reportHtml, type ReportData } from '../../../cli/report/html.js';
import { renderRuns, renderStatus } from '../../../cli/run-views.js';
import { parseRunConfig } from '../../../mel/run-config.js';
import type { StepMetricsRow } from '../../../store/queries.js';

const row = (step: number, over: Partial<StepMetricsRow> = {}): StepMetricsRow => ({
  runId: 'r',
  step,
  prompts: 4,
  trajectories: 16,
  passRate: 0.25 * step,
  mixedGroups: step,
  pairs: step,
  candidates: step,
  parsedCandidates: step,
  accepted: step > 0 ? 1 : 0,
  rejected: Math.max(0, step - 1),
  retentionRatio: step > 0 ? 1 / step : null,
  grpoLoss: step > 0 ? 0.5 / step : null,
  nllLoss: null,
  stageDurationsMs: { rollout: 1_500, verify: 20 },
  ...over,
});

const data: ReportData = {
  runId: 'run<1>',
  config: null,
  phase: 'completed',
  metrics: [row(0), row(1), row(2)],
  accepted: [],
  generatedAt: new Date('2026-01-01T00:00:00Z'),
};

describe('report charts', () => {
  it('one chart per curve, one value per recorded step, gaps where a value is missing', () => {
    const charts = reportCharts(data);
    expect(Object.keys(charts)).toEqual([
      'reward.png',
      'meta-experiences.png',
      'retention.png',
      'losses.png',
      'durations.png',
    ]);
    expect(charts['reward.png']!.x).toEqual([0, 1, 2]);
    expect(charts['reward.png']!.series[0]!.values).toEqual([0, 0.25, 0.5]);
    expect(charts['retention.png']!.series[0]!.values).toEqual([null, 1, 0.5]);
    const durations = charts['durations.png']!.series;
    expect(durations.find((s) => s.name === 'rollout')!.values).toEqual([1.5, 1.5, 1.5]);
    expect(durations.find((s) => s.name === 'validate')!.values).toEqual([null, null, null]);
  });

  it('svg has the fixed size, a polyline per unbroken run of values, a dot per value, and says when a series is empty', () => {
    const svg = lineChartSvg(reportCharts(data)['losses.png']!);
    expect(svg).toContain(`width="${CHART_SIZE.width}" height="${CHART_SIZE.height}"`);
    expect(svg.match(/<polyline/g)).toHaveLength(1);
    expect(svg.match(/<circle/g)).toHaveLength(2);
    expect(svg).toContain('NLL loss (no data)');
  });

  it('ticks are round numbers covering the range; fitted ranges include zero and pad the top', () => {
    expect(ticks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(ticks(0, 37, 5)).toEqual([0, 10, 20, 30]);
    expect(fittedRange([2, 4, null])).toEqual([0, 4.2]);
    expect(fittedRange([null])).toEqual([0, 1]);
  });
});

describe('report html', () => {
  it('links every plot, has a row per step, and escapes text', () => {
    const html = reportHtml(data, ['reward.png', 'losses.png']);
    expect(html).toContain('<img src="reward.png"');
    expect(html).toContain('<img src="losses.png"');
    expect(html).toContain('MEL run run&#60;1&#62;');
    expect(html.match(/<tr><td>/g)).toHaveLength(3);
    expect(html).toContain('None accepted.');
  });

  it('shows an accepted reflection that did not parse (gate replay-only) by its raw text', () => {
    const accepted = {
      _id: 'run/step-0/p0/pair-s1-s0/me',
      step: 0,
      generation: { turns: [{ text: 'Always use a <common> denominator', stopReason: 'length' }] },
      parse: { ok: false, reason: 'truncated' },
      verdict: { accepted: true, reason: 'replay-verified', detail: 'replay answered 5, which matches 5' },
    } as unknown as ReportData['accepted'][number];
    const html = reportHtml({ ...data, accepted: [accepted] }, []);
    expect(html).toContain(
      '<pre>(did not parse: truncated)\nAlways use a &#60;common&#62; denominator</pre>',
    );
  });
});

describe('the run mode in every view', () => {
  const config = (mode: 'mel' | 'grpo') =>
    parseRunConfig({ runId: 'r', steps: 3, batchSize: 4, groupSize: 4, mode });

  it('report: a GRPO baseline says so, a MEL run names its meta-experience mode', () => {
    expect(reportHtml({ ...data, config: config('grpo') }, [])).toContain(
      'GRPO baseline (no meta-experiences), 3 steps',
    );
    expect(reportHtml({ ...data, config: config('mel') }, [])).toMatch(
      /MEL, 3 steps.*meta-experience mode single-call/,
    );
  });

  it('runs list and status show the mode', () => {
    const listing = {
      runId: 'base',
      mode: 'grpo' as const,
      executionStatus: 'RUNNING',
      phase: 'training',
      step: 1,
      totalSteps: 3,
      stepsRecorded: 1,
      startTime: null,
      closeTime: null,
    };
    const table = renderRuns([listing]).split('\n');
    expect(table[0]).toMatch(/^RUN\s+MODE\s+STATUS/);
    expect(table[1]).toMatch(/^base\s+grpo\s+RUNNING/);
    const status = renderStatus({
      runId: 'base',
      mode: 'grpo',
      workflow: null,
      searchAttributes: {},
      recentMetrics: [],
      notes: [],
    });
    expect(status).toMatch(/mode:\s+grpo/);
  });
});
