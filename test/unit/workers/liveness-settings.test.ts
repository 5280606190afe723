import { describe, expect, it } from 'vitest';
import { livenessFromEnv } from '../../../workers/workers.js';

const externalReflector = {
  MEL_REFLECTION_ENGINE: 'openai-compatible',
  MEL_REFLECTION_URL: 'http://127.0.0.1:8000/v1',
  MEL_REFLECTION_MODEL: 'reflector',
};

describe("the workers' stall bound", () => {
  it('is 120 s by default, and MEL_STALL_TIMEOUT_S when set', () => {
    expect(livenessFromEnv({})).toEqual({ stallTimeoutMs: 120_000, heartbeatEveryMs: 5_000 });
    expect(livenessFromEnv({ MEL_STALL_TIMEOUT_S: '45' }).stallTimeoutMs).toBe(45_000);
  });

  it('outlasts one call to an external reflector by default', () => {
    expect(livenessFromEnv(externalReflector).stallTimeoutMs).toBe(330_000);
    expect(livenessFromEnv({ ...externalReflector, MEL_REFLECTION_TIMEOUT_S: '60' }).stallTimeoutMs).toBe(
      120_000,
    );
  });

  it('refuses a bound that one engine or reflector call may outlast', () => {
    expect(() => livenessFromEnv({ MEL_STALL_TIMEOUT_S: '30' })).toThrow(/not longer than one engine call/);
    expect(() => livenessFromEnv({ ...externalReflector, MEL_STALL_TIMEOUT_S: '200' })).toThrow(
      /MEL_REFLECTION_TIMEOUT_S/,
    );
  });
});
