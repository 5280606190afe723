import { describe, expect, it } from 'vitest';
import type { EngineInterval } from '../../../engine-double/timeline.js';
import {
  measureStep,
  median,
  medianStages,
  samplingWork,
  slotCeiling,
  type StepSpans,
  type StepMeasure,
} from '../../../bench/metrics.js';
import { summarise } from '../../../bench/results.js';
import {
  configLabel,
  defaultSweep,
  enginesSweep,
  noLargerThan,
  quickSweep,
  type BenchConfig,
} from '../../../bench/configs.js';
import { durabilityCost, engineScaling, reading } from '../../../bench/report.js';

const T0 = 1_700_000_000_000;
const at = (seconds: number) => T0 + seconds * 1000;

/** A 10-second step: rollout 0–4 s, verify 4–5 s, policy update 6–9 s, record 9–10 s. */
const STEP: StepSpans = {
  step: 0,
  startMs: at(0),
  endMs: at(10),
  historyEvents: 40,
  historyBytes: 4_000,
  activities: [
    { activity: 'rollout', scheduledMs: at(0), closedMs: at(4) },
    { activity: 'verify', scheduledMs: at(4), closedMs: at(5) },
    { activity: 'policyUpdate', scheduledMs: at(6), closedMs: at(9) },
    { activity: 'recordStep', scheduledMs: at(9), closedMs: at(10) },
  ],
};

const interval = (route: string, from: number, to: number, slots = 0): EngineInterval => ({
  route,
  startMs: at(from),
  endMs: at(to),
  sequences: slots,
  slots,
});

describe('measureStep', () => {
  it('splits the step into engine-busy time and overhead, per stage, and counts sampling slot use', () => {
    const timeline = [
      interval('asample', 0.5, 3.5, 4), // rollout: 3 s with 4 of 8 slots
      interval('asample', 1, 2, 4), // overlaps: busy time is the union
      interval('forward_backward', 6.5, 8),
      interval('optim_step', 8, 8.5),
      interval('asample', 20, 21, 8), // after the step: not counted
    ];
    const measured = measureStep(STEP, timeline, 8);

    expect(measured.wallSeconds).toBe(10);
    expect(measured.engineBusySeconds).toBeCloseTo(5);
    expect(measured.overheadSeconds).toBeCloseTo(5);
    expect(Object.keys(measured.stages)).toEqual(['rollout', 'verify', 'policy-update']);
    expect(measured.stages.rollout).toEqual({ wallSeconds: 4, engineSeconds: 3 });
    expect(measured.stages['policy-update']!.engineSeconds).toBeCloseTo(2);
    // (3 s × 4 slots + 1 s × 4 slots) / (8 slots × 4 s of rollout)
    expect(measured.samplingSlotUtilisation).toBeCloseTo(16 / 32);
  });

  it("counts a stage's time once while any of its activities is open: chunks side by side, halves apart", () => {
    const step: StepSpans = {
      ...STEP,
      activities: [
        { activity: 'rollout', scheduledMs: at(0), closedMs: at(3) },
        { activity: 'rollout', scheduledMs: at(0), closedMs: at(4) },
        { activity: 'rollout', scheduledMs: at(1), closedMs: at(2) },
        { activity: 'internalize', scheduledMs: at(4), closedMs: at(5) },
        { activity: 'internalize', scheduledMs: at(7), closedMs: at(7.5) },
      ],
    };
    const timeline = [interval('asample', 0, 4, 2), interval('forward', 4.5, 7.25)];
    const measured = measureStep(step, timeline, 8);
    expect(measured.stages.rollout).toEqual({ wallSeconds: 4, engineSeconds: 4 });
    expect(measured.stages.internalize!.wallSeconds).toBeCloseTo(1.5);
    expect(measured.stages.internalize!.engineSeconds).toBeCloseTo(0.75);
    expect(measured.samplingSlotUtilisation).toBeCloseTo(8 / 32);
  });

  it('has no slot utilisation without a slot limit, and an idle engine leaves all of the step as overhead', () => {
    const measured = measureStep(STEP, [], 0);
    expect(measured.samplingSlotUtilisation).toBeNull();
    expect(measured.engineBusySeconds).toBe(0);
    expect(measured.overheadSeconds).toBe(10);
  });
});

describe('median and medianStages', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('medians each stage over the steps that ran it', () => {
    const steps = [1, 2, 3].map((wall) => measureStep({ ...STEP, endMs: at(10 * wall) }, [], 0));
    expect(medianStages(steps).rollout).toEqual({ wallSeconds: 4, engineSeconds: 0 });
  });
});

const config = (partial: Partial<BenchConfig>): BenchConfig => ({
  system: 'mel-temporal',
  mode: 'mel',
  latencyModel: 'zero',
  engines: 1,
  batchSize: 16,
  groupSize: 8,
  meanRolloutTokens: 1000,
  pairsCap: 3,
  steps: 2,
  ...partial,
});

describe('summarise', () => {
  it('reports medians per step, per-step totals, and no ratio when the engine did (almost) nothing', () => {
    const steps = [measureStep(STEP, [interval('asample', 0, 4)], 0), measureStep(STEP, [], 0)];
    const result = summarise(
      config({}),
      { ok: true, error: null, steps, historyEvents: 100, historyBytes: 10_000, mongoBytes: 2e6 },
      30,
    );
    expect(result).toMatchObject({
      ok: true,
      stepsCompleted: 2,
      stepSeconds: 10,
      engineBusySeconds: 2,
      overheadSeconds: 8,
      overheadRatio: 4,
      historyEventsPerStep: 50,
      historyBytesPerStep: 5_000,
      mongoBytesPerStep: 1e6,
      overheadByStep: [6, 10],
      wallSeconds: 30,
    });
    const idle = summarise(config({}), { ok: true, error: null, steps: [measureStep(STEP, [], 0)] }, 1);
    expect(idle.overheadRatio).toBeNull();
  });

  it('keeps a failed configuration with its error and what it measured before failing', () => {
    const result = summarise(config({}), { ok: false, error: 'over the budget', steps: [] }, 900);
    expect(result).toMatchObject({
      ok: false,
      error: 'over the budget',
      stepsCompleted: 0,
      stepSeconds: null,
    });
  });
});

describe('the sweeps', () => {
  it('the default sweep covers the issue grid under both latency models, the side-by-side and long runs', () => {
    const sweep = defaultSweep({ profile: 'h100-8b' });
    const labels = sweep.map(configLabel);
    expect(new Set(labels).size).toBe(labels.length);
    const grid = sweep.filter(
      (c) => c.system === 'mel-temporal' && c.mode === 'mel' && c.steps === 5 && !c.lossReduction,
    );
    expect(grid).toHaveLength(2 * 4 * 2 * 2);
    expect(sweep.filter((c) => c.lossReduction).map(configLabel)).toEqual([
      'mel-temporal/mel/h100-8b/b128-g8-t1k-p3-sum-5st',
    ]);
    const cookbook = sweep.filter((c) => c.system === 'tinker-cookbook');
    expect(cookbook).toHaveLength(2 * 4 * 2);
    for (const config of cookbook) {
      expect(sweep).toContainEqual({ ...config, system: 'mel-temporal' });
    }
    expect(sweep.filter((c) => c.steps === 100)).toEqual([
      expect.objectContaining({ batchSize: 16, groupSize: 8, meanRolloutTokens: 1000 }),
      expect.objectContaining({ batchSize: 128, groupSize: 8, meanRolloutTokens: 1000 }),
    ]);
  });

  it('the quick sweep is the side-by-side at batch 16 with short rollouts, two steps, under both latency models', () => {
    const sweep = quickSweep({ profile: 'h100-8b' });
    expect(sweep.map((c) => `${c.system}/${c.mode}/${c.latencyModel}`)).toEqual([
      'tinker-cookbook/grpo/zero',
      'mel-temporal/grpo/zero',
      'mel-temporal/mel/zero',
      'tinker-cookbook/grpo/h100-8b',
      'mel-temporal/grpo/h100-8b',
      'mel-temporal/mel/h100-8b',
    ]);
    expect(sweep.every((c) => c.batchSize === 16 && c.steps === 2 && c.meanRolloutTokens === 256)).toBe(true);
  });
});

describe('several inference engines', () => {
  it('samplingWork: the sequences sampled and the restores in each sampling stage over its window, chunks side by side', () => {
    const chunks = [
      { activity: 'rollout', scheduledMs: at(0), closedMs: at(3) },
      { activity: 'rollout', scheduledMs: at(0), closedMs: at(4) },
      { activity: 'verify', scheduledMs: at(4), closedMs: at(5) },
      { activity: 'validate', scheduledMs: at(6), closedMs: at(8) },
    ];
    const timeline = [
      interval('asample', 0.5, 2, 16),
      interval('asample', 1, 4, 16),
      interval('asample', 6.5, 7, 4),
      interval('forward_backward', 1, 2),
      interval('create_model', 0.2, 0.5),
      interval('load_weights', 0.5, 1.25),
      interval('save_weights_for_sampler', 6, 6.5),
      interval('asample', 9, 10, 8), // outside every sampling stage
      interval('save_weights_for_sampler', 9, 10), // the policy update's own save
    ];
    expect(samplingWork(chunks, timeline)).toEqual({
      sequences: 36,
      seconds: 6,
      restoreSeconds: expect.closeTo(1.55, 9),
    });
  });

  it('the slot ceiling: no idle slot while sequences wait, the tail idle at the end, closer to full with more waves', () => {
    expect(slotCeiling(1, 1)).toBe(1);
    expect(slotCeiling(5, 1)).toBe(1);
    // One wave: the slots of the shorter sequences idle until the longest ends; the lengths span ½–1½ × the mean.
    expect(slotCeiling(4, 4)).toBeGreaterThan(1 / 3);
    expect(slotCeiling(4, 4)).toBeLessThan(1);
    expect(slotCeiling(2, 4)).toBeCloseTo(slotCeiling(2, 2) / 2, 12);
    const waves = [1, 2, 4, 8, 32].map((perSlot) => slotCeiling(32 * perSlot, 32));
    waves.slice(1).forEach((ceiling, i) => expect(ceiling).toBeGreaterThan(waves[i]!));
    expect(waves.at(-1)).toBeGreaterThan(0.95);
    expect(slotCeiling(256, 32)).toBe(slotCeiling(256, 32));
    expect(() => slotCeiling(0, 32)).toThrow(/no slot ceiling/);
  });

  it('the engines sweep: 1, 2 and 4 engines, otherwise the same configuration, at two rollout lengths', () => {
    const sweep = enginesSweep({ profile: 'h100-8b' });
    expect(sweep.map((c) => c.engines)).toEqual([1, 2, 4, 1, 2, 4]);
    const [short, long] = [sweep.slice(0, 3), sweep.slice(3)];
    for (const lengths of [short, long])
      expect(new Set(lengths.map((c) => configLabel({ ...c, engines: 1 }))).size).toBe(1);
    expect(configLabel(short[2]!)).toBe('mel-temporal/grpo/h100-8b/b128-g8-t128-e4x32slots-2st');
    expect(configLabel(long[2]!)).toBe('mel-temporal/grpo/h100-8b/b128-g8-t1k-e4x32slots-1st');
  });

  it('engineScaling divides each sampling rate by the one-engine rate of the same configuration', () => {
    const step = (sequences: number, seconds: number, restoreSeconds: number): StepMeasure => ({
      ...measureStep(STEP, [], 0),
      sampling: { sequences, seconds, restoreSeconds },
    });
    // The short rollouts scale perfectly, the long ones sample 4 times slower and scale by 1.5 per doubling; each
    // engine but the first restores the policy for 2 s a step.
    const seconds = [40, 20, 10, 160, 160 / 1.5, 160 / 2.25];
    const results = enginesSweep({ profile: 'h100-8b' }).map((c, i) => {
      const restores = 2 * (c.engines - 1);
      const steps = [step(256, seconds[i]!, restores), step(256, seconds[i]!, restores)];
      return summarise(c, { ok: true, error: null, steps }, 1);
    });
    const rows = engineScaling(results);
    expect(rows.map((r) => [r.engines, r.sequencesPerSecond, r.overOneEngine])).toEqual([
      [1, 6.4, 1],
      [2, 12.8, 2],
      [4, 25.6, 4],
      [1, 1.6, 1],
      [2, expect.closeTo(2.4, 12), expect.closeTo(1.5, 12)],
      [4, expect.closeTo(3.6, 12), expect.closeTo(2.25, 12)],
    ]);
    // 6 s of the four engines' 40 s in each step of the short rollouts.
    expect(rows[2]!.restoreShare).toBeCloseTo(6 / 40, 12);
    expect(rows[0]!.restoreShare).toBe(0);
  });
});

describe('durabilityCost', () => {
  it('divides mel-temporal step times by tinker-cookbook’s for the same step', () => {
    const measured = (partial: Partial<BenchConfig>, stepSeconds: number) => ({
      ...summarise(config(partial), { ok: true, error: null, steps: [] }, 1),
      stepSeconds,
    });
    const rows = durabilityCost([
      measured({ system: 'tinker-cookbook', mode: 'grpo', pairsCap: null }, 2),
      measured({ mode: 'grpo', pairsCap: null }, 3),
      measured({}, 5),
      measured({ batchSize: 64 }, 9),
    ]);
    expect(rows).toEqual([
      {
        latencyModel: 'zero',
        batchSize: 16,
        cookbookSeconds: 2,
        grpoRatio: 1.5,
        melRatio: 2.5,
        cookbookNote: null,
        grpoNote: null,
        melNote: null,
      },
    ]);
    expect(reading([measured({}, 5)])[0]).toContain('b16-g8-t1k-p3');

    const failedLater = { ...measured({}, 7), ok: false, stepsCompleted: 1 };
    const cookbook = measured({ system: 'tinker-cookbook', mode: 'grpo', pairsCap: null }, 2);
    const [partial] = durabilityCost([cookbook, failedLater]);
    expect(partial).toMatchObject({ melRatio: 3.5, melNote: 'mel-temporal 1 of 2 steps', grpoRatio: null });
  });
});

describe('noLargerThan', () => {
  it('holds when every size is the same or smaller on the same system, mode, latency model and reduction', () => {
    const small = config({ batchSize: 16, meanRolloutTokens: 1000, pairsCap: 3 });
    expect(noLargerThan(small, config({ batchSize: 64 }))).toBe(true);
    expect(noLargerThan(small, config({ meanRolloutTokens: 4000, pairsCap: null, steps: 100 }))).toBe(true);
    expect(noLargerThan(config({ pairsCap: null }), small)).toBe(false);
    expect(noLargerThan(config({ batchSize: 64 }), small)).toBe(false);
    expect(noLargerThan(small, config({ latencyModel: 'h100-8b' }))).toBe(false);
    expect(noLargerThan(small, config({ mode: 'grpo' }))).toBe(false);
    expect(noLargerThan(small, config({ lossReduction: 'sum' }))).toBe(false);
  });
});
