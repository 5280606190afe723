import { describe, expect, it } from 'vitest';
import { parseCli } from '../../../engine-double/cli-options.js';
import type { TimelineReport } from '../../../engine-double/latency.js';
import {
  LATENCY_PROFILE_NAMES,
  LATENCY_PROFILE_SOURCES,
  LATENCY_PROFILES,
} from '../../../engine-double/latency-profiles.js';
import { OptionsError, parseOptions } from '../../../engine-double/options.js';
import { getJson, startDouble } from './helpers.js';

const h100 = { profile: 'h100-8b', ...LATENCY_PROFILES['h100-8b'] };

describe('latency profiles', () => {
  it('are looked up by name, with zero as the default and fields overriding a profile', () => {
    expect(parseOptions({}).latency).toEqual({ profile: 'zero', ...LATENCY_PROFILES.zero });
    expect(parseOptions({ latency: 'h100-8b' }).latency).toEqual(h100);
    expect(parseOptions({ latency: { profile: 'h100-8b', loadMs: 0 } }).latency).toEqual({
      ...h100,
      loadMs: 0,
    });
    expect(parseOptions({ latency: { createMs: 5 } }).latency).toMatchObject({
      profile: 'zero',
      createMs: 5,
    });
  });

  it('reject an unknown name with the known ones listed', () => {
    const known = LATENCY_PROFILE_NAMES.join(', ');
    expect(known).toBe('zero, h100-8b');
    for (const latency of ['h200-8b', { profile: 'h200-8b' }]) {
      expect(() => parseOptions({ latency })).toThrow(OptionsError);
      expect(() => parseOptions({ latency })).toThrow(`unknown latency profile "h200-8b" (known: ${known})`);
    }
  });

  it('are valid options, and every realistic one cites its sources', () => {
    for (const name of LATENCY_PROFILE_NAMES) {
      expect(parseOptions({ latency: { ...LATENCY_PROFILES[name], profile: name } }).latency).toEqual({
        profile: name,
        ...LATENCY_PROFILES[name],
      });
      if (name !== 'zero') {
        expect(Object.values(LATENCY_PROFILES[name]).every((value) => value > 0)).toBe(true);
        expect(LATENCY_PROFILE_SOURCES[name].length).toBeGreaterThan(0);
        expect(LATENCY_PROFILE_SOURCES[name].every((url) => url.startsWith('https://'))).toBe(true);
      }
    }
  });

  it('--latency takes a profile name or JSON with a profile', () => {
    expect(parseCli(['--latency', 'h100-8b'])).toMatchObject({ latency: h100 });
    expect(parseCli(['--latency', '{"profile":"h100-8b","saveMs":5}'])).toMatchObject({
      latency: { ...h100, saveMs: 5 },
    });
    expect(() => parseCli(['--latency', 'a100'])).toThrow(/unknown latency profile "a100"/);
  });

  it('a double started with a profile reports its slot limit in stats and the timeline', async () => {
    const double = await startDouble({ latency: 'h100-8b' });
    try {
      expect(double.options.latency).toEqual(h100);
      expect(double.stats().maxConcurrentSequences).toBe(256);
      const report = await getJson<TimelineReport>(double, '/double/v1/timeline');
      expect(report).toMatchObject({ maxConcurrentSequences: 256, intervals: [], dropped: 0 });
    } finally {
      await double.close();
    }
  });
});
