/** How a rebuilt warm model compares with the committed one: each round's final metrics and loss trace. */
import type { WarmStartReport } from './export.js';
import {
  roundReports,
  traceDifferences,
  traceMismatches,
  TRACE_FILE,
  TRACE_TOLERANCE,
  type Trace,
} from './trace.js';
import type { StepLosses } from './warm-start.js';

function metrics(report: WarmStartReport): string {
  const parse = report.final.parseRate === null ? '-' : report.final.parseRate.toFixed(3);
  return `${report.steps} steps, pass rate ${report.final.passRate.toFixed(3)}, parse rate ${parse}`;
}

function traceLine(name: string, expected: readonly StepLosses[], actual: readonly StepLosses[]): string {
  const differences = traceDifferences(expected, actual);
  if (differences.length === 0) return `  ${name}: no common steps to compare`;
  const worst = Math.max(...differences.map((d) => d.relative));
  const first = traceMismatches(expected, actual)[0];
  const steps = Math.min(expected.length, actual.length);
  return first
    ? `  ${name}: losses differ from step ${first.step} (${first.stream}: ${first.expected} -> ${first.actual}); ` +
        `largest relative difference over ${steps} steps ${worst.toExponential(2)}`
    : `  ${name}: losses agree over ${steps} steps (largest relative difference ${worst.toExponential(2)}, ` +
        `tolerance ${TRACE_TOLERANCE})`;
}

/**
 * Lines describing the differences. `committedTrace` (trace.json) stands in for the committed first round's trace
 * when its report has none.
 */
export function compareBuilds(
  committed: WarmStartReport,
  rebuilt: WarmStartReport,
  committedTrace?: Trace,
): string[] {
  const [before, after] = [roundReports(committed), roundReports(rebuilt)];
  return after.flatMap((round, i) => {
    const old = before[i];
    const name = `round ${i + 1}`;
    if (!old) return [`${name}: ${metrics(round)} (no committed round to compare)`];
    const lines = [`${name}: committed ${metrics(old)}; rebuilt ${metrics(round)}`];
    const oldTrace = old.trace ?? (i === 0 ? committedTrace?.steps : undefined);
    const label = old.trace ? 'per-step losses' : `per-step losses (committed: ${TRACE_FILE})`;
    lines.push(
      oldTrace && round.trace
        ? traceLine(label, oldTrace, round.trace)
        : '  per-step losses: the committed report has none to compare',
    );
    return lines;
  });
}
