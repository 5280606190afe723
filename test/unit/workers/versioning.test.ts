import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../common/env.js';
import { buildIdOf, versioningOptions, workerDeploymentFromEnv } from '../../../workers/versioning.js';

const checkout = () => ({ commit: '0123456789ab' });
const noGit = () => undefined;

describe('workerDeploymentFromEnv', () => {
  it('leaves versioning off without a deployment name', () => {
    expect(workerDeploymentFromEnv({}, checkout)).toBeUndefined();
    expect(workerDeploymentFromEnv({ TEMPORAL_DEPLOYMENT_NAME: '' }, checkout)).toBeUndefined();
    expect(versioningOptions(undefined)).toEqual({});
  });

  it('takes the git revision as the build id by default, and the given one over it', () => {
    expect(workerDeploymentFromEnv({ TEMPORAL_DEPLOYMENT_NAME: 'mel' }, checkout)).toEqual({
      deploymentName: 'mel',
      buildId: '0123456789ab',
    });
    expect(
      workerDeploymentFromEnv({ TEMPORAL_DEPLOYMENT_NAME: 'mel', TEMPORAL_WORKER_BUILD_ID: 'v2' }, noGit),
    ).toEqual({ deploymentName: 'mel', buildId: 'v2' });
  });

  it('pins every workflow of a versioned worker by default', () => {
    const version = { deploymentName: 'mel', buildId: 'v2' };
    expect(versioningOptions(version)).toEqual({
      workerDeploymentOptions: { useWorkerVersioning: true, version, defaultVersioningBehavior: 'PINNED' },
    });
  });

  it('refuses what Temporal would refuse or misread, naming the variable', () => {
    expect(() => workerDeploymentFromEnv({ TEMPORAL_DEPLOYMENT_NAME: 'mel.prod' }, checkout)).toThrow(
      /TEMPORAL_DEPLOYMENT_NAME: no dots/,
    );
    expect(() =>
      workerDeploymentFromEnv({ TEMPORAL_DEPLOYMENT_NAME: 'mel', TEMPORAL_WORKER_BUILD_ID: 'a b' }, checkout),
    ).toThrow(/TEMPORAL_WORKER_BUILD_ID: no spaces/);
    expect(() => workerDeploymentFromEnv({ TEMPORAL_WORKER_BUILD_ID: 'v2' }, checkout)).toThrow(
      /TEMPORAL_DEPLOYMENT_NAME is not/,
    );
    expect(() => workerDeploymentFromEnv({ TEMPORAL_DEPLOYMENT_NAME: 'mel' }, noGit)).toThrow(ConfigError);
  });
});

describe('buildIdOf', () => {
  it('tells an edited tree from its commit, and two edits apart', () => {
    expect(buildIdOf({ commit: 'abc' })).toBe('abc');
    expect(buildIdOf({ commit: 'abc', changesDigest: '1234abcd' })).toBe('abc-dirty-1234abcd');
    expect(buildIdOf({ commit: 'abc', changesDigest: '1234abcd' })).not.toBe(
      buildIdOf({ commit: 'abc', changesDigest: '99999999' }),
    );
  });
});
