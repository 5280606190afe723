import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Datum } from '../mel/index.js';
import type { TinkerClient } from '../engine/tinker.js';

// Wire-format parity with SkyRL: a recording proxy in front of a Tinker server, one scripted session through the
// project's own client, and the JSON shape of every answer. scripts/record-wire-fixtures.ts records SkyRL's
// shapes; a unit test checks that the double answers the same session with the same shapes.

/** The shape of a JSON value: leaf types, object keys (sorted), and the shape of an array's first element. */
export function jsonShape(value: unknown): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? ['empty'] : [jsonShape(value[0])];
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return Object.fromEntries(entries.map(([key, inner]) => [key, jsonShape(inner)]));
  }
  return typeof value;
}

/** Every answer of one session, by route; a future's result is filed under the route that submitted it. */
export type WireRecord = Record<string, { status: number; shape: unknown }>;

/** A proxy that forwards to `target` and records the first answer of each route. */
export async function startRecordingProxy(
  target: string,
): Promise<{ url: string; record: WireRecord; close(): Promise<void> }> {
  const record: WireRecord = {};
  const submittedBy = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const upstream = httpRequest(
        new URL(req.url ?? '/', target),
        { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => parts.push(chunk));
          answer.on('end', () => {
            const text = Buffer.concat(parts).toString();
            file(record, submittedBy, req.url ?? '', body.toString(), answer.statusCode ?? 0, text);
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(text);
          });
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    record,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function file(
  record: WireRecord,
  submittedBy: Map<string, string>,
  url: string,
  requestBody: string,
  status: number,
  text: string,
): void {
  const path = new URL(url, 'http://proxy').pathname.replace(/^\/api\/v1\//, '');
  const route = path.startsWith('samplers/') ? 'samplers/:id' : path;
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = text;
  }
  const requestId = (answer as { request_id?: unknown } | null)?.request_id;
  if (route !== 'retrieve_future' && typeof requestId === 'string') submittedBy.set(requestId, route);
  const key =
    route === 'retrieve_future'
      ? `retrieve_future:${submittedBy.get(String((JSON.parse(requestBody || '{}') as { request_id?: unknown }).request_id)) ?? '?'}`
      : route;
  if (status === 408) return; // "not done yet": no shape to compare
  record[key] ??= { status, shape: jsonShape(answer) };
}

/** A datum that trains on its last two tokens. */
function smallDatum(): Datum {
  const tokens = [5, 6, 7, 8, 9];
  return {
    model_input: { chunks: [{ type: 'encoded_text', tokens: tokens.slice(0, -1) }] },
    loss_fn_inputs: {
      target_tokens: { data: tokens.slice(1), dtype: 'int64' },
      weights: { data: [0, 0, 1, 1], dtype: 'float32' },
    },
  };
}

/** The session both servers answer: every route the project's client uses, once. */
export async function scriptedSession(client: TinkerClient, baseModel: string): Promise<void> {
  await client.healthy();
  await client.supportedModels();
  const modelId = await client.createTrainingModel({ baseModel, rank: 4, seed: 1 });
  await client.describe();
  const sampler = await client.saveWeightsForSampler({ modelId, name: 'parity-sampler' });
  await client.sample({
    sampler,
    promptTokens: [5, 6, 7],
    numSamples: 2,
    maxTokens: 4,
    temperature: 1,
    seed: 3,
    stopTokens: [2],
  });
  await client.forward({ modelId, data: [smallDatum()] });
  await client.forwardBackward({ modelId, data: [smallDatum()], loss: { fn: 'cross_entropy' } });
  await client.optimStep({ modelId, adam: { learningRate: 1e-4 } });
  const state = await client.saveState({ modelId, name: 'parity-state' });
  const restored = await client.createTrainingModel({ baseModel, rank: 4, seed: 1 });
  await client.loadState({ modelId: restored, path: state });
  await client.unloadModel(restored);
  await client.unloadModel(modelId);
}
