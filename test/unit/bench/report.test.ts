import { describe, expect, it } from 'vitest';
import { longRunCpuGrowth, longRunGrowth, recordsMarkdown, type BenchReport } from '../../../bench/report.js';
import { slotCeiling } from '../../../bench/metrics.js';
import type { ConfigResult } from '../../../bench/results.js';

describe('the growth of overhead over a long run', () => {
  it('compares the median of the last 5 steps with that of steps 3–7', () => {
    const overheadByStep = Array.from({ length: 100 }, (_, step) => 10 + step / 10);
    expect(longRunGrowth({ overheadByStep })).toEqual({
      early: 10.5,
      late: 19.7,
      earlySteps: '3–7',
      lateSteps: '95–99',
    });
  });

  it('is not judged on a run too short to have both ends', () => {
    expect(longRunGrowth({ overheadByStep: Array<number>(19).fill(1) })).toBeNull();
    expect(longRunGrowth({ overheadByStep: Array<number>(20).fill(1) })).toMatchObject({
      lateSteps: '15–19',
    });
  });
});

describe('the growth of CPU time by process over a long run', () => {
  it("compares each group's steps 3–7 with its last 5, the largest first", () => {
    const steps = (at: (step: number) => number) => Array.from({ length: 100 }, (_, step) => at(step));
    expect(
      longRunCpuGrowth({
        cpuSecondsByStep: { workers: steps((s) => 10 + s / 10), 'engine double': steps(() => 15) },
      }),
    ).toEqual([
      { group: 'engine double', early: 15, late: 15 },
      { group: 'workers', early: 10.5, late: 19.7 },
    ]);
  });

  it('says nothing for a short run, or one recorded before CPU was read', () => {
    expect(longRunCpuGrowth({ cpuSecondsByStep: { workers: [1, 2, 3] } })).toEqual([]);
    expect(longRunCpuGrowth({})).toEqual([]);
  });
});

describe('the measurements on record', () => {
  const config = (overrides: Partial<ConfigResult>): ConfigResult => ({
    system: 'mel-temporal',
    mode: 'grpo',
    latencyModel: 'h100-8b',
    engines: 1,
    groupSize: 8,
    meanRolloutTokens: 1000,
    pairsCap: null,
    steps: 5,
    batchSize: 128,
    ok: false,
    error: 'over the budget',
    stepsCompleted: 2,
    stepSeconds: 250,
    engineBusySeconds: 240,
    overheadSeconds: 10,
    overheadRatio: 10 / 240,
    engineSlotUtilisation: 0.8,
    historyEventsPerStep: 147,
    historyBytesPerStep: 34_000,
    mongoBytesPerStep: 3_200_000,
    workerPeakRssMb: 498,
    stages: {},
    overheadByStep: [10, 10],
    stepSecondsByStep: [250, 250],
    wallSeconds: 700,
    ...overrides,
  });
  const report = (date: string, commit: string, configs: ConfigResult[]): BenchReport => ({
    machine: '2 cores',
    date,
    commit,
    command: 'npm run bench',
    latencyModels: {},
    configs,
  });

  it('lists every configuration of every report by date, each linked to its page, with no overhead share at zero latency', () => {
    const lines = recordsMarkdown([
      { folder: 'benchmarks-128/after', report: report('2026-12-03', 'bbbbbbbbbbbbbbbb', [config({})]) },
      {
        folder: 'benchmarks-512',
        report: report('2026-12-02', 'aaaaaaaaaaaaaaaa', [
          config({ batchSize: 512, mode: 'mel', pairsCap: 3, meanRolloutTokens: 4000 }),
          config({ engineSlotUtilisation: null, overheadRatio: null, workerPeakRssMb: null }),
        ]),
      },
    ]);
    const rows = lines.filter((line) => line.startsWith('| ['));
    // The h100-8b profile's 256 slots: an ideal scheduler of 512 × 8 sequences, then of 128 × 8.
    const ideal = (sequences: number) => `${(slotCeiling(sequences, 256) * 100).toFixed(0)} %`;
    expect(rows).toEqual([
      `| [benchmarks-512](benchmarks-512/benchmarks.md) | 2026-12-02 | aaaaaaaaaaaa | \`mel-temporal/mel/h100-8b/b512-g8-t4k-p3-5st\` | 2/5 | 250.0 | 10.0 (4.0 %) | 80 % | ${ideal(4096)} | 498 |`,
      '| [benchmarks-512](benchmarks-512/benchmarks.md) | 2026-12-02 | aaaaaaaaaaaa | `mel-temporal/grpo/h100-8b/b128-g8-t1k-5st` | 2/5 | 250.0 | – | – | – | – |',
      `| [benchmarks-128/after](benchmarks-128/after/benchmarks.md) | 2026-12-03 | bbbbbbbbbbbb | \`mel-temporal/grpo/h100-8b/b128-g8-t1k-5st\` | 2/5 | 250.0 | 10.0 (4.0 %) | 80 % | ${ideal(1024)} | 498 |`,
    ]);
  });

  it('adds no section when nothing is on record', () => {
    expect(recordsMarkdown([])).toEqual([]);
  });
});
