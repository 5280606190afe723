/** `mel report`: an HTML report with PNG plots of a run's per-step curves and its accepted meta-experiences. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { listMetaExperiences, stepMetrics } from '../store/queries.js';
import { METRICS_FILE, writeMetricsFile } from '../trackers/metrics-file.js';
import { emit, withContext, type CliContext, type OutputOptions } from './context.js';
import type { LineChart } from './report/chart.js';
import { lineChartPng } from './report/png.js';
import { reportCharts, reportHtml, type ReportData } from './report/html.js';
import { loadStatus } from './run-state.js';

export interface WrittenReport {
  html: string;
  plots: { file: string; width: number; height: number; bytes: number }[];
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'write an HTML report with PNG plots: reward, pass rate, retention, losses, stage durations per step',
    )
    .argument('<run>', 'run id')
    .option(
      '--out <dir>',
      'where to write index.html, the PNG files and metrics.jsonl (default: reports/<run>)',
    )
    .option('--json', 'print JSON')
    .action(
      withContext(async (context, runId: string, options: OutputOptions & { out?: string }) => {
        const data = await loadReportData(context, runId);
        const dir = options.out ?? path.join('reports', runId);
        const metrics = path.join(dir, METRICS_FILE);
        const written = { ...(await writeReport(data, dir)), metrics };
        await writeMetricsFile(metrics, data.metrics);
        emit(options, written, (w) =>
          [
            `wrote ${w.html}`,
            ...w.plots.map((p) => `wrote ${p.file} (${p.width}x${p.height}, ${p.bytes} bytes)`),
            `wrote ${w.metrics} (${data.metrics.length} steps)`,
          ].join('\n'),
        );
      }),
    );
}

async function loadReportData(context: CliContext, runId: string): Promise<ReportData> {
  const db = await context.db();
  const run = await context.run(runId);
  const [metrics, accepted, status] = await Promise.all([
    stepMetrics(db, runId),
    listMetaExperiences(db, runId, { verdict: 'accepted' }),
    loadStatus(context, runId, 0).catch(() => undefined),
  ]);
  const phase = status?.run?.phase ?? status?.searchAttributes.phase ?? null;
  return { runId, config: run.config, phase, metrics, accepted, generatedAt: new Date() };
}

export function writeReport(data: ReportData, dir: string): Promise<WrittenReport> {
  return writeChartsPage(dir, reportCharts(data), 'index.html', (plots) => reportHtml(data, plots));
}

/** Writes each chart as a PNG named by its key, then the page `htmlName` that `render` makes of their file names. */
export async function writeChartsPage(
  dir: string,
  charts: Record<string, LineChart>,
  htmlName: string,
  render: (plots: string[]) => string,
): Promise<WrittenReport> {
  await mkdir(dir, { recursive: true });
  const plots: WrittenReport['plots'] = [];
  for (const [name, chart] of Object.entries(charts)) {
    const { png, width, height } = lineChartPng(chart);
    const file = path.join(dir, name);
    await writeFile(file, png);
    plots.push({ file, width, height, bytes: png.length });
  }
  const html = path.join(dir, htmlName);
  await writeFile(html, render(plots.map((plot) => path.basename(plot.file))));
  return { html, plots };
}
