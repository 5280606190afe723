/** Text views of runs: the runs table, a run's status, per-step metrics, and the progress line of `mel train`. */
import type { StepMetricsRow } from '../store/queries.js';
import { STAGES, type RunStatus, type StageName } from '../temporal/contracts/run.js';
import { decimal, duration, fields, percent, progressBar, section, table, timestamp } from './format.js';
import type { RunListing, StatusReport } from './run-state.js';

export function renderRuns(runs: RunListing[]): string {
  if (runs.length === 0) return 'no runs yet: start one with `mel train <config>`';
  return table(
    ['RUN', 'MODE', 'STATUS', 'PHASE', 'STEP', 'RECORDED', 'STARTED'],
    runs.map((run) => [
      run.runId,
      run.mode ?? '-',
      run.executionStatus ?? 'NO WORKFLOW',
      run.phase ?? '-',
      run.step === null ? '-' : String(run.step),
      `${run.stepsRecorded}/${run.totalSteps ?? '?'}`,
      timestamp(run.startTime),
    ]),
  );
}

/** Steps are numbered from 0, as in document ids and `--step`; the position makes the count plain. */
export function stepLabel(step: number, totalSteps: number): string {
  return `step ${step} (${step + 1}/${totalSteps})`;
}

/** Fraction of all stages of all steps done: what the progress bar shows. */
export function runFraction(status: RunStatus, stage: StageName | undefined): number {
  const total = status.totalSteps * STAGES.length;
  if (total === 0) return 1;
  const stepsDone = status.currentStep ?? status.nextStep;
  const stagesDone = stage ? STAGES.indexOf(stage) : 0;
  return Math.min(1, (stepsDone * STAGES.length + stagesDone) / total);
}

/** `step 2/3 [█████░░░] 45% · validate (5/7)`, or the phase when no step is running. */
export function progressLine(status: RunStatus, stage: StageName | undefined): string {
  const bar = progressBar(runFraction(status, stage));
  if (status.currentStep === undefined) {
    const reason = status.pauseReason ? ` (${status.pauseReason})` : '';
    return `${bar}  ${status.phase}${reason}`;
  }
  const stageText = stage ? `${stage} (${STAGES.indexOf(stage) + 1}/${STAGES.length})` : 'between stages';
  const paused = status.paused ? ' · pausing after this step' : '';
  return `${stepLabel(status.currentStep, status.totalSteps)} ${bar}  ${stageText}${paused}`;
}

/** One line per finished step, from the run's own status. */
export function stepDoneLine(lastStep: NonNullable<RunStatus['lastStep']>, totalSteps: number): string {
  const { step, verify, validate, update } = lastStep;
  return (
    `${stepLabel(step, totalSteps)} done: pass rate ${percent(verify.passRate)}, ` +
    `mixed groups ${verify.mixedGroups}, meta-experiences accepted ${validate.accepted} / rejected ${validate.rejected}, ` +
    `GRPO loss ${decimal(update.grpoLoss)}, NLL loss ${decimal(update.nllLoss)}`
  );
}

/** The per-step columns shared by `mel status` and the HTML report. */
export const METRIC_HEADERS = [
  'STEP',
  'PASS',
  'MIXED',
  'PAIRS',
  'CAND',
  'ACC',
  'REJ',
  'RETENTION',
  'GRPO LOSS',
  'NLL LOSS',
  'EXCL',
];

export function metricCells(row: StepMetricsRow): string[] {
  return [
    String(row.step),
    percent(row.passRate),
    String(row.mixedGroups),
    String(row.pairs),
    String(row.candidates),
    String(row.accepted),
    String(row.rejected),
    percent(row.retentionRatio),
    decimal(row.grpoLoss),
    decimal(row.nllLoss),
    excludedCell(row),
  ];
}

/** Rollout items left out as unusable: `0`, or `1p 3s` (one whole prompt and three samples). */
function excludedCell({ excludedPrompts = 0, excludedSamples = 0 }: StepMetricsRow): string {
  if (excludedPrompts + excludedSamples === 0) return '0';
  return [excludedPrompts && `${excludedPrompts}p`, excludedSamples && `${excludedSamples}s`]
    .filter(Boolean)
    .join(' ');
}

export function renderMetrics(rows: StepMetricsRow[]): string {
  if (rows.length === 0) return 'no step recorded yet';
  const totalMs = (row: StepMetricsRow) =>
    Object.values(row.stageDurationsMs).reduce((sum, ms) => sum + (ms ?? 0), 0);
  return table(
    [...METRIC_HEADERS, 'TIME'],
    rows.map((row) => [...metricCells(row), duration(totalMs(row))]),
  );
}

/** Where a run's last error happened: its step, or its start (registering it, creating its first policy). */
export function failedAt(lastError: NonNullable<RunStatus['lastError']>): string {
  return lastError.starting ? 'the start of the run' : `step ${lastError.step}`;
}

export function renderStatus(report: StatusReport): string {
  const { run, workflow, searchAttributes } = report;
  const step = run
    ? run.currentStep !== undefined
      ? `${stepLabel(run.currentStep, run.totalSteps)} running${report.stage ? `, stage ${report.stage}` : ''}`
      : `${run.nextStep} of ${run.totalSteps} done`
    : searchAttributes.step !== undefined
      ? `step ${searchAttributes.step} (last published)`
      : undefined;
  const head = fields([
    ['mode', report.mode],
    ['workflow', workflow ? `${workflow.workflowId} (${workflow.executionStatus})` : 'none'],
    ['phase', run?.phase ?? searchAttributes.phase],
    ['step', step],
    ['progress', run ? progressBar(runFraction(run, report.stage)) : undefined],
    ['paused', run?.paused ? `yes: ${run.pauseReason ?? 'no reason given'}` : run ? 'no' : undefined],
    ['last error', run?.lastError ? `${failedAt(run.lastError)}: ${run.lastError.message}` : undefined],
    ['next', run?.lastError ? `fix the cause, then: mel resume ${report.runId}` : undefined],
    ['started', workflow?.startTime ? timestamp(workflow.startTime) : undefined],
    ['closed', workflow?.closeTime ? timestamp(workflow.closeTime) : undefined],
    ['temporal ui', workflow?.url],
  ]);
  const notes = report.notes.map((note) => `note: ${note}`);
  return [
    section(`run ${report.runId}`, head),
    ...notes,
    '',
    section('recent steps', renderMetrics(report.recentMetrics)),
  ].join('\n');
}
