/**
 * A worker process started with MEL_TRACES_OTLP_URL exports its traces over OTLP/HTTP: after a one-step run on the
 * engine double, a collector started by this test holds one trace from the run's workflow down through the step's
 * workflow and its activities to the engine calls and MongoDB commands made inside them.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../common/env.js';
import { followRun, startRun } from '../../temporal/client.js';
import { signalProcessGroup, spawnWorkerProcess } from '../../workers/process.js';
import { shortRunConfig } from './mel-support.js';
import { client, useEngineDouble } from './support.js';

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/** An OTLP/HTTP collector that keeps every span it is sent (the JSON encoding, as the exporter sends it). */
async function startCollector(): Promise<{ server: Server; url: string; spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans?: { scopeSpans?: { spans?: ReceivedSpan[] }[] }[];
      };
      for (const resource of body.resourceSpans ?? [])
        for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []));
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/v1/traces`, spans };
}

describe('worker traces', () => {
  const engine = useEngineDouble({ seed: 5, pCorrect: 0.5, pReplayCorrect: 0.5 });
  let temporal: Client;
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let worker: ChildProcess | undefined;

  beforeAll(async () => {
    temporal = await client();
    collector = await startCollector();
    worker = spawnWorkerProcess({
      logFile: path.join(loadEnv().MEL_STACK_DIR, 'traces-worker.log'),
      env: { ...process.env, MEL_ENGINE_URL: engine.double.url, MEL_TRACES_OTLP_URL: collector.url },
    });
  });

  afterAll(async () => {
    if (worker) signalProcessGroup(worker);
    await temporal?.connection.close();
    collector?.server.close();
  });

  it(
    'exports one trace from the run workflow through the step and its activities to engine and MongoDB calls',
    { timeout: 300_000 },
    async () => {
      const config = shortRunConfig({ steps: 1 });
      await startRun(temporal, config);
      expect((await followRun(temporal, config.runId, () => undefined)).phase).toBe('completed');

      const byId = new Map<string, ReceivedSpan>();
      const named = (name: string) => [...byId.values()].filter((span) => span.name === name);
      /** The names of the span's ancestors, nearest first, as far as the collector has them. */
      const ancestry = (span: ReceivedSpan) => {
        const names: string[] = [];
        for (let at = byId.get(span.parentSpanId ?? ''); at; at = byId.get(at.parentSpanId ?? ''))
          names.push(at.name);
        return names;
      };
      // The run's workflow span ends with the run; the worker exports in batches every second.
      await expect
        .poll(
          () => {
            for (const span of collector.spans) byId.set(span.spanId, span);
            return named('RunWorkflow:melRunWorkflow').length;
          },
          { timeout: 30_000, interval: 500 },
        )
        .toBeGreaterThan(0);

      const [rollout] = named('RunActivity:rollout');
      expect(rollout).toBeDefined();
      expect(ancestry(rollout!)).toEqual(
        expect.arrayContaining(['RunWorkflow:melStepWorkflow', 'RunWorkflow:melRunWorkflow']),
      );
      const sample = named('engine sample').find((span) => span.traceId === rollout!.traceId);
      expect(sample && ancestry(sample)[0]).toBe('RunActivity:rollout');
      const optimStep = named('engine optimStep')[0];
      expect(optimStep && ancestry(optimStep)[0]).toBe('RunActivity:policyUpdate');
      const inserts = named('mongodb insert').filter((span) => ancestry(span)[0] === 'RunActivity:rollout');
      expect(inserts.length).toBeGreaterThan(0);
      expect(new Set([rollout, sample, optimStep, ...inserts].map((span) => span!.traceId)).size).toBe(1);
    },
  );
});
