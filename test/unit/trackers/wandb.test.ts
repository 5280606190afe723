import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../common/env.js';
import type { RunDoc } from '../../../store/documents.js';
import { trackersFromEnv } from '../../../trackers/tracker.js';
import { wandbRequest, wandbSettingsFromEnv } from '../../../trackers/wandb.js';
import { stepMetricsRow } from './step-metrics-row.js';

describe('W&B settings', () => {
  it('turn the sink on with WANDB_PROJECT, beside MLflow, and off without it', () => {
    expect(wandbSettingsFromEnv({})).toBeUndefined();
    expect(wandbSettingsFromEnv({ WANDB_PROJECT: ' ' })).toBeUndefined();
    expect(wandbSettingsFromEnv({ WANDB_PROJECT: 'p' })).toEqual({ python: 'python3', timeoutMs: 120_000 });
    expect(
      wandbSettingsFromEnv({
        WANDB_PROJECT: 'p',
        MEL_WANDB_PYTHON: '/v/bin/python',
        MEL_WANDB_TIMEOUT_S: '5',
      }),
    ).toEqual({ python: '/v/bin/python', timeoutMs: 5_000 });
    const names = trackersFromEnv({ WANDB_PROJECT: 'p', MLFLOW_TRACKING_URI: 'http://m:5000' }).map(
      (t) => t.name,
    );
    expect(names).toEqual(['MLflow', 'W&B']);
  });

  it('refuse a bad bound, naming the variable', () => {
    expect(() => wandbSettingsFromEnv({ WANDB_PROJECT: 'p', MEL_WANDB_TIMEOUT_S: '-1' })).toThrow(
      ConfigError,
    );
    expect(() => wandbSettingsFromEnv({ WANDB_PROJECT: 'p', MEL_WANDB_TIMEOUT_S: 'x' })).toThrow(
      /MEL_WANDB_TIMEOUT_S/,
    );
  });
});

describe('wandbRequest', () => {
  it("sends the run's id, configuration and every step's finite numbers under dotted keys", () => {
    const run = {
      _id: 'mel-1',
      config: { mode: 'mel', sampling: { rollout: { temperature: 1 } } },
      baseModel: 'tiny',
      data: { sha256: 'abc', rows: 3 },
    } as unknown as RunDoc;
    const request = wandbRequest(run, [stepMetricsRow(0), stepMetricsRow(1, { passRate: 0.75 })]);
    expect(request).toMatchObject({
      runId: 'mel-1',
      name: 'mel-1',
      config: {
        mode: 'mel',
        sampling: { rollout: { temperature: 1 } },
        baseModel: 'tiny',
        data: { sha256: 'abc' },
      },
    });
    expect(request.rows.map((row) => row.step)).toEqual([0, 1]);
    expect(request.rows[1]!.metrics).toMatchObject({
      passRate: 0.75,
      prompts: 4,
      'stageDurationsMs.rollout': 10,
    });
    expect(request.rows[1]!.metrics).not.toHaveProperty('nllLoss'); // null: no point
    expect(request.rows[1]!.metrics).not.toHaveProperty('runId');
  });
});
