import { describe, expect, it } from 'vitest';
import { DrillOptionsError, parseDrillArgs, type DrillSettings } from '../../../chaos/options.js';
import { drillRunConfig } from '../../../chaos/run-config.js';
import { parseRunConfig } from '../../../mel/run-config.js';

const parse = (argv: string[]) => parseDrillArgs(argv, () => 1234) as DrillSettings;

describe('chaos drill options', () => {
  it('defaults to the full drill: 6 steps on the stack engine, a fresh seed', () => {
    const settings = parse([]);
    expect(settings).toMatchObject({ seed: 1234, short: false, engine: 'skyrl', steps: 6, batchSize: 8 });
    expect(settings.schedule).toMatchObject({
      seed: 1234,
      steps: 6,
      lastStep: 4,
      randomKills: 2,
      policyUpdateKills: 1,
    });
    expect(settings.timeoutMs).toBe(60 * 60_000);
  });

  it('has a short form on the engine double', () => {
    const settings = parse(['--short', '--seed', '7']);
    expect(settings).toMatchObject({ seed: 7, short: true, engine: 'double', steps: 3, batchSize: 4 });
    expect(settings.schedule).toMatchObject({ seed: 7, lastStep: 1, randomKills: 0 });
    expect(settings.timeoutMs).toBe(5 * 60_000);
  });

  it('takes the engine, steps, output file and bound', () => {
    const settings = parse([
      '--engine',
      'double',
      '--steps',
      '4',
      '--out',
      '/tmp/x.json',
      '--timeout-min',
      '9',
    ]);
    expect(settings).toMatchObject({ engine: 'double', steps: 4, out: '/tmp/x.json', timeoutMs: 9 * 60_000 });
    expect(settings.schedule.lastStep).toBe(2);
  });

  it('refuses what it cannot do', () => {
    expect(() => parse(['--seed', 'abc'])).toThrow(DrillOptionsError);
    expect(() => parse(['--engine', 'vllm'])).toThrow(/skyrl or double/);
    expect(() => parse(['--steps', '1'])).toThrow(/at least 2/);
    expect(() => parse(['--steps', '0'])).toThrow(/positive integer/);
    expect(() => parse(['--bogus'])).toThrow(DrillOptionsError);
    expect(parseDrillArgs(['--help'])).toBe('help');
  });

  it("names the drill's run after its seed and keeps the demo's configuration otherwise", () => {
    const template = parseRunConfig({ runId: 'demo', seed: 7, steps: 3, batchSize: 8, groupSize: 4 });
    const config = drillRunConfig(
      template,
      parse(['--short', '--seed', '9']),
      new Date('2026-12-02T04:05:06Z'),
    );
    expect(config).toMatchObject({
      runId: 'chaos-short-9-20261202040506',
      steps: 3,
      batchSize: 4,
      groupSize: 4,
      seed: 7,
    });
  });
});
