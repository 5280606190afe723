import { afterEach, describe, expect, it, vi } from 'vitest';
import { childEnvironment } from '../../../common/child-env.js';
import { loadEnv, resolveEndpoints } from '../../../common/env.js';
import { serviceSpecs } from '../../../stack/services.js';

const SECRETS = {
  TINKER_API_KEY: 'tml-secret',
  OPENAI_API_KEY: 'sk-secret',
  MONGODB_URI: 'mongodb://user:pass@db:27017/',
  AWS_SECRET_ACCESS_KEY: 'aws-secret',
};

describe('the environment of the services the stack starts', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('passes what a process needs and its runtime reads, never anything else', () => {
    const source = { PATH: '/bin', HOME: '/root', LC_ALL: 'C', JAX_PLATFORMS: 'cpu', ...SECRETS };
    expect(childEnvironment(source, { prefixes: ['JAX_'] }, { HF_HUB_OFFLINE: '1' })).toEqual({
      PATH: '/bin',
      HOME: '/root',
      LC_ALL: 'C',
      JAX_PLATFORMS: 'cpu',
      HF_HUB_OFFLINE: '1',
    });
  });

  it('gives Temporal, PostgreSQL, FerretDB and the engine none of the secrets in the environment', () => {
    for (const [name, value] of Object.entries({ ...SECRETS, PATH: '/usr/bin:/bin', XLA_FLAGS: '--x' })) {
      vi.stubEnv(name, value);
    }
    const postgres = { dir: '/pg', version: '17.10.0' };
    const installed = { temporalCli: '/t', ferretdb: '/f', postgres, python: '/p', modelDir: '/m' };
    const env = loadEnv({});
    const specs = serviceSpecs(env, resolveEndpoints(env), installed);
    expect(specs.map((spec) => spec.name)).toEqual(['temporal', 'postgres', 'mongodb', 'engine']);
    for (const spec of specs) {
      const childEnv = spec.launch!.env;
      for (const secret of Object.keys(SECRETS)) expect(childEnv).not.toHaveProperty(secret);
      expect(childEnv.PATH).toBe('/usr/bin:/bin');
    }
    const engine = specs.find((spec) => spec.name === 'engine')!.launch!.env;
    expect(engine).toMatchObject({ XLA_FLAGS: '--x', HF_HUB_OFFLINE: '1', JAX_PLATFORMS: 'cpu' });
  });
});
