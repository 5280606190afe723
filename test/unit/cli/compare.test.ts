import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerCompareCommand } from '../../../cli/compare-command.js';
import { CliError } from '../../../cli/context.js';
import { CHART_SIZE, LEGEND_ROW, chartSize, lineChartSvg } from '../../../cli/report/chart.js';
import {
  buildComparison,
  compareCharts,
  compareHtml,
  compareSummary,
  defaultCompareDir,
  shownEval,
  type CompareInput,
} from '../../../cli/report/compare.js';
import { lineChartPng } from '../../../cli/report/png.js';
import { parseRunConfig, type RunConfig } from '../../../mel/run-config.js';
import type { EvalDoc } from '../../../store/documents.js';
import type { StepMetricsRow } from '../../../store/queries.js';
import type { EvalSettings } from '../../../temporal/contracts/eval.js';

const row = (step: number, over: Partial<StepMetricsRow> = {}): StepMetricsRow => ({
  runId: 'r',
  step,
  prompts: 4,
  trajectories: 16,
  passRate: 0.25 * step,
  mixedGroups: step,
  pairs: step,
  candidates: 2,
  parsedCandidates: 2,
  accepted: 1,
  rejected: 1,
  retentionRatio: 0.5,
  grpoLoss: 0.1 * step,
  nllLoss: 0.2,
  stageDurationsMs: {},
  ...over,
});

const config = (runId: string, over: Record<string, unknown> = {}): RunConfig =>
  parseRunConfig({ runId, steps: 3, batchSize: 4, groupSize: 4, ...over });

const settings: EvalSettings = { k: 4, temperature: 1, maxTokens: 96, limit: null, seed: 0 };

const evalDoc = (
  evalId: string,
  runId: string,
  step: number | null,
  over: { sha?: string; path?: string; settings?: EvalSettings; pass1?: number; running?: boolean } = {},
): EvalDoc => {
  const definition = {
    target: { kind: 'run' as const, runId, step, policy: { statePath: `tinker://m/weights/${evalId}` } },
    data: { path: over.path ?? '/data/eval/math500.jsonl', sha256: over.sha ?? 'a'.repeat(64) },
    settings: over.settings ?? settings,
  };
  const metrics = {
    k: definition.settings.k,
    problems: 10,
    greedySamples: 10,
    sampledSamples: 40,
    pass1: over.pass1 ?? 0.5,
    avgK: 0.4,
    passK: 0.7,
  };
  return {
    _id: evalId,
    definition: definition as EvalDoc['definition'],
    workflowId: `mel-eval/${evalId}`,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, step ?? 0)),
    problems: 10,
    status: over.running ? 'running' : 'completed',
    ...(over.running
      ? {}
      : {
          result: {
            evalId,
            workflowId: `mel-eval/${evalId}`,
            workflowRunId: 'wr',
            target: { kind: 'run', runId, step, statePath: definition.target.policy.statePath },
            data: definition.data,
            settings: definition.settings,
            metrics,
            truncated: 0,
            completedAt: '2026-01-01T01:00:00.000Z',
          },
        }),
    origin: {} as EvalDoc['origin'],
  };
};

const input = (
  runId: string,
  over: Record<string, unknown>,
  metrics: StepMetricsRow[],
  evals: EvalDoc[] = [],
): CompareInput => ({
  run: {
    _id: runId,
    // Stored run ids are validated; one with markup shows that every view escapes it anyway.
    config: config(runId.replace(/[^A-Za-z0-9_-]/g, '_'), over),
    baseModel: 'tiny',
    createdAt: new Date('2026-01-01T00:00:00Z'),
  },
  metrics,
  evals,
});

const mel = input(
  'mel-<a>',
  { seed: 1 },
  [row(0), row(1), row(2)],
  [
    evalDoc('e-mel-0', 'mel-<a>', 0, { pass1: 0.3 }),
    evalDoc('e-mel-2', 'mel-<a>', 2, { pass1: 0.6 }),
    evalDoc('e-mel-gsm', 'mel-<a>', 2, { sha: 'b'.repeat(64), path: '/data/eval/gsm8k-test.jsonl' }),
  ],
);
const grpo = input(
  'grpo-b',
  { mode: 'grpo' },
  [0, 1, 2, 3].map((step) => row(step, { accepted: 0, candidates: 0, retentionRatio: null, nllLoss: null })),
  [evalDoc('e-grpo', 'grpo-b', 3, { pass1: 0.4, path: '/elsewhere/math500-copy.jsonl' })],
);
const comparison = buildComparison([mel, grpo], new Date('2026-02-01T00:00:00Z'));

describe('buildComparison', () => {
  it('one series per run over every recorded step, null where a run has no step', () => {
    expect(comparison.steps).toEqual([0, 1, 2, 3]);
    expect(comparison.series.passRate).toEqual([
      { runId: 'mel-<a>', values: [0, 0.25, 0.5, null] },
      { runId: 'grpo-b', values: [0, 0.25, 0.5, 0.75] },
    ]);
    expect(comparison.series.grpoLoss[0]!.values).toEqual([0, 0.1, 0.2, null]);
    expect(comparison.runs.map((r) => [r.runId, r.mode, r.stepsRecorded, r.totalSteps])).toEqual([
      ['mel-<a>', 'mel', 3, 3],
      ['grpo-b', 'grpo', 4, 3],
    ]);
  });

  it('a GRPO baseline has no line for acceptance, retention or NLL loss, and says why', () => {
    for (const metric of ['accepted', 'retentionRatio', 'nllLoss'] as const) {
      const line = comparison.series[metric][1]!;
      expect(line.values).toEqual([null, null, null, null]);
      expect(line.absent).toMatch(/^GRPO baseline: no /);
      expect(comparison.series[metric][0]!.absent).toBeUndefined();
    }
    expect(comparison.series.mixedGroups[1]!.absent).toBeUndefined();
  });

  it('groups evals by data content and settings, one entry per run, a run without one empty', () => {
    expect(comparison.evals).toHaveLength(2);
    const [math, gsm] = comparison.evals;
    expect(math!.data).toEqual({
      sha256: 'a'.repeat(64),
      paths: ['/data/eval/math500.jsonl', '/elsewhere/math500-copy.jsonl'],
    });
    expect(math!.runs.map((r) => [r.runId, r.evals.map((e) => e.evalId)])).toEqual([
      ['mel-<a>', ['e-mel-0', 'e-mel-2']],
      ['grpo-b', ['e-grpo']],
    ]);
    expect(shownEval(math!.runs[0]!.evals)).toMatchObject({ evalId: 'e-mel-2', step: 2 });
    expect(gsm!.runs[1]!.evals).toEqual([]);

    const other = buildComparison(
      [
        input(
          'x',
          {},
          [],
          [evalDoc('e1', 'x', 0), evalDoc('e2', 'x', 0, { settings: { ...settings, k: 8 } })],
        ),
        grpo,
      ],
      new Date(),
    );
    expect(other.evals.map((g) => [g.settings.k, g.runs.map((r) => r.evals.length)])).toEqual([
      [4, [1, 1]],
      [8, [1, 0]],
    ]);
  });

  it('shows the newest completed eval of a run; a running one only when none completed', () => {
    const done = buildComparison([mel, grpo], new Date()).evals[0]!.runs[0]!.evals;
    const running = { ...done[1]!, evalId: 'later', step: 5, status: 'running' as const, metrics: null };
    expect(shownEval([...done, running])!.evalId).toBe('e-mel-2');
    expect(shownEval([running])!.evalId).toBe('later');
    expect(shownEval([])).toBeUndefined();
  });

  it('lists the configuration differences with each run id, not the run ids themselves', () => {
    expect(comparison.configDifferences).toEqual([
      {
        path: 'seed',
        values: [
          { runId: 'mel-<a>', present: true, value: 1 },
          { runId: 'grpo-b', present: true, value: 0 },
        ],
      },
      {
        path: 'mode',
        values: [
          { runId: 'mel-<a>', present: true, value: 'mel' },
          { runId: 'grpo-b', present: true, value: 'grpo' },
        ],
      },
    ]);
  });

  it('a stored configuration that no longer parses is compared as stored', () => {
    const old = input('old', {}, []);
    old.run = { ...old.run, config: { runId: 'old', steps: 3, removedField: true } as unknown as RunConfig };
    const c = buildComparison([old, grpo], new Date());
    expect(c.runs[0]!.configParsed).toBe(false);
    expect(c.configDifferences.find((d) => d.path === 'removedField')!.values[1]).toEqual({
      runId: 'grpo-b',
      present: false,
    });
  });

  it('is plain JSON: what --json prints parses back to the same', () => {
    expect(JSON.parse(JSON.stringify(comparison))).toEqual(comparison);
  });
});

describe('compare charts', () => {
  const charts = compareCharts(comparison);

  it('one chart per metric, one line per run named by run and mode, legend below', () => {
    expect(Object.keys(charts)).toEqual([
      'reward.png',
      'mixed-groups.png',
      'accepted.png',
      'retention.png',
      'grpo-loss.png',
      'nll-loss.png',
    ]);
    const nll = charts['nll-loss.png']!;
    expect(nll.legend).toBe('below');
    expect(nll.x).toEqual([0, 1, 2, 3]);
    expect(nll.series.map((s) => s.name)).toEqual(['mel-<a> (MEL)', 'grpo-b (GRPO baseline)']);
  });

  it('the legend names every run, escaped, and says why a GRPO run has no NLL line; the image grows by a row per run', () => {
    const chart = charts['nll-loss.png']!;
    const svg = lineChartSvg(chart);
    expect(svg).toContain('mel-&#60;a&#62; (MEL)');
    expect(svg).toContain('grpo-b (GRPO baseline) (GRPO baseline: no NLL loss)');
    expect(svg.match(/<polyline/g)).toHaveLength(1);
    expect(chartSize(chart)).toEqual({
      width: CHART_SIZE.width,
      height: CHART_SIZE.height + 2 * LEGEND_ROW + 10,
    });
    const { width, height, png } = lineChartPng(chart);
    expect([width, height]).toEqual([chartSize(chart).width, chartSize(chart).height]);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });
});

describe('compare html', () => {
  const html = compareHtml(comparison, ['reward.png', 'nll-loss.png']);

  it('escapes run ids, links the plots, and lists the differences with each run as a column', () => {
    expect(html).toContain('mel-&#60;a&#62; vs grpo-b');
    expect(html).not.toContain('mel-<a>');
    expect(html).toContain('<img src="nll-loss.png"');
    expect(html).toContain('<th>field</th><th>mel-&#60;a&#62;</th><th>grpo-b</th>');
    expect(html).toContain('<td><code>mode</code></td><td><code>mel</code></td><td><code>grpo</code></td>');
  });

  it('an eval table per data set and settings; a run without an eval shows "not evaluated"', () => {
    expect(html.match(/<h3>/g)).toHaveLength(2);
    expect(html).toContain('math500.jsonl, math500-copy.jsonl (sha256 aaaaaaaaaaaa)');
    expect(html).toContain('<td>Pass@1 (greedy)</td><td>60.0%</td><td>40.0%</td>');
    expect(html).toContain(
      '<td>Pass@1 (greedy)</td><td>50.0%</td><td><span class="muted">not evaluated</span></td>',
    );
    expect(html).toContain('after step 2<br><code>tinker://m/weights/e-mel-2</code>');
    expect(html).toContain('after step 0: Pass@1 30.0%');
  });

  it('says when nothing was evaluated and when the configurations are the same', () => {
    const plain = buildComparison([input('a', {}, [row(0)]), input('b', {}, [row(0)])], new Date());
    const page = compareHtml(plain, []);
    expect(page).toContain('No run has been evaluated');
    expect(page).toContain('The configurations are the same');
    expect(compareSummary(plain)).toBe(
      'configurations: the same (apart from the run ids)\nheld-out evals: none',
    );
  });

  it('the text summary lists the differences and the Pass@1 of each run', () => {
    expect(compareSummary(comparison)).toBe(
      [
        'configuration differences:',
        '  seed: mel-<a>=1, grpo-b=0',
        '  mode: mel-<a>=mel, grpo-b=grpo',
        'held-out evals:',
        '  Pass@1 on math500.jsonl, math500-copy.jsonl: mel-<a>=60.0% (after step 2), grpo-b=40.0% (after step 3)',
        '  Pass@1 on gsm8k-test.jsonl: mel-<a>=50.0% (after step 2), grpo-b=not evaluated',
      ].join('\n'),
    );
  });
});

describe('mel compare arguments', () => {
  const run = (args: string[]) => {
    const program = new Command('mel').exitOverride();
    registerCompareCommand(program);
    return program.parseAsync(['node', 'mel', 'compare', ...args]);
  };

  it('needs two different runs, before it connects to anything', async () => {
    await expect(run(['a'])).rejects.toThrow(new CliError('compare needs at least two runs'));
    await expect(run(['a', 'b', 'a'])).rejects.toThrow('run a is given more than once');
  });
});

describe('default directory', () => {
  it('names the runs, or hashes them when that is too long', () => {
    expect(defaultCompareDir(['a', 'b'])).toBe('reports/compare-a-vs-b');
    const long = ['x'.repeat(60), 'y'.repeat(60), 'z'.repeat(60)];
    expect(defaultCompareDir(long)).toMatch(/^reports\/compare-x{60}-and-2-more-[0-9a-f]{10}$/);
  });
});
