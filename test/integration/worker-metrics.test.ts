/**
 * A worker process started with MEL_METRICS_PROMETHEUS serves its metrics: after a one-step run on the engine double,
 * a scrape finds the SDK's own metrics, the step's MEL gauges with the values stored in MongoDB, and the engine calls'
 * latency histogram and sampled-token counter.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../common/env.js';
import { freePort } from '../../stack/process.js';
import { melCollections } from '../../store/collections.js';
import { decodeTokens } from '../../store/token-codec.js';
import { connectMongo, type MongoHandle } from '../../store/mongo.js';
import { parsePrometheusText, type PrometheusSample } from '../../telemetry/prometheus-text.js';
import { followRun, startRun } from '../../temporal/client.js';
import { signalProcessGroup, spawnWorkerProcess } from '../../workers/process.js';
import { shortRunConfig } from './mel-support.js';
import { client, endpoints, useEngineDouble } from './support.js';

async function scrape(url: string): Promise<PrometheusSample[]> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  expect(response.status).toBe(200);
  return parsePrometheusText(await response.text());
}

describe('worker metrics', () => {
  const engine = useEngineDouble({ seed: 5, pCorrect: 0.5, pReplayCorrect: 0.5 });
  let temporal: Client;
  let mongo: MongoHandle;
  let worker: ChildProcess | undefined;
  let metricsUrl: string;

  beforeAll(async () => {
    temporal = await client();
    mongo = await connectMongo(endpoints);
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    worker = spawnWorkerProcess({
      logFile: path.join(loadEnv().MEL_STACK_DIR, 'metrics-worker.log'),
      env: {
        ...process.env,
        MEL_ENGINE_URL: engine.double.url,
        MEL_METRICS_PROMETHEUS: `127.0.0.1:${port}`,
      },
    });
  });

  afterAll(async () => {
    if (worker) signalProcessGroup(worker);
    await temporal?.connection.close();
    await mongo?.close();
  });

  it(
    'serves the SDK metrics and the step, engine and token metrics of a run',
    { timeout: 300_000 },
    async () => {
      const config = shortRunConfig({ steps: 1 });
      await startRun(temporal, config);
      const status = await followRun(temporal, config.runId, () => undefined);
      expect(status.phase).toBe('completed');
      const stored = await melCollections(mongo.db).stepMetrics.findOne({ runId: config.runId, step: 0 });
      expect(stored).not.toBeNull();

      const samples = await scrape(metricsUrl);
      const ofRun = (name: string) =>
        samples.find((s) => s.name === name && s.labels.run_id === config.runId)?.value;
      expect(ofRun('mel_step')).toBe(0);
      expect(ofRun('mel_step_pass_rate')).toBeCloseTo(stored!.passRate, 9);
      expect(ofRun('mel_step_mixed_groups')).toBe(stored!.mixedGroups);
      expect(ofRun('mel_step_accepted')).toBe(stored!.accepted);
      expect(ofRun('mel_step_grpo_loss')).toBeCloseTo(stored!.grpoLoss!, 6);

      const count = (name: string, labels: Record<string, string>) =>
        samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
          ?.value ?? 0;
      expect(
        count('mel_engine_request_latency_count', { operation: 'sample', outcome: 'ok' }),
      ).toBeGreaterThan(0);
      expect(
        count('mel_engine_request_latency_count', { operation: 'optimStep', outcome: 'ok' }),
      ).toBeGreaterThan(0);
      const trajectories = await melCollections(mongo.db)
        .trajectories.find({ runId: config.runId }, { projection: { tokens: 1 } })
        .toArray();
      const rolloutTokens = trajectories.reduce((sum, t) => sum + decodeTokens(t.tokens, t._id).length, 0);
      expect(count('mel_engine_sampled_tokens', { operation: 'sample' })).toBeGreaterThanOrEqual(
        rolloutTokens,
      );
      expect(samples.some((s) => s.name.startsWith('temporal_') && s.name.includes('activity'))).toBe(true);
    },
  );
});
