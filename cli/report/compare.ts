/**
 * `mel compare`: runs side by side. Their per-step curves (one line per run), their held-out evals grouped by data
 * and settings, and the fields in which their configurations differ; as JSON (`Comparison`), PNG charts and HTML.
 * Pure: the command reads the documents, this assembles them.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { parseRunConfig, type RunMode } from '../../mel/run-config.js';
import type { EvalDoc, RunDoc } from '../../store/documents.js';
import type { StepMetricsRow } from '../../store/queries.js';
import type { EvalMetrics, EvalSettings } from '../../temporal/contracts/eval.js';
import { percent, timestamp } from '../format.js';
import { escapeXml as escapeHtml, type LineChart } from './chart.js';
import { diffConfigs, type DiffValue } from './config-diff.js';
import { htmlPage, htmlTable, plotsDiv } from './html.js';

/** What the command reads for one run. */
export interface CompareInput {
  run: Pick<RunDoc, '_id' | 'config' | 'baseModel' | 'createdAt'>;
  metrics: StepMetricsRow[];
  /** The evals of policies this run produced (`definition.target.runId`), in any order. */
  evals: EvalDoc[];
}

export interface ComparedRun {
  runId: string;
  mode: RunMode;
  baseModel: string;
  createdAt: string;
  /** Steps the configuration asks for, and steps with metrics recorded. */
  totalSteps: number | null;
  stepsRecorded: number;
  /** The stored configuration parsed (defaults added since it was written filled in), else as stored. */
  config: unknown;
  configParsed: boolean;
}

/** One run's line in a chart: one value per step of `Comparison.steps`, null where it has none. */
export interface RunSeries {
  runId: string;
  values: (number | null)[];
  /** Why the run has no line at all (a GRPO baseline has no meta-experiences and no NLL loss). */
  absent?: string;
}

export const COMPARED_METRICS = [
  'passRate',
  'mixedGroups',
  'accepted',
  'retentionRatio',
  'grpoLoss',
  'nllLoss',
] as const;
export type ComparedMetric = (typeof COMPARED_METRICS)[number];

/** What a run's eval was: the policy evaluated and, once completed, its metrics. */
export interface EvalSummary {
  evalId: string;
  status: EvalDoc['status'];
  /** 'run': the run's newest policy when evaluated; 'checkpoint': a policy the run saved, named by path. */
  kind: 'run' | 'checkpoint';
  /** The step whose update produced the policy; null: the run's initial policy. */
  step: number | null;
  statePath: string;
  problems: number;
  metrics: EvalMetrics | null;
  truncated: number | null;
  createdAt: string;
  completedAt: string | null;
}

/** The evals of one held-out data set (by content) with the same settings: each run's, in the order of `runs`. */
export interface EvalGroup {
  data: { sha256: string; paths: string[] };
  settings: EvalSettings;
  runs: { runId: string; evals: EvalSummary[] }[];
}

export interface RunValue {
  runId: string;
  present: boolean;
  value?: unknown;
}

export interface Comparison {
  runs: ComparedRun[];
  /** Every step any run recorded, ascending: the x of every series. */
  steps: number[];
  series: Record<ComparedMetric, RunSeries[]>;
  evals: EvalGroup[];
  /** The configuration fields (dotted paths, runId left out) that are not the same in every run. */
  configDifferences: { path: string; values: RunValue[] }[];
  generatedAt: string;
}

/** Metrics a GRPO baseline does not have: it runs no contrast, summarize, validate or internalize. */
const MEL_ONLY: Partial<Record<ComparedMetric, string>> = {
  accepted: 'GRPO baseline: no meta-experiences',
  retentionRatio: 'GRPO baseline: no meta-experiences',
  nllLoss: 'GRPO baseline: no NLL loss',
};

export function buildComparison(inputs: readonly CompareInput[], generatedAt: Date): Comparison {
  const runs = inputs.map(comparedRun);
  const steps = [...new Set(inputs.flatMap((input) => input.metrics.map((m) => m.step)))].sort(
    (a, b) => a - b,
  );
  const series = Object.fromEntries(
    COMPARED_METRICS.map((metric) => [
      metric,
      inputs.map((input, i) => runSeries(input, runs[i]!.mode, steps, metric)),
    ]),
  ) as Record<ComparedMetric, RunSeries[]>;
  const configDifferences = diffConfigs(runs.map((run) => run.config)).map(({ path, values }) => ({
    path,
    values: values.map((value: DiffValue, i) => ({ runId: runs[i]!.runId, ...value })),
  }));
  return {
    runs,
    steps,
    series,
    evals: evalGroups(inputs),
    configDifferences,
    generatedAt: generatedAt.toISOString(),
  };
}

function comparedRun({ run, metrics }: CompareInput): ComparedRun {
  let config: unknown = run.config;
  let configParsed = false;
  try {
    config = parseRunConfig(run.config, 'stored run configuration');
    configParsed = true;
  } catch {
    // A configuration stored by an older version that no longer parses: compared as stored.
  }
  const fields = (config ?? {}) as { mode?: unknown; steps?: unknown };
  return {
    runId: run._id,
    mode: fields.mode === 'grpo' ? 'grpo' : 'mel',
    baseModel: run.baseModel,
    createdAt: run.createdAt.toISOString(),
    totalSteps: typeof fields.steps === 'number' ? fields.steps : null,
    stepsRecorded: metrics.length,
    config,
    configParsed,
  };
}

function runSeries(
  { run, metrics }: CompareInput,
  mode: RunMode,
  steps: number[],
  metric: ComparedMetric,
): RunSeries {
  const absent = mode === 'grpo' ? MEL_ONLY[metric] : undefined;
  if (absent) return { runId: run._id, values: steps.map(() => null), absent };
  const byStep = new Map(metrics.map((row) => [row.step, row[metric]]));
  return { runId: run._id, values: steps.map((step) => byStep.get(step) ?? null) };
}

function evalGroups(inputs: readonly CompareInput[]): EvalGroup[] {
  const groups = new Map<string, { group: EvalGroup; first: number }>();
  inputs.forEach((input, runIndex) => {
    for (const doc of input.evals) {
      const { data, settings } = doc.definition;
      const key = JSON.stringify([data.sha256, settingsKey(settings)]);
      let entry = groups.get(key);
      if (!entry) {
        entry = {
          group: {
            data: { sha256: data.sha256, paths: [] },
            settings,
            runs: inputs.map((other) => ({ runId: other.run._id, evals: [] })),
          },
          first: doc.createdAt.getTime(),
        };
        groups.set(key, entry);
      }
      entry.first = Math.min(entry.first, doc.createdAt.getTime());
      if (!entry.group.data.paths.includes(data.path)) entry.group.data.paths.push(data.path);
      entry.group.runs[runIndex]!.evals.push(evalSummary(doc));
    }
  });
  const sorted = [...groups.values()].sort((a, b) => a.first - b.first).map((entry) => entry.group);
  for (const group of sorted) {
    for (const run of group.runs) run.evals.sort(byPolicy);
  }
  return sorted;
}

/** Settings as a key independent of the order of their fields. */
function settingsKey(settings: EvalSettings): string {
  return JSON.stringify(Object.entries(settings).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function evalSummary(doc: EvalDoc): EvalSummary {
  const { target } = doc.definition;
  return {
    evalId: doc._id,
    status: doc.status,
    kind: target.kind,
    step: target.step,
    statePath: target.policy.statePath,
    problems: doc.result?.metrics.problems ?? doc.problems,
    metrics: doc.result?.metrics ?? null,
    truncated: doc.result?.truncated ?? null,
    createdAt: doc.createdAt.toISOString(),
    completedAt: doc.result?.completedAt ?? null,
  };
}

/** Oldest policy first (the initial one, then by step); the same policy by when it was evaluated. */
function byPolicy(a: EvalSummary, b: EvalSummary): number {
  return (a.step ?? -1) - (b.step ?? -1) || a.createdAt.localeCompare(b.createdAt);
}

/** The eval a run's cell shows: the completed one of its newest policy; else a running one, if any. */
export function shownEval(evals: readonly EvalSummary[]): EvalSummary | undefined {
  const completed = evals.filter((e) => e.status === 'completed' && e.metrics);
  return completed.at(-1) ?? evals.at(-1);
}

/** `reports/compare-<a>-vs-<b>…`, or, for names too long for a directory, the first run and a hash of all. */
export function defaultCompareDir(runIds: readonly string[]): string {
  const joined = `compare-${runIds.join('-vs-')}`;
  if (joined.length <= 160) return path.join('reports', joined);
  const hash = createHash('sha256').update(runIds.join('\n')).digest('hex').slice(0, 10);
  return path.join('reports', `compare-${runIds[0]}-and-${runIds.length - 1}-more-${hash}`);
}

// ---- charts ----

const CHARTS: Record<
  ComparedMetric,
  { file: string; title: string; yLabel: string; yRange?: [number, number] }
> = {
  passRate: {
    file: 'reward.png',
    title: 'Training pass rate (mean 0/1 reward)',
    yLabel: 'fraction of rollouts',
    yRange: [0, 1],
  },
  mixedGroups: { file: 'mixed-groups.png', title: 'Mixed groups per step', yLabel: 'groups' },
  accepted: { file: 'accepted.png', title: 'Accepted meta-experiences per step', yLabel: 'count' },
  retentionRatio: {
    file: 'retention.png',
    title: 'Acceptance / retention (accepted / candidates)',
    yLabel: 'ratio',
    yRange: [0, 1],
  },
  grpoLoss: { file: 'grpo-loss.png', title: 'GRPO loss', yLabel: 'loss' },
  nllLoss: { file: 'nll-loss.png', title: 'NLL loss (internalization)', yLabel: 'loss' },
};

/** One chart per compared metric, one line per run, keyed by the PNG file each becomes. */
export function compareCharts(comparison: Comparison): Record<string, LineChart> {
  return Object.fromEntries(
    COMPARED_METRICS.map((metric) => {
      const { file, ...chart } = CHARTS[metric];
      return [
        file,
        {
          ...chart,
          x: comparison.steps,
          legend: 'below',
          series: comparison.series[metric].map((line, i) => ({
            name: `${line.runId} (${modeName(comparison.runs[i]!.mode)})`,
            values: line.values,
            ...(line.absent ? { absentNote: line.absent } : {}),
          })),
        } satisfies LineChart,
      ];
    }),
  );
}

function modeName(mode: RunMode): string {
  return mode === 'grpo' ? 'GRPO baseline' : 'MEL';
}

// ---- HTML ----

export function compareHtml(comparison: Comparison, plots: string[]): string {
  const runIds = comparison.runs.map((run) => run.runId);
  const title = `MEL runs compared: ${runIds.join(' vs ')}`;
  return htmlPage(
    title,
    `<p>generated ${escapeHtml(comparison.generatedAt)}</p>
<h2>Runs</h2>
${runsTable(comparison)}
<h2>Curves</h2>
${plotsDiv(plots)}
<h2>Held-out evals</h2>
${evalTables(comparison)}
<h2>Configuration differences</h2>
${differencesTable(comparison)}`,
  );
}

const runHeaders = (comparison: Comparison) => comparison.runs.map((run) => run.runId);

function runsTable(comparison: Comparison): string {
  return htmlTable(
    ['run', 'mode', 'base model', 'steps recorded', 'created'],
    comparison.runs.map((run) =>
      [
        run.runId,
        modeName(run.mode),
        run.baseModel,
        `${run.stepsRecorded} of ${run.totalSteps ?? '?'}`,
        timestamp(new Date(run.createdAt)) +
          (run.configParsed ? '' : ' (configuration no longer parses: compared as stored)'),
      ].map(escapeHtml),
    ),
  );
}

function evalTables(comparison: Comparison): string {
  if (comparison.evals.length === 0) return '<p>No run has been evaluated (`mel eval`).</p>';
  return comparison.evals.map((group) => evalTable(comparison, group)).join('\n');
}

function evalTable(comparison: Comparison, group: EvalGroup): string {
  const { settings, data } = group;
  const k = settings.k;
  const heading =
    `${data.paths.map((p) => path.basename(p)).join(', ')} (sha256 ${data.sha256.slice(0, 12)}): ` +
    `1 greedy + ${k} sampled at temperature ${settings.temperature}, max ${settings.maxTokens} tokens, ` +
    `${settings.limit === null ? 'all problems' : `first ${settings.limit} problems`}, seed ${settings.seed}`;
  const shown = group.runs.map((run) => shownEval(run.evals));
  const metricRow = (label: string, pick: (m: EvalMetrics) => string) => [
    escapeHtml(label),
    ...shown.map((e) =>
      e?.metrics ? escapeHtml(pick(e.metrics)) : `<span class="muted">${notShown(e)}</span>`,
    ),
  ];
  const rows = [
    metricRow('Pass@1 (greedy)', (m) => percent(m.pass1)),
    metricRow(`Avg@${k}`, (m) => percent(m.avgK)),
    metricRow(`Pass@${k}`, (m) => percent(m.passK)),
    metricRow('problems', (m) => String(m.problems)),
    [
      'policy evaluated',
      ...shown.map((e) =>
        e ? `${escapeHtml(policyLabel(e))}<br><code>${escapeHtml(e.statePath)}</code>` : '',
      ),
    ],
    ['eval id', ...shown.map((e) => (e ? `<code>${escapeHtml(e.evalId)}</code>` : ''))],
  ];
  const others = group.runs.map((run, i) => run.evals.filter((e) => e !== shown[i]));
  if (others.some((list) => list.length > 0)) {
    rows.push([
      'other evals (same data and settings)',
      ...others.map((list) =>
        list
          .map((e) =>
            escapeHtml(`${policyLabel(e)}: ${e.metrics ? `Pass@1 ${percent(e.metrics.pass1)}` : e.status}`),
          )
          .join('<br>'),
      ),
    ]);
  }
  return `<h3>${escapeHtml(heading)}</h3>\n${htmlTable(['', ...runHeaders(comparison)], rows)}`;
}

function notShown(e: EvalSummary | undefined): string {
  return e ? escapeHtml(`${e.status} (no result yet)`) : 'not evaluated';
}

function policyLabel(e: EvalSummary): string {
  return e.step === null ? 'initial policy' : `after step ${e.step}`;
}

function differencesTable(comparison: Comparison): string {
  if (comparison.configDifferences.length === 0) {
    return '<p>The configurations are the same (apart from the run ids).</p>';
  }
  return htmlTable(
    ['field', ...runHeaders(comparison)],
    comparison.configDifferences.map(({ path: field, values }) => [
      `<code>${escapeHtml(field)}</code>`,
      ...values.map((v) =>
        v.present ? `<code>${escapeHtml(valueText(v.value))}</code>` : '<span class="muted">(absent)</span>',
      ),
    ]),
  );
}

export function valueText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
}

/** The text `mel compare` prints without --json besides the files it wrote: the differences and eval headlines. */
export function compareSummary(comparison: Comparison): string {
  const lines = comparison.configDifferences.map(
    ({ path: field, values }) =>
      `  ${field}: ${values.map((v) => `${v.runId}=${v.present ? valueText(v.value) : '(absent)'}`).join(', ')}`,
  );
  const evals = comparison.evals.map((group) => {
    const cells = group.runs.map(({ runId, evals: list }) => {
      const e = shownEval(list);
      return `${runId}=${e?.metrics ? `${percent(e.metrics.pass1)} (${policyLabel(e)})` : e ? e.status : 'not evaluated'}`;
    });
    return `  Pass@1 on ${group.data.paths.map((p) => path.basename(p)).join(', ')}: ${cells.join(', ')}`;
  });
  return [
    comparison.configDifferences.length
      ? `configuration differences:\n${lines.join('\n')}`
      : 'configurations: the same (apart from the run ids)',
    evals.length ? `held-out evals:\n${evals.join('\n')}` : 'held-out evals: none',
  ].join('\n');
}
