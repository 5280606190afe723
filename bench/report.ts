/**
 * docs/benchmarks.json and docs/benchmarks.md (tables, plots, a reading derived from the numbers) from the
 * configurations measured. The Markdown and the charts are pure; `writeReport` writes the files.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LineChart } from '../cli/report/chart.js';
import { lineChartPng } from '../cli/report/png.js';
import { LATENCY_PROFILES } from '../engine-double/latency-profiles.js';
import { STAGES } from '../temporal/contracts/run.js';
import { configLabel } from './configs.js';
import { median, slotCeiling } from './metrics.js';
import type { ConfigResult } from './results.js';

export interface BenchReport {
  machine: string;
  date: string;
  /** The commit measured (`git rev-parse HEAD`), with `+dirty` if the tree had changes. */
  commit: string;
  command: string;
  /** Every latency model used, by name, with its parameters. */
  latencyModels: Record<string, unknown>;
  configs: ConfigResult[];
}

const seconds = (value: number | null) =>
  value === null ? '–' : value < 10 ? value.toFixed(2) : value.toFixed(1);
const ratio = (value: number | null) => (value === null ? '–' : value.toFixed(2));
const percent = (value: number | null) => (value === null ? '–' : `${(value * 100).toFixed(0)} %`);
const mb = (bytes: number | null) => (bytes === null ? '–' : (bytes / 1e6).toFixed(1));

/** mel-temporal (GRPO and MEL) step time over tinker-cookbook's, per latency model and batch size. */
export function durabilityCost(configs: readonly ConfigResult[]): {
  latencyModel: string;
  batchSize: number;
  cookbookSeconds: number | null;
  grpoRatio: number | null;
  melRatio: number | null;
  /** Where a side failed after some steps, its numbers are from those steps: 'k of n steps'. */
  cookbookNote: string | null;
  grpoNote: string | null;
  melNote: string | null;
}[] {
  const find = (c: ConfigResult, system: string, mode: string) =>
    configs.find(
      (other) =>
        other.system === system &&
        other.mode === mode &&
        other.latencyModel === c.latencyModel &&
        other.batchSize === c.batchSize &&
        other.meanRolloutTokens === c.meanRolloutTokens &&
        other.steps === c.steps &&
        (mode === 'grpo' || other.pairsCap === 3),
    );
  const over = (a: ConfigResult | undefined, b: ConfigResult | undefined) =>
    a?.stepSeconds && b?.stepSeconds ? a.stepSeconds / b.stepSeconds : null;
  return configs
    .filter((c) => c.system === 'tinker-cookbook')
    .map((cookbook) => ({
      latencyModel: cookbook.latencyModel,
      batchSize: cookbook.batchSize,
      cookbookSeconds: cookbook.stepSeconds,
      grpoRatio: over(find(cookbook, 'mel-temporal', 'grpo'), cookbook),
      melRatio: over(find(cookbook, 'mel-temporal', 'mel'), cookbook),
      cookbookNote: partialNote(cookbook),
      grpoNote: partialNote(find(cookbook, 'mel-temporal', 'grpo'), cookbook),
      melNote: partialNote(find(cookbook, 'mel-temporal', 'mel'), cookbook),
    }));
}

/**
 * Sampling throughput with several inference engines over the same configuration with one: per configuration of
 * more than one engine, or of one whose slots were set (the sweep's baseline).
 */
export function engineScaling(configs: readonly ConfigResult[]): {
  label: string;
  engines: number;
  sequencesPerSecond: number | null;
  overOneEngine: number | null;
  /** Where either side failed after some steps: its rate is over those steps. */
  note: string | null;
  restoreShare: number | null;
}[] {
  const sameButEngines = (a: ConfigResult, b: ConfigResult) =>
    configLabel({ ...a, engines: 1 }) === configLabel({ ...b, engines: 1 });
  return configs
    .filter((c) => c.engines > 1 || c.engineSlots !== undefined)
    .map((c) => {
      const one = configs.find((other) => other.engines === 1 && sameButEngines(other, c));
      const rate = c.samplingSequencesPerSecond ?? null;
      const base = one?.samplingSequencesPerSecond ?? null;
      return {
        label: configLabel(c),
        engines: c.engines,
        sequencesPerSecond: rate,
        overOneEngine: rate !== null && base !== null ? rate / base : null,
        note: partialNote(c, one),
        restoreShare: c.samplingRestoreShare ?? null,
      };
    });
}

function engineScalingSection(configs: readonly ConfigResult[]): string[] {
  const rows = engineScaling(configs);
  if (rows.length === 0) return [];
  return [
    '## Several inference engines',
    '',
    "Sampling throughput: sequences the engines sampled in rollout, summarize and validate, over those stages' " +
      'wall seconds (each from its first chunk scheduled to its last closed; the restores of the policy on each ' +
      'engine included), over all steps; each engine is a double with its own inference worker, the doubles share ' +
      "a checkpoint directory. restores: the engines' time spent meanwhile restoring each step's policy on the " +
      'engines that did not train it (create a model, load the saved state, save sampler weights), as a share of ' +
      "the engines' time in those stages.",
    '',
    '| configuration | engines | sequences/s | × one engine | restores |',
    '| --- | --: | --: | --: | --: |',
    ...rows.map(
      (row) =>
        `| \`${row.label}\` | ${row.engines} | ${row.sequencesPerSecond?.toFixed(2) ?? '–'} | ` +
        `${withNote(row.overOneEngine, row.note)} | ${percent(row.restoreShare)} |`,
    ),
    '',
  ];
}

function partialNote(...sides: (ConfigResult | undefined)[]): string | null {
  const partial = sides.filter((side) => side && !side.ok && side.stepsCompleted > 0);
  return partial.length === 0
    ? null
    : partial.map((side) => `${side!.system} ${side!.stepsCompleted} of ${side!.steps} steps`).join(', ');
}

const withNote = (value: number | null, note: string | null, format = ratio) =>
  value === null ? '–' : note ? `${format(value)} (${note})` : format(value);

export function benchmarksMarkdown(report: BenchReport, plots: string[]): string {
  const lines = [
    '# Benchmarks',
    '',
    `Measured by \`${report.command}\` at commit ${report.commit} on ${report.date}, on ${report.machine}. ` +
      'Generated: edit bench/report.ts, ' +
      'not this file. Every configuration runs real MEL (or GRPO) steps through the real stack (Temporal dev server, ' +
      'the MongoDB-compatible store, worker processes) against the engine double; times are medians over steps.',
    '',
    '## What durability costs',
    '',
    'Step time of mel-temporal over tinker-cookbook for the same GRPO step (same batch, G, rollout length, engine ' +
      'double and latency model); MEL on adds contrast, summarize and validate.',
    '',
    '| latency | batch | tinker-cookbook s/step | mel-temporal GRPO ÷ cookbook | mel-temporal MEL ÷ cookbook |',
    '| --- | --: | --: | --: | --: |',
    ...durabilityCost(report.configs).map(
      (row) =>
        `| ${row.latencyModel} | ${row.batchSize} | ${row.cookbookSeconds === null ? '–' : withNote(row.cookbookSeconds, row.cookbookNote, seconds)} | ${withNote(row.grpoRatio, row.grpoNote)} | ${withNote(row.melRatio, row.melNote)} |`,
    ),
    '',
    '## Where the time goes',
    '',
    ...reading(report.configs),
    '',
    ...engineScalingSection(report.configs),
    '## Every configuration',
    '',
    'overhead = step wall time minus engine-busy time; ratio = overhead ÷ engine-busy (– at zero latency); slots = ' +
      "busy slot-seconds ÷ available slot-seconds of the double's sequence slots during rollout, summarize and validate.",
    '',
    '| configuration | ok | steps | s/step | engine s | overhead s | ratio | slots | history events/step | history KB/step | store MB/step | worker peak RSS MB | error |',
    '| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |',
    ...report.configs
      .map((c) =>
        [
          `\`${configLabel(c)}\``,
          c.ok ? 'yes' : '**no**',
          `${c.stepsCompleted}/${c.steps}`,
          seconds(c.stepSeconds),
          seconds(c.engineBusySeconds),
          seconds(c.overheadSeconds),
          ratio(c.overheadRatio),
          percent(c.engineSlotUtilisation),
          c.historyEventsPerStep?.toFixed(0) ?? '–',
          c.historyBytesPerStep === null ? '–' : (c.historyBytesPerStep / 1024).toFixed(1),
          mb(c.mongoBytesPerStep),
          c.workerPeakRssMb?.toFixed(0) ?? '–',
          c.error ? c.error.split('\n')[0]!.slice(0, 160).replace(/\|/g, '/') : '',
        ].join(' | '),
      )
      .map((row) => `| ${row} |`),
    '',
    '## Stages',
    '',
    "Median wall seconds per stage, while any of the stage's activities was open (engine-busy seconds in brackets); verify overlaps rollout (a chunk is verified as its rollout ends, since 3c8175e), and so do the GRPO datums (a chunk's are built as it is verified; before, they were built for the whole step, beside the reflection stages): internalize is what remains after the last chunk (GRPO) or after validate (MEL).",
    '',
    `| configuration | ${STAGES.join(' | ')} |`,
    `| --- | ${STAGES.map(() => '--:').join(' | ')} |`,
    ...report.configs
      .filter((c) => c.system === 'mel-temporal' && c.stepsCompleted > 0)
      .map(
        (c) =>
          `| \`${configLabel(c)}\` | ${STAGES.map((name) => {
            const stage = c.stages[name];
            return stage ? `${seconds(stage.wallSeconds)} (${seconds(stage.engineSeconds)})` : '–';
          }).join(' | ')} |`,
      ),
    '',
    '## Latency models',
    '',
    '```json',
    JSON.stringify(report.latencyModels, null, 2),
    '```',
    '',
    ...(plots.length > 0 ? ['## Plots', '', ...plots.map((file) => `![${file}](${file})`), ''] : []),
  ];
  return `${lines.join('\n')}\n`;
}

/** Sentences read off the numbers: per system, mode and latency model, the largest configuration with a step. */
export function reading(configs: readonly ConfigResult[]): string[] {
  const measured = configs.filter((c) => c.stepSeconds !== null);
  if (!measured.some((c) => c.system === 'mel-temporal'))
    return ['No mel-temporal configuration completed a step.'];
  const lines: string[] = [];
  const kinds = [...new Set(measured.map((c) => `${c.system}/${c.mode}/${c.latencyModel}`))];
  for (const kind of kinds) {
    const largest = measured
      .filter((c) => `${c.system}/${c.mode}/${c.latencyModel}` === kind)
      .sort((a, b) => b.batchSize * b.meanRolloutTokens - a.batchSize * a.meanRolloutTokens)[0]!;
    lines.push(`- ${describeLargest(largest)}`);
  }
  for (const config of configs) {
    const growth = longRunGrowth(config);
    if (growth) {
      lines.push(
        `- Over the long run \`${configLabel(config)}\`: a step's overhead was ${seconds(growth.late)} s over steps ` +
          `${growth.lateSteps} against ${seconds(growth.early)} s over steps ${growth.earlySteps} ` +
          `(${ratio(growth.late / growth.early)}; medians).`,
      );
      const cpu = longRunCpuGrowth(config);
      if (cpu.length > 0) {
        const groups = cpu.map(
          ({ group, early, late }) =>
            `${group} ${seconds(early)} → ${seconds(late)}` + (early > 0 ? ` (${ratio(late / early)}×)` : ''),
        );
        lines.push(
          `- CPU seconds a step over the same steps, by process (from /proc; the engine double does the same work ` +
            `every step, so its growth is the machine's): ${groups.join(', ')}.`,
        );
      }
    }
  }
  if (measured.some((c) => c.latencyModel === 'zero')) {
    lines.push(
      "- Under zero latency the engine-busy time is 0 by definition: the engine double's own CPU time (writing and " +
        'tokenizing every completion on the same 2 cores) counts as overhead, on both sides of the comparison.',
    );
  }
  const failed = configs.filter((c) => !c.ok);
  if (failed.length > 0)
    lines.push(`- ${failed.length} of ${configs.length} configurations failed; see the error column.`);
  return lines;
}

/** Steps around step 5, and the last ones: at least this many steps make a run long enough to compare them. */
const LONG_RUN_STEPS = 20;

/**
 * Whether a step costs more overhead late in a run than early: the median overhead of the last 5 steps done
 * against that of steps 3–7, for a run of at least LONG_RUN_STEPS steps done; null for a shorter one.
 */
export function longRunGrowth(
  config: Pick<ConfigResult, 'overheadByStep'>,
): { early: number; late: number; earlySteps: string; lateSteps: string } | null {
  return runEnds(config.overheadByStep);
}

function runEnds(perStep: readonly number[]) {
  if (perStep.length < LONG_RUN_STEPS) return null;
  return {
    early: median(perStep.slice(3, 8))!,
    late: median(perStep.slice(-5))!,
    earlySteps: '3–7',
    lateSteps: `${perStep.length - 5}–${perStep.length - 1}`,
  };
}

/** The same comparison for each process group's CPU seconds per step, the largest early first. */
export function longRunCpuGrowth(
  config: Pick<ConfigResult, 'cpuSecondsByStep'>,
): { group: string; early: number; late: number }[] {
  return Object.entries(config.cpuSecondsByStep ?? {})
    .flatMap(([group, perStep]) => {
      const ends = runEnds(perStep);
      return ends ? [{ group, early: ends.early, late: ends.late }] : [];
    })
    .sort((a, b) => b.early - a.early);
}

function describeLargest(config: ConfigResult): string {
  const shares = STAGES.flatMap((name) => {
    const stage = config.stages[name];
    return stage ? [{ name, share: stage.wallSeconds / config.stepSeconds! }] : [];
  }).sort((a, b) => b.share - a.share);
  const top = shares.slice(0, 3).map((s) => `${s.name} ${percent(s.share)}`);
  const ceiling = rolloutSlotCeiling(config);
  const slots =
    config.engineSlotUtilisation === null
      ? ''
      : `; the engine's sequence slots were ${percent(config.engineSlotUtilisation)} busy while sampling` +
        (ceiling === null ? '' : ` (an ideal scheduler of its rollout: ${percent(ceiling)})`);
  return (
    `\`${configLabel(config)}\`${config.ok ? '' : ` (${config.stepsCompleted} of ${config.steps} steps)`}: ` +
    `${seconds(config.stepSeconds)} s per step, engine busy ${seconds(config.engineBusySeconds)} s, overhead ` +
    `${seconds(config.overheadSeconds)} s` +
    (top.length > 0 ? `; the largest stages: ${top.join(', ')}` : '') +
    `${slots}.`
  );
}

/** slotCeiling for the configuration's rollout on all of its engines' slots; null without a slot limit. */
export function rolloutSlotCeiling(
  config: Pick<ConfigResult, 'batchSize' | 'groupSize' | 'engines' | 'engineSlots' | 'latencyModel'>,
): number | null {
  const profile = LATENCY_PROFILES[config.latencyModel as keyof typeof LATENCY_PROFILES];
  const slots = (config.engineSlots ?? profile?.maxConcurrentSequences ?? 0) * config.engines;
  return slots > 0 ? slotCeiling(config.batchSize * config.groupSize, slots) : null;
}

export function benchmarkCharts(configs: readonly ConfigResult[]): Record<string, LineChart> {
  const charts: Record<string, LineChart> = {};
  const long = configs.find((c) => c.steps >= 50 && c.overheadByStep.length > 1);
  if (long) {
    charts['benchmarks-overhead-by-step.png'] = {
      // The configuration's label is too long for the chart's width; the report names it.
      title: `Overhead per step, ${long.batchSize} × ${long.groupSize}, ${long.steps} steps (${long.latencyModel} latency)`,
      yLabel: 'seconds',
      x: long.overheadByStep.map((_, i) => i),
      series: [
        { name: 'overhead', values: long.overheadByStep },
        { name: 'step wall', values: long.stepSecondsByStep },
      ],
    };
  }
  const batches = [...new Set(configs.map((c) => c.batchSize))].sort((a, b) => a - b);
  for (const latencyModel of [...new Set(configs.map((c) => c.latencyModel))]) {
    const series = (['tinker-cookbook/grpo', 'mel-temporal/grpo', 'mel-temporal/mel'] as const).map(
      (kind) => ({
        name: kind,
        values: batches.map((batchSize) => {
          const match = configs.find(
            (c) =>
              `${c.system}/${c.mode}` === kind &&
              c.latencyModel === latencyModel &&
              c.batchSize === batchSize &&
              c.meanRolloutTokens === 1000 &&
              c.steps <= 5 &&
              (c.mode === 'grpo' || c.pairsCap === 3),
          );
          return match?.stepSeconds ?? null;
        }),
      }),
    );
    if (series.some((s) => s.values.some((v) => v !== null))) {
      charts[`benchmarks-step-seconds-${latencyModel}.png`] = {
        title: `Seconds per step by batch size (G = 8, 1k tokens, latency ${latencyModel})`,
        yLabel: 'seconds per step',
        xLabel: 'batch size (prompts)',
        x: batches,
        series,
      };
    }
  }
  return charts;
}

export const STORE_BENCHMARK_FILE = 'benchmarks-store.md';

/** A report kept beside docs/benchmarks.md (a run with `--out docs/benchmarks-<topic>/…`), by its folder. */
export interface RecordedReport {
  /** The report's folder, relative to the page that lists it. */
  folder: string;
  report: BenchReport;
}

/**
 * One table row per configuration of every recorded report, by date (then folder): the measurements made one at
 * a time (the larger sizes, before and after a change) next to the sweep above, each linked to its own page.
 */
export function recordsMarkdown(records: readonly RecordedReport[]): string[] {
  if (records.length === 0) return [];
  const ordered = [...records].sort(
    (a, b) => a.report.date.localeCompare(b.report.date) || a.folder.localeCompare(b.folder),
  );
  // At zero latency every second is overhead: a share of 100 % says nothing.
  const share = (c: ConfigResult) =>
    c.overheadSeconds === null || !c.stepSeconds || c.overheadRatio === null
      ? '–'
      : `${seconds(c.overheadSeconds)} (${((c.overheadSeconds / c.stepSeconds) * 100).toFixed(1)} %)`;
  return [
    '## Measurements on record',
    '',
    'Configurations measured one at a time, each with its own page (command, machine, stages); generated from ' +
      'docs/benchmarks-*/**/benchmarks.json. Compare ratios within one report, or across reports run the same ' +
      "day on the otherwise idle machine. slots: the engines' busy share while sampling; ideal: what a scheduler " +
      "that wastes nothing reaches over the decoding of the configuration's rollout, whose last sequences run while " +
      'other slots idle (`slotCeiling` in bench/metrics.ts; prefill, weight loads and the reflection stages are not ' +
      'modelled, so a measured share may differ from it in either direction).',
    '',
    '| report | date | commit | configuration | steps | s/step | overhead s (share) | slots | ideal | worker peak RSS MB |',
    '| --- | --- | --- | --- | --: | --: | --: | --: | --: | --: |',
    ...ordered
      .flatMap(({ folder, report }) =>
        report.configs.map((c) =>
          [
            `[${folder}](${folder}/benchmarks.md)`,
            report.date,
            report.commit.slice(0, 12),
            `\`${configLabel(c)}\``,
            `${c.stepsCompleted}/${c.steps}`,
            seconds(c.stepSeconds ?? null),
            share(c),
            percent(c.engineSlotUtilisation ?? null),
            percent(c.engineSlotUtilisation == null ? null : rolloutSlotCeiling(c)),
            c.workerPeakRssMb?.toFixed(0) ?? '–',
          ].join(' | '),
        ),
      )
      .map((row) => `| ${row} |`),
    '',
  ];
}

export async function writeReport(
  report: BenchReport,
  dir: string,
): Promise<{ markdown: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const plots: string[] = [];
  for (const [name, chart] of Object.entries(benchmarkCharts(report.configs))) {
    await writeFile(path.join(dir, name), lineChartPng(chart).png);
    plots.push(name);
  }
  const json = path.join(dir, 'benchmarks.json');
  const markdown = path.join(dir, 'benchmarks.md');
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  const records = recordsMarkdown(await recordedReports(dir));
  const recordsText = records.length > 0 ? `\n${records.join('\n')}` : '';
  await writeFile(markdown, `${benchmarksMarkdown(report, plots)}${recordsText}${await storeSection(dir)}`);
  return { markdown, json };
}

/** Every benchmarks.json in `dir`'s benchmarks-* folders and their subfolders. */
async function recordedReports(dir: string): Promise<RecordedReport[]> {
  const found: RecordedReport[] = [];
  const visit = async (folder: string, depth: number): Promise<void> => {
    const file = path.join(dir, folder, 'benchmarks.json');
    if (existsSync(file)) {
      found.push({ folder, report: JSON.parse(await readFile(file, 'utf8')) as BenchReport });
    }
    if (depth === 0) return;
    for (const entry of await readdir(path.join(dir, folder), { withFileTypes: true })) {
      if (entry.isDirectory()) await visit(path.posix.join(folder, entry.name), depth - 1);
    }
  };
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && entry.name.startsWith('benchmarks-')) await visit(entry.name, 1);
  }
  return found;
}

/** The store's measurement over a run (`bench/store.ts --out`), kept when the sweep rewrites the page. */
async function storeSection(dir: string): Promise<string> {
  const file = path.join(dir, STORE_BENCHMARK_FILE);
  return existsSync(file) ? `\n${await readFile(file, 'utf8')}` : '';
}
