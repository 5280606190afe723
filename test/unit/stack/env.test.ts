import { describe, expect, it } from 'vitest';
import { ConfigError, engineIdOf, loadEnv, resolveEndpoints } from '../../../common/env.js';
import { temporalSearchAttributeArgs } from '../../../stack/services.js';

describe('environment configuration', () => {
  it('defaults to the local stack on loopback, away from the standard ports', () => {
    const endpoints = resolveEndpoints(loadEnv({}));
    expect(endpoints.temporalAddress).toBe('127.0.0.1:17233');
    expect(endpoints.mongoUri).toBe('mongodb://127.0.0.1:27217/');
    expect(endpoints.engineUrl).toBe('http://127.0.0.1:18123');
    expect(endpoints.baseModel).toMatch(/tiny-model\/artifact$/);
  });

  it('points at existing services when their addresses are set', () => {
    const endpoints = resolveEndpoints(
      loadEnv({
        MEL_TEMPORAL_ADDRESS: 'temporal.internal:7233',
        MONGODB_URI: 'mongodb://db:27017/',
        MEL_ENGINE_URL: 'http://gpu-box:8000',
        MEL_BASE_MODEL: 'Qwen/Qwen3-4B-Base',
      }),
    );
    expect(endpoints).toMatchObject({
      temporalAddress: 'temporal.internal:7233',
      temporalUiUrl: undefined,
      mongoUri: 'mongodb://db:27017/',
      engineUrl: 'http://gpu-box:8000',
      baseModel: 'Qwen/Qwen3-4B-Base',
    });
  });

  it('names the engine by MEL_ENGINE_NAME, else by its URL’s host and port (no credentials, no path)', () => {
    expect(
      engineIdOf(resolveEndpoints(loadEnv({ MEL_ENGINE_URL: 'http://user:secret@gpu-3:8000/v1' }))),
    ).toBe('gpu-3:8000');
    expect(engineIdOf(resolveEndpoints(loadEnv({ MEL_ENGINE_NAME: 'gpu-3' })))).toBe('gpu-3');
    expect(engineIdOf(resolveEndpoints(loadEnv({})))).toBe('127.0.0.1:18123');
  });

  it('rejects bad values with the variable name', () => {
    expect(() => loadEnv({ MEL_TEMPORAL_PORT: 'seventy' })).toThrow(ConfigError);
    expect(() => loadEnv({ MEL_TEMPORAL_PORT: '70000' })).toThrow(/MEL_TEMPORAL_PORT/);
    expect(() => loadEnv({ MEL_MONGODB_DB: 'has space' })).toThrow(/MEL_MONGODB_DB/);
  });

  it('registers every search attribute with its Temporal CLI type name', () => {
    expect(temporalSearchAttributeArgs()).toEqual([
      '--search-attribute',
      'MelRunId=Keyword',
      '--search-attribute',
      'MelStep=Int',
      '--search-attribute',
      'MelPhase=Keyword',
    ]);
  });
});
