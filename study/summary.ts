/** What the study found: per-mode means and spreads over seeds, and MEL − GRPO paired by seed. Pure. */
import type { StepMetrics } from '../store/documents.js';
import type { EvalMetrics } from '../mel/eval.js';
import { RUN_MODES, type RunMode } from '../mel/run-config.js';
import type { StudyEvalSetName } from './plan.js';

export interface StudyRunResult {
  runId: string;
  mode: RunMode;
  seed: number;
  /** Per step, in step order. */
  metrics: readonly StepMetrics[];
  evals: Partial<Record<StudyEvalSetName, EvalMetrics>>;
}

/** Mean and sample standard deviation (null for a single value) of one quantity over seeds. */
export interface Spread {
  mean: number;
  sd: number | null;
  values: number[];
}

export const STUDY_QUANTITIES = [
  'firstPassRate',
  'lastPassRate',
  'meanPassRate',
  'mixedGroups',
  'accepted',
  'retention',
  'heldOutPass1',
  'heldOutAvgK',
  'heldOutPassK',
  'trainPass1',
  'trainAvgK',
  'trainPassK',
] as const;
export type StudyQuantity = (typeof STUDY_QUANTITIES)[number];

export const QUANTITY_LABELS: Record<StudyQuantity, string> = {
  firstPassRate: 'training pass rate, first step',
  lastPassRate: 'training pass rate, last step',
  meanPassRate: 'training pass rate, mean over steps',
  mixedGroups: 'mixed groups per step (mean)',
  accepted: 'meta-experiences accepted (total)',
  retention: 'retention ratio (accepted / candidates, all steps)',
  heldOutPass1: 'held-out Pass@1 (greedy)',
  heldOutAvgK: 'held-out Avg@k',
  heldOutPassK: 'held-out Pass@k',
  trainPass1: 'training-set Pass@1 (greedy)',
  trainAvgK: 'training-set Avg@k',
  trainPassK: 'training-set Pass@k',
};

export interface StudySummary {
  seeds: number[];
  /** Per mode: each quantity's spread over the seeds (absent where no run has it). */
  modes: Record<RunMode, Partial<Record<StudyQuantity, Spread>>>;
  /** MEL − GRPO of each quantity, paired by seed (only seeds with both runs and the quantity). */
  difference: Partial<Record<StudyQuantity, Spread>>;
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new RangeError('no values to summarise');
  const m = mean(values);
  const sd =
    values.length > 1
      ? Math.sqrt(values.reduce((acc, v) => acc + (v - m) ** 2, 0) / (values.length - 1))
      : null;
  return { mean: m, sd, values: [...values] };
}

/** The quantities one run yields; those it cannot give (no steps, no eval, no candidates) are absent. */
export function runQuantities(result: StudyRunResult): Partial<Record<StudyQuantity, number>> {
  const steps = result.metrics;
  const out: Partial<Record<StudyQuantity, number>> = {};
  if (steps.length > 0) {
    out.firstPassRate = steps[0]!.passRate;
    out.lastPassRate = steps[steps.length - 1]!.passRate;
    out.meanPassRate = mean(steps.map((s) => s.passRate));
    out.mixedGroups = mean(steps.map((s) => s.mixedGroups));
    out.accepted = steps.reduce((acc, s) => acc + s.accepted, 0);
    const candidates = steps.reduce((acc, s) => acc + s.candidates, 0);
    if (candidates > 0) out.retention = out.accepted / candidates;
  }
  const evalQuantities: [StudyEvalSetName, StudyQuantity, StudyQuantity, StudyQuantity][] = [
    ['held-out', 'heldOutPass1', 'heldOutAvgK', 'heldOutPassK'],
    ['train', 'trainPass1', 'trainAvgK', 'trainPassK'],
  ];
  for (const [set, pass1, avgK, passK] of evalQuantities) {
    const metrics = result.evals[set];
    if (!metrics) continue;
    out[pass1] = metrics.pass1;
    out[avgK] = metrics.avgK;
    out[passK] = metrics.passK;
  }
  return out;
}

export function summarizeStudy(results: readonly StudyRunResult[]): StudySummary {
  const seeds = [...new Set(results.map((r) => r.seed))].sort((a, b) => a - b);
  const quantities = new Map(results.map((r) => [r, runQuantities(r)]));
  const modes = Object.fromEntries(
    RUN_MODES.map((mode) => {
      const runs = results.filter((r) => r.mode === mode);
      return [mode, spreads((q) => runs.map((r) => quantities.get(r)![q]))];
    }),
  ) as StudySummary['modes'];
  const paired = seeds.flatMap((seed) => {
    const of = (mode: RunMode) => results.find((r) => r.seed === seed && r.mode === mode);
    const [grpo, mel] = [of('grpo'), of('mel')];
    return grpo && mel ? [{ grpo: quantities.get(grpo)!, mel: quantities.get(mel)! }] : [];
  });
  const difference = spreads((q) =>
    paired.map(({ grpo, mel }) =>
      grpo[q] === undefined || mel[q] === undefined ? undefined : mel[q] - grpo[q],
    ),
  );
  return { seeds, modes, difference };
}

function spreads(
  valuesOf: (quantity: StudyQuantity) => (number | undefined)[],
): Partial<Record<StudyQuantity, Spread>> {
  const out: Partial<Record<StudyQuantity, Spread>> = {};
  for (const quantity of STUDY_QUANTITIES) {
    const values = valuesOf(quantity).filter((v): v is number => v !== undefined);
    if (values.length > 0) out[quantity] = spread(values);
  }
  return out;
}

const formatted = (s: Spread | undefined, digits: number) =>
  s === undefined
    ? '–'
    : s.sd === null
      ? s.mean.toFixed(digits)
      : `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)}`;

/** The summary as a Markdown table: one row per quantity, GRPO, MEL and their paired difference (mean ± sd). */
export function studyTable(summary: StudySummary, digits = 3): string {
  const rows = STUDY_QUANTITIES.filter(
    (q) => summary.modes.grpo[q] || summary.modes.mel[q] || summary.difference[q],
  ).map(
    (q) =>
      `| ${QUANTITY_LABELS[q]} | ${formatted(summary.modes.grpo[q], digits)} | ` +
      `${formatted(summary.modes.mel[q], digits)} | ${formatted(summary.difference[q], digits)} |`,
  );
  return [
    `| over seeds ${summary.seeds.join(', ')} (mean ± sd) | GRPO | MEL | MEL − GRPO (paired by seed) |`,
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
