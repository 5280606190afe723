import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { Logger } from '../common/logger.js';
import { parseBody, type DoubleCore } from './core.js';
import { DoubleError } from './errors.js';
import { FaultInjector, FaultRuleSchema, SAMPLE_TRANSFORMS, type FaultAction } from './faults.js';
import type { WaitResult } from './futures.js';

// The HTTP surface: SkyRL's /api/v1 routes (node:http, JSON only) plus the double's own /double/v1 routes for
// tests and benchmarks (optimizer counts, the last step's effective weights, statistics, fault rules, the timeline
// of engine work).

export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

interface Context {
  body: unknown;
  query: URLSearchParams;
  param: string;
  signal: AbortSignal;
  faults: FaultAction[];
}

type Handler = (ctx: Context) => unknown;

interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** Exact path, or a prefix ending in '/' whose remainder is `param`. */
  path: string;
  handle: Handler;
}

const FaultsBodySchema = z.strictObject({
  rules: z.array(FaultRuleSchema),
  replace: z.boolean().default(true),
});

function waitReply(result: WaitResult): Reply {
  switch (result.status) {
    case 'done':
      return new Reply(200, result.value);
    case 'failed':
      return new Reply(400, { detail: result.detail });
    case 'timeout':
      return new Reply(408, { detail: 'Timeout waiting for result' });
    case 'unknown':
      return new Reply(404, { detail: 'Future not found' });
  }
}

function apiRoutes(core: DoubleCore): Route[] {
  const post = (path: string, handle: Handler): Route => ({
    method: 'POST',
    path: `/api/v1/${path}`,
    handle,
  });
  return [
    { method: 'GET', path: '/api/v1/healthz', handle: () => core.health() },
    { method: 'GET', path: '/api/v1/get_server_capabilities', handle: () => core.capabilities() },
    { method: 'GET', path: '/api/v1/samplers/', handle: ({ param }) => core.getSampler(param) },
    { method: 'DELETE', path: '/api/v1/training_runs/', handle: ({ param }) => core.deleteCheckpoint(param) },
    post('client/config', () => core.clientConfig()),
    post('create_session', ({ body }) => core.createSession(body)),
    post('session_heartbeat', ({ body }) => core.heartbeat(body)),
    post('create_model', ({ body }) => core.createModel(body)),
    post('get_info', ({ body }) => core.getInfo(body)),
    post('unload_model', ({ body }) => core.unloadModel(body)),
    post('forward_backward', ({ body }) => core.forwardBackward(body)),
    post('forward', ({ body }) => core.forward(body)),
    post('optim_step', ({ body }) => core.optimStep(body)),
    post('save_weights', ({ body }) => core.saveWeights(body)),
    post('save_weights_for_sampler', ({ body }) => core.saveWeightsForSampler(body)),
    post('load_weights', ({ body }) => core.loadWeights(body)),
    post('create_sampling_session', ({ body }) => core.createSamplingSession(body)),
    post('asample', ({ body, faults }) => core.asample(body, faults)),
    post('telemetry', () => ({ status: 'accepted' })),
    post('retrieve_future', async ({ body, signal }) =>
      waitReply(
        await core.retrieve(parseBody(z.looseObject({ request_id: z.string() }), body).request_id, signal),
      ),
    ),
  ];
}

function adminRoutes(core: DoubleCore, faults: FaultInjector, stats: () => unknown): Route[] {
  return [
    { method: 'GET', path: '/double/v1/optimizer-steps', handle: () => core.models.summary() },
    {
      method: 'GET',
      path: '/double/v1/last-optim-step',
      handle: ({ query }) =>
        core.models.lastStep(query.get('model_id') ?? undefined) ??
        new Reply(404, { detail: 'no optim_step yet' }),
    },
    { method: 'GET', path: '/double/v1/stats', handle: () => stats() },
    { method: 'GET', path: '/double/v1/faults', handle: () => faults.list() },
    {
      method: 'POST',
      path: '/double/v1/faults',
      handle: ({ body }) => {
        const request = parseBody(FaultsBodySchema, body);
        faults.install(request.rules, request.replace);
        return faults.list();
      },
    },
    { method: 'DELETE', path: '/double/v1/faults', handle: () => (faults.install([], true), faults.list()) },
  ];
}

function sinceParam(query: URLSearchParams): number | undefined {
  const text = query.get('since');
  if (text === null) return undefined;
  const since = Number(text);
  if (text.trim() === '' || !Number.isFinite(since)) {
    throw new DoubleError(422, `since: expected epoch milliseconds, got '${text}'`);
  }
  return since;
}

function timelineRoutes(core: DoubleCore): Route[] {
  const { latency } = core;
  return [
    {
      method: 'GET',
      path: '/double/v1/timeline',
      handle: ({ query }) => latency.timelineReport(sinceParam(query)),
    },
    {
      method: 'DELETE',
      path: '/double/v1/timeline',
      handle: () => (latency.timeline.clear(), latency.timelineReport()),
    },
  ];
}

function findRoute(
  routes: readonly Route[],
  method: string,
  path: string,
): { route: Route; param: string } | undefined {
  for (const route of routes) {
    if (route.method !== method) continue;
    if (route.path === path) return { route, param: '' };
    if (route.path.endsWith('/') && path.startsWith(route.path))
      return { route, param: path.slice(route.path.length) };
  }
  return undefined;
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new DoubleError(422, 'request body is not valid JSON');
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? null);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

export interface HttpDouble {
  server: Server;
  faults: FaultInjector;
  requestCounts: Record<string, number>;
}

export function createHttpDouble(
  core: DoubleCore,
  options: { faults: FaultInjector; logger?: Logger; stats: () => unknown },
): HttpDouble {
  const { faults, logger } = options;
  const routes = [...apiRoutes(core), ...adminRoutes(core, faults, options.stats), ...timelineRoutes(core)];
  const requestCounts: Record<string, number> = {};

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://double');
    const found = findRoute(routes, request.method ?? 'GET', url.pathname);
    if (!found) return send(response, 404, { detail: 'Not Found' });
    const name = url.pathname.replace(/^\/api\/v1\//, '');
    const isApi = url.pathname.startsWith('/api/v1/');
    requestCounts[name] = (requestCounts[name] ?? 0) + 1;
    const abort = new AbortController();
    response.on('close', () => abort.abort());
    const body = await readJson(request);
    const actions = isApi ? faults.onCall(found.route.path.endsWith('/') ? name.split('/')[0]! : name) : [];
    for (const action of actions) if (action.type === 'delay') await sleep(action.ms);
    if (actions.some((a) => a.type === 'hang')) return logger?.warn({ route: name }, 'fault: hanging');
    const status = actions.find((a) => a.type === 'http-status');
    if (status?.type === 'http-status')
      return send(response, status.status, { detail: `injected fault: ${status.status}` });
    const sampleFaults = actions.filter((a) => (SAMPLE_TRANSFORMS as readonly string[]).includes(a.type));
    const result = await found.route.handle({
      body,
      query: url.searchParams,
      param: found.param,
      signal: abort.signal,
      faults: sampleFaults,
    });
    if (actions.some((a) => a.type === 'drop-response')) return void response.destroy();
    if (response.destroyed) return; // the caller gave up (a long-poll it aborted)
    const reply = result instanceof Reply ? result : new Reply(200, result);
    logger?.debug({ route: name, status: reply.status }, 'request');
    send(response, reply.status, reply.body);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent || response.destroyed) return;
      if (error instanceof DoubleError) return send(response, error.status, { detail: error.detail });
      logger?.error({ error: String(error) }, 'request failed');
      send(response, 500, { detail: error instanceof Error ? error.message : String(error) });
    });
  });
  return { server, faults, requestCounts };
}
