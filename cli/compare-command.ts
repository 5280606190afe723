/** `mel compare`: runs side by side in one HTML report with PNG charts, or as JSON. Reads MongoDB only. */
import type { Command } from 'commander';
import { evalsOfRuns, findRun, stepMetrics } from '../store/queries.js';
import { CliError, emit, withContext, type CliContext, type OutputOptions } from './context.js';
import {
  buildComparison,
  compareCharts,
  compareHtml,
  compareSummary,
  defaultCompareDir,
  type CompareInput,
  type Comparison,
} from './report/compare.js';
import { writeChartsPage, type WrittenReport } from './report-command.js';

export function registerCompareCommand(program: Command): void {
  program
    .command('compare')
    .description(
      'compare runs: one HTML report with PNG charts (one line per run), their held-out evals side by side ' +
        'and the differences between their configurations',
    )
    .argument('<runs...>', 'two or more run ids')
    .option(
      '--out <dir>',
      'where to write compare.html and the PNG files (default: reports/compare-<a>-vs-<b>)',
    )
    .option('--json', 'print the comparison as JSON instead of writing files')
    .action(
      withContext(async (context, runIds: string[], options: OutputOptions & { out?: string }) => {
        const comparison = buildComparison(await loadComparisonInputs(context, runIds), new Date());
        if (options.json) return emit(options, comparison, () => '');
        const written = await writeComparison(comparison, options.out ?? defaultCompareDir(runIds));
        process.stdout.write(
          [
            `wrote ${written.html}`,
            ...written.plots.map((p) => `wrote ${p.file} (${p.width}x${p.height}, ${p.bytes} bytes)`),
            compareSummary(comparison),
          ].join('\n') + '\n',
        );
      }),
    );
}

export async function loadComparisonInputs(context: CliContext, runIds: string[]): Promise<CompareInput[]> {
  if (runIds.length < 2) throw new CliError('compare needs at least two runs');
  const repeated = runIds.filter((id, i) => runIds.indexOf(id) !== i);
  if (repeated.length > 0) throw new CliError(`run ${repeated[0]} is given more than once`);
  const db = await context.db();
  const runs = await Promise.all(runIds.map((id) => findRun(db, id)));
  const unknown = runIds.filter((_, i) => !runs[i]);
  if (unknown.length > 0) {
    const named = unknown.length === 1 ? `no run named ${unknown[0]}` : `no runs named ${unknown.join(', ')}`;
    throw new CliError(`${named}: see \`mel runs\``);
  }
  const [metrics, evals] = await Promise.all([
    Promise.all(runIds.map((id) => stepMetrics(db, id))),
    evalsOfRuns(db, runIds),
  ]);
  return runs.map((run, i) => ({
    run: run!,
    metrics: metrics[i]!,
    evals: evals.filter((doc) => doc.definition.target.runId === run!._id),
  }));
}

export function writeComparison(comparison: Comparison, dir: string): Promise<WrittenReport> {
  return writeChartsPage(dir, compareCharts(comparison), 'compare.html', (plots) =>
    compareHtml(comparison, plots),
  );
}
