/**
 * The warm start's loss trace: the mean NLL of each stream at each step. The first TRACE_STEPS steps of the first
 * round, run from the raw tiny model, are recorded next to the committed model (trace.json); the CI test runs them
 * again and compares, so a change to the warm-start code that would change the model shows up in minutes.
 */
import { z } from 'zod';
import type { WarmStartReport } from './export.js';
import { WARM_START_ROUNDS, warmStartTrace, type StepLosses, type WarmStartDeps } from './warm-start.js';

export const TRACE_FILE = 'trace.json';
/** Steps 1-4 of the first round train every stream it has (rollouts every step, the others every second). */
export const TRACE_STEPS = 4;
/** Relative: CPU float differences between machines stay far below it, a changed batch or datum does not. */
export const TRACE_TOLERANCE = 1e-3;

const StepLossesSchema = z.object({ step: z.number().int(), nll: z.record(z.string(), z.number()) });

export const TraceSchema = z.object({
  round: z.string(),
  steps: z.array(StepLossesSchema),
  recordedAt: z.string(),
});
export type Trace = z.infer<typeof TraceSchema>;

export interface LossDifference {
  step: number;
  stream: string;
  expected: number | undefined;
  actual: number | undefined;
  /** |actual − expected| / |expected|; Infinity when only one side has the loss. */
  relative: number;
}

/** Every (step, stream) loss of `expected` or `actual` over their common steps, with its relative difference. */
export function traceDifferences(
  expected: readonly StepLosses[],
  actual: readonly StepLosses[],
): LossDifference[] {
  const steps = Math.min(expected.length, actual.length);
  return Array.from({ length: steps }, (_, i) => {
    const [a, b] = [expected[i]!, actual[i]!];
    const streams = [...new Set([...Object.keys(a.nll), ...Object.keys(b.nll)])].sort();
    return streams.map((stream) => {
      const e = a.nll[stream as keyof StepLosses['nll']];
      const x = b.nll[stream as keyof StepLosses['nll']];
      const relative =
        e === undefined || x === undefined ? Infinity : Math.abs(x - e) / Math.max(Math.abs(e), 1e-12);
      return { step: a.step, stream, expected: e, actual: x, relative };
    });
  }).flat();
}

/** The differences above the tolerance (none: the traces agree). */
export function traceMismatches(
  expected: readonly StepLosses[],
  actual: readonly StepLosses[],
  tolerance = TRACE_TOLERANCE,
): LossDifference[] {
  return traceDifferences(expected, actual).filter((difference) => !(difference.relative <= tolerance));
}

/** The reports of every round, first round first (a report holds the one before it as `basedOn`). */
export function roundReports(report: WarmStartReport): WarmStartReport[] {
  return [...(report.basedOn ? roundReports(report.basedOn) : []), report];
}

/** Runs the first `steps` steps of the first round on the engine (which must serve the raw tiny model). */
export async function runTrace(deps: WarmStartDeps, steps = TRACE_STEPS) {
  const first = WARM_START_ROUNDS[0]!;
  const run = await warmStartTrace(deps, first.options, steps);
  const trace: Trace = { round: first.name, steps: run.trace, recordedAt: new Date().toISOString() };
  return { ...run, recorded: trace };
}
