import { describe, expect, it } from 'vitest';
import {
  describeFault,
  planFaults,
  position,
  ScheduleError,
  SERVICES,
  type ScheduleOptions,
} from '../../../chaos/schedule.js';
import { STAGES } from '../../../temporal/contracts/run.js';

const options: ScheduleOptions = {
  seed: 42,
  steps: 6,
  randomKills: 2,
  policyUpdateKills: 1,
  services: SERVICES,
  lastStep: 4,
  maxAfterMs: 20_000,
  maxPolicyUpdateAfterMs: 3_000,
  downtimeMs: { min: 1_000, max: 5_000 },
};

describe('the drill schedule', () => {
  it('is the same for the same seed, and another for another seed', () => {
    expect(planFaults(options)).toEqual(planFaults(options));
    expect(planFaults({ ...options, seed: 43 })).not.toEqual(planFaults(options));
  });

  it('has the asked kills, one restart of each service, all within the fault steps and bounds', () => {
    for (let seed = 0; seed < 200; seed++) {
      const faults = planFaults({ ...options, seed });
      expect(faults).toHaveLength(6);
      const kills = faults.filter((f) => f.kind === 'kill-workers');
      expect(kills.filter((f) => f.duringPolicyUpdate)).toHaveLength(1);
      expect(kills.filter((f) => !f.duringPolicyUpdate)).toHaveLength(2);
      const restarts = faults.flatMap((f) => (f.kind === 'restart' ? [f.service] : []));
      expect(restarts.sort()).toEqual([...SERVICES].sort());
      for (const fault of faults) {
        expect(fault.at.step).toBeGreaterThanOrEqual(0);
        expect(fault.at.step).toBeLessThanOrEqual(options.lastStep);
        expect(fault.downtimeMs).toBeGreaterThanOrEqual(options.downtimeMs.min);
        expect(fault.downtimeMs).toBeLessThanOrEqual(options.downtimeMs.max);
        if (fault.kind === 'kill-workers') {
          expect(fault.targets.length).toBeGreaterThan(0);
          if (fault.duringPolicyUpdate) {
            expect(fault.at.stage).toBe('policy-update');
            expect(fault.targets).toContain('gpu');
            expect(fault.at.afterMs).toBeLessThanOrEqual(options.maxPolicyUpdateAfterMs);
          }
        }
        expect(fault.at.afterMs).toBeLessThanOrEqual(options.maxAfterMs);
      }
    }
  });

  it('orders the faults by the moment they fire and numbers them in that order', () => {
    const faults = planFaults(options);
    expect(faults.map((f) => f.id)).toEqual(['f1', 'f2', 'f3', 'f4', 'f5', 'f6']);
    const moments = faults.map((f) => [position(f.at.step, f.at.stage), f.at.afterMs] as const);
    for (let i = 1; i < moments.length; i++) {
      const [before, after] = [moments[i - 1]!, moments[i]!];
      expect(before[0] < after[0] || (before[0] === after[0] && before[1] <= after[1])).toBe(true);
    }
  });

  it('orders positions by step, then stage', () => {
    expect(position(0, 'rollout')).toBe(0);
    expect(position(0, 'policy-update')).toBe(STAGES.length - 1);
    expect(position(1, 'rollout')).toBe(STAGES.length);
  });

  it('refuses a schedule that cannot be drilled', () => {
    expect(() => planFaults({ ...options, policyUpdateKills: 0 })).toThrow(ScheduleError);
    expect(() => planFaults({ ...options, lastStep: 6 })).toThrow(/steps 0..5/);
    expect(() => planFaults({ ...options, services: ['engine', 'engine'] })).toThrow(/once/);
    expect(() => planFaults({ ...options, steps: 0 })).toThrow(ScheduleError);
  });

  it('describes each fault in one line', () => {
    expect(
      describeFault({
        id: 'f2',
        kind: 'kill-workers',
        targets: ['gpu'],
        duringPolicyUpdate: true,
        at: { step: 3, stage: 'policy-update', afterMs: 1_200 },
        downtimeMs: 2_000,
      }),
    ).toBe('f2: SIGKILL worker process(es) gpu during policyUpdate step 3 policy-update +1.2 s, down 2.0 s');
    expect(
      describeFault({
        id: 'f1',
        kind: 'restart',
        service: 'mongodb',
        at: { step: 0, stage: 'verify', afterMs: 0 },
        downtimeMs: 1_500,
      }),
    ).toBe('f1: restart mongodb at step 0 verify +0.0 s, down 1.5 s');
  });
});
