/** The run report: per-step curves (PNG files beside it) and tables of metrics and accepted meta-experiences. Pure. */
import type { MetaExperienceDoc } from '../../store/documents.js';
import type { StepMetricsRow } from '../../store/queries.js';
import { STAGES } from '../../temporal/contracts/run.js';
import type { RunConfig } from '../../mel/run-config.js';
import { decimal, duration } from '../format.js';
import { METRIC_HEADERS, metricCells } from '../run-views.js';
import { escapeXml as escapeHtml, type LineChart } from './chart.js';

export interface ReportData {
  runId: string;
  config: RunConfig | null;
  phase: string | null;
  metrics: StepMetricsRow[];
  accepted: MetaExperienceDoc[];
  generatedAt: Date;
}

/** The charts of a report, keyed by the PNG file each becomes. */
export function reportCharts({ metrics }: ReportData): Record<string, LineChart> {
  const x = metrics.map((m) => m.step);
  const column = (pick: (m: StepMetricsRow) => number | null) => metrics.map(pick);
  return {
    'reward.png': {
      title: 'Training pass rate (mean 0/1 reward)',
      yLabel: 'fraction of rollouts',
      x,
      yRange: [0, 1],
      series: [{ name: 'pass rate', values: column((m) => m.passRate) }],
    },
    'meta-experiences.png': {
      title: 'Meta-experiences per step',
      yLabel: 'count',
      x,
      series: [
        { name: 'candidates', values: column((m) => m.candidates) },
        { name: 'accepted', values: column((m) => m.accepted) },
        { name: 'rejected', values: column((m) => m.rejected) },
      ],
    },
    'retention.png': {
      title: 'Retention ratio (accepted / candidates)',
      yLabel: 'ratio',
      x,
      yRange: [0, 1],
      series: [{ name: 'retention', values: column((m) => m.retentionRatio) }],
    },
    'losses.png': {
      title: 'Losses',
      yLabel: 'loss',
      x,
      series: [
        { name: 'GRPO loss', values: column((m) => m.grpoLoss) },
        { name: 'NLL loss', values: column((m) => m.nllLoss) },
      ],
    },
    'durations.png': {
      title: 'Stage durations',
      yLabel: 'seconds',
      x,
      series: STAGES.map((stage) => ({
        name: stage,
        values: column((m) => secondsOf(m.stageDurationsMs[stage])),
      })),
    },
  };
}

function secondsOf(ms: number | undefined): number | null {
  return ms === undefined ? null : ms / 1_000;
}

export function reportHtml(data: ReportData, plots: string[]): string {
  const title = `MEL run ${data.runId}`;
  return htmlPage(
    title,
    `<p>${escapeHtml(summaryLine(data))}</p>
<h2>Curves</h2>
${plotsDiv(plots)}
<h2>Per step</h2>
${metricsTable(data.metrics)}
<h2>Accepted meta-experiences (${data.accepted.length})</h2>
${acceptedTable(data.accepted)}`,
  );
}

/** A report page: the shared head and style, the title as heading, then `body`. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.plots img { width: 640px; max-width: 100%; margin: 0.5em 1em 0.5em 0; border: 1px solid #ddd; }
.muted { color: #888; }
pre { white-space: pre-wrap; margin: 0; }
</style></head><body>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

/** The chart images, side by side. */
export function plotsDiv(plots: readonly string[]): string {
  return `<div class="plots">${plots.map((file) => `<img src="${escapeHtml(file)}" alt="${escapeHtml(file)}">`).join('\n')}</div>`;
}

function summaryLine(data: ReportData): string {
  const config = data.config;
  const shape = config
    ? `${config.mode === 'grpo' ? 'GRPO baseline (no meta-experiences)' : 'MEL'}, ` +
      `${config.steps} steps × ${config.batchSize} prompts × ${config.groupSize} samples, seed ${config.seed}` +
      (config.mode === 'grpo' ? '' : `, meta-experience mode ${config.mel.metaExperience.mode}`)
    : 'configuration not found';
  return `${shape}; phase ${data.phase ?? 'unknown'}; ${data.metrics.length} step(s) recorded; generated ${data.generatedAt.toISOString()}`;
}

/** A table; header texts are escaped here, cells must be HTML already. */
export function htmlTable(headers: string[], rows: string[][]): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${cell}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function metricsTable(metrics: StepMetricsRow[]): string {
  if (metrics.length === 0) return '<p>No step recorded yet.</p>';
  return htmlTable(
    [...METRIC_HEADERS.map((header) => header.toLowerCase()), ...STAGES],
    metrics.map((m) =>
      [...metricCells(m), ...STAGES.map((stage) => duration(m.stageDurationsMs[stage]))].map(escapeHtml),
    ),
  );
}

function unparsedText(doc: MetaExperienceDoc): string {
  const reason = doc.parse.ok ? '' : doc.parse.reason;
  return `(did not parse: ${reason})\n${doc.generation.turns.map((turn) => turn.text).join('\n\n')}`;
}

function acceptedTable(accepted: MetaExperienceDoc[]): string {
  if (accepted.length === 0) return '<p>None accepted.</p>';
  return htmlTable(
    ['id (mel audit)', 'step', 'critique', 'heuristics', 'decision', 'NLL'],
    accepted.map((doc) => {
      const parsed = doc.parse.ok ? doc.parse.metaExperience : null;
      return [
        `<code>${escapeHtml(doc._id)}</code>`,
        String(doc.step),
        // Gate 'replay-only' accepts reflections that did not parse: their raw text is what was trained on.
        `<pre>${escapeHtml(parsed?.critique ?? unparsedText(doc))}</pre>`,
        `<ol>${(parsed?.heuristics ?? []).map((h) => `<li>${escapeHtml(h)}</li>`).join('')}</ol>`,
        escapeHtml(doc.verdict?.detail ?? ''),
        decimal(doc.internalization?.nll ?? null, 3),
      ];
    }),
  );
}
