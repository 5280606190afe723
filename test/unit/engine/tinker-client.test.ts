import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runInCallScope, type CallScope } from '../../../common/call-scope.js';
import { requestTimeoutMs, TinkerClient } from '../../../engine/tinker.js';
import { json, startFakeServer, type RecordedRequest } from './fake-http.js';

const API_KEY = 'tml-secret-key-456';

/** A Tinker server in miniature: every POST creates a future; the test scripts how each one answers. */
const script = {
  submitStatuses: [] as number[],
  pendingPolls: 0,
  /** Polls left without an answer (the client's hold ends them), before the 408s of `pendingPolls`. */
  unansweredPolls: 0,
  /** Submits left without an answer, like a hung engine. */
  hangSubmits: false,
  /** Submits answered only after this many ms, like an engine storing a large request. */
  submitDelayMs: 0,
  futureFails: false,
};
let nextFuture = 0;

function answer(request: RecordedRequest, response: ServerResponse): void {
  if (request.path === '/api/v1/healthz') return json(response, 200, { status: 'ok' });
  if (request.path === '/api/v1/retrieve_future') {
    if (script.unansweredPolls > 0) {
      script.unansweredPolls--;
      return;
    }
    if (script.pendingPolls > 0) {
      script.pendingPolls--;
      return json(response, 408, { detail: 'Timeout waiting for result' });
    }
    if (script.futureFails) return json(response, 400, { detail: 'loss_fn ppo: bad advantages' });
    const id = (request.body as { request_id: string }).request_id;
    return json(response, 200, {
      metrics: { future: Number(id) },
      path: `tinker://m/weights/${id}`,
      sequences: [],
      loss_fn_outputs: [],
    });
  }
  if (script.hangSubmits) return;
  if (script.submitDelayMs > 0) {
    setTimeout(() => json(response, 200, { request_id: String(++nextFuture) }), script.submitDelayMs);
    return;
  }
  const status = script.submitStatuses.shift() ?? 200;
  if (status !== 200) return json(response, status, { detail: `failure ${status}` });
  json(response, 200, { request_id: String(++nextFuture) });
}

describe('Tinker client wire behaviour', () => {
  let server: Awaited<ReturnType<typeof startFakeServer>>;
  let client: TinkerClient;
  const posts = (route: string) => server.requests.filter((request) => request.path === `/api/v1/${route}`);

  beforeAll(async () => {
    server = await startFakeServer(answer);
  });
  beforeEach(() => {
    Object.assign(script, {
      submitStatuses: [],
      pendingPolls: 0,
      unansweredPolls: 0,
      hangSubmits: false,
      submitDelayMs: 0,
      futureFails: false,
    });
    server.requests.length = 0;
    client = new TinkerClient({
      baseUrl: server.url,
      apiKey: API_KEY,
      baseModel: 'base',
      maxRetries: 2,
      retryBaseDelayMs: 1,
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('keeps polling a future that answers 408 until it resolves, and sends the API key header', async () => {
    script.pendingPolls = 2;
    await client.optimStep({ modelId: 'm', adam: { learningRate: 0.1 } });
    expect(posts('retrieve_future')).toHaveLength(3);
    expect(server.requests.every((request) => request.headers['x-api-key'] === API_KEY)).toBe(true);
    expect(posts('optim_step')[0]!.body).toMatchObject({
      model_id: 'm',
      adam_params: { learning_rate: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0 },
    });
  });

  it('gives a request one more second per MB of its body beyond the base timeout', () => {
    expect(requestTimeoutMs(30_000, 0)).toBe(30_000);
    expect(requestTimeoutMs(30_000, 5_000_000)).toBe(35_000);
    expect(requestTimeoutMs(30_000, 400_000_000)).toBe(430_000);
    expect(requestTimeoutMs(100, 1)).toBe(101);
  });

  it('waits for a large request as long as its size allows, and no longer for a small one', async () => {
    const quick = new TinkerClient({ baseUrl: server.url, requestTimeoutMs: 200, maxRetries: 0 });
    script.submitDelayMs = 600;
    const datum = (tokens: number) => ({
      model_input: { chunks: [{ type: 'encoded_text' as const, tokens: Array<number>(tokens).fill(7) }] },
      loss_fn_inputs: { target_tokens: { data: [7], dtype: 'int64' as const } },
    });
    const forward = (tokens: number) => quick.forward({ modelId: 'm', data: [datum(tokens)] });
    await expect(forward(1)).rejects.toThrow(/forward failed/);
    // About 1 MB of body: 200 ms + about a second.
    await expect(forward(500_000)).resolves.toBeDefined();
  });

  it('re-sends an optimizer step only when the engine refused it (429), never after a 503 or a 400', async () => {
    script.submitStatuses = [429, 200];
    await client.optimStep({ modelId: 'm', adam: { learningRate: 0.1 } });
    expect(posts('optim_step')).toHaveLength(2);

    // A 503 may come after the engine applied the step: re-sending could apply it twice.
    script.submitStatuses = [503, 200];
    const unknown = client.optimStep({ modelId: 'm', adam: { learningRate: 0.1 } });
    await expect(unknown).rejects.toMatchObject({ status: 503, retryable: false, outcomeUnknown: true });
    await expect(unknown).rejects.toThrow(/outcome unknown/);
    expect(posts('optim_step')).toHaveLength(3);

    script.submitStatuses = [400];
    const error = client.optimStep({ modelId: 'm', adam: { learningRate: 0.1 } });
    await expect(error).rejects.toMatchObject({ name: 'EngineError', status: 400, retryable: false });
    expect(posts('optim_step')).toHaveLength(4);
  });

  it('reports a refused state-changing call as the refusal it is, not as an unknown outcome', async () => {
    script.submitStatuses = [422];
    const refused = client.optimStep({ modelId: 'm', adam: { learningRate: 0.1 } });
    await expect(refused).rejects.toMatchObject({ status: 422, retryable: false, outcomeUnknown: false });
    await expect(refused).rejects.toThrow('POST /optim_step answered 422: failure 422');
    expect(posts('optim_step')).toHaveLength(1);
  });

  it('retries an idempotent call (sampling) after a 503 with backoff', async () => {
    script.submitStatuses = [503, 200];
    await client.sample({ promptTokens: [1], numSamples: 1, maxTokens: 2, seed: 1, stopTokens: [2] });
    expect(posts('asample')).toHaveLength(2);
  });

  it('reports a failed future as a non-retryable error with the server detail, without the key', async () => {
    script.futureFails = true;
    const error = await client.forwardBackward({ modelId: 'm', data: [], loss: { fn: 'ppo' } }).then(
      () => new Error('resolved'),
      (caught: unknown) => caught as Error,
    );
    expect(error).toMatchObject({ retryable: false, message: expect.stringContaining('bad advantages') });
    expect(error.message).not.toContain(API_KEY);
  });

  it('submits a seq_id once: a repeat polls the first future, another body under it is refused', async () => {
    const step = { modelId: 'm', adam: { learningRate: 0.1 }, seqId: 4 };
    const first = await client.optimStep(step);
    expect(await client.optimStep(step)).toEqual(first);
    expect(posts('optim_step')).toHaveLength(1);
    expect(posts('optim_step')[0]!.body).toMatchObject({ seq_id: 4 });

    await expect(client.optimStep({ ...step, adam: { learningRate: 0.2 } })).rejects.toMatchObject({
      status: 409,
      retryable: false,
    });
    expect(posts('optim_step')).toHaveLength(1);
    // Other models have their own seq_id space.
    await client.optimStep({ ...step, modelId: 'other' });
    expect(posts('optim_step')).toHaveLength(2);
  });

  it('submits a seq_id again when its first submission was never accepted', async () => {
    const noRetries = new TinkerClient({ baseUrl: server.url, maxRetries: 0 });
    script.submitStatuses = [429];
    const step = { modelId: 'm', adam: { learningRate: 0.1 }, seqId: 9 };
    await expect(noRetries.optimStep(step)).rejects.toMatchObject({ status: 429, retryable: true });
    await noRetries.optimStep(step);
    expect(posts('optim_step')).toHaveLength(2);
  });

  it('sends ppo clip thresholds as loss_fn_config and sampler paths as model_path', async () => {
    await client.forwardBackward({
      modelId: 'm',
      data: [],
      loss: { fn: 'ppo', clipLowThreshold: 0.7, clipHighThreshold: 1.3 },
    });
    expect(posts('forward_backward')[0]!.body).toMatchObject({
      forward_backward_input: {
        loss_fn: 'ppo',
        loss_fn_config: { clip_low_threshold: 0.7, clip_high_threshold: 1.3 },
      },
    });
    const request = { promptTokens: [1], numSamples: 2, maxTokens: 3, seed: 1, stopTokens: [2] };
    await client.sample({ ...request, sampler: 'tinker://m/sampler_weights/s' });
    await client.sample(request);
    const [fromPath, fromBase] = posts('asample').map((post) => post.body);
    expect(fromPath).toMatchObject({ model_path: 'tinker://m/sampler_weights/s', num_samples: 2 });
    expect(fromBase).toMatchObject({
      base_model: 'base',
      sampling_params: { max_tokens: 3, seed: 1, stop: [2] },
    });
  });

  describe('inside a call scope (an activity attempt)', () => {
    function scopeRecordingProgress() {
      const controller = new AbortController();
      const progress: string[] = [];
      const scope: CallScope = {
        signal: controller.signal,
        progressed: (what) => progress.push(what),
        show: () => undefined,
      };
      return { scope, progress, abort: (reason: Error) => controller.abort(reason) };
    }
    const request = { promptTokens: [1], numSamples: 1, maxTokens: 2, seed: 1, stopTokens: [2] };

    it('reports every answer as progress, and checks the health of an engine that leaves a poll unanswered', async () => {
      const { scope, progress } = scopeRecordingProgress();
      const polling = new TinkerClient({ baseUrl: server.url, baseModel: 'base', pollTimeoutMs: 100 });
      script.unansweredPolls = 1;
      script.pendingPolls = 1;
      await runInCallScope(scope, () => polling.sample(request));
      expect(progress).toEqual([
        'engine POST /asample 200',
        'engine GET /healthz 200',
        'engine POST /retrieve_future 408',
        'engine POST /retrieve_future 200',
      ]);
    });

    it('stops at once when the scope aborts: the request in flight is dropped and nothing is retried', async () => {
      const { scope, progress, abort } = scopeRecordingProgress();
      script.hangSubmits = true;
      const sampling = runInCallScope(scope, () => client.sample(request));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const reason = new Error('the activity attempt is over');
      abort(reason);
      await expect(sampling).rejects.toBe(reason);
      expect(posts('asample')).toHaveLength(1);
      expect(progress).toEqual([]);
    });

    it('cuts a retry backoff short when the scope aborts', async () => {
      const { scope, abort } = scopeRecordingProgress();
      const patient = new TinkerClient({ baseUrl: server.url, baseModel: 'base', retryBaseDelayMs: 60_000 });
      script.submitStatuses = [503, 200];
      const sampling = runInCallScope(scope, () => patient.sample(request));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const reason = new Error('stalled');
      abort(reason);
      await expect(sampling).rejects.toBe(reason);
      expect(posts('asample')).toHaveLength(1);
    });
  });
});

describe('Tinker client sessions', () => {
  /** Sessions the engine knows; `forget()` is an engine restarted on a fresh state. */
  const known = new Set<string>();
  let sessions = 0;
  /** An engine that forgets each session as soon as it created it. */
  let forgetEverySession = false;
  let server: Awaited<ReturnType<typeof startFakeServer>>;

  beforeAll(async () => {
    server = await startFakeServer((request, response) => {
      const body = request.body as { session_id?: string; request_id?: string };
      if (request.path === '/api/v1/create_session') {
        const id = `session-${++sessions}`;
        if (!forgetEverySession) known.add(id);
        return json(response, 200, { session_id: id });
      }
      if (request.path === '/api/v1/create_model') {
        if (!known.has(body.session_id!)) return json(response, 404, { detail: 'Session not found' });
        return json(response, 200, { request_id: `model-in-${body.session_id}` });
      }
      if (request.path === '/api/v1/retrieve_future') {
        return json(response, 200, { model_id: `model-of-${body.request_id}` });
      }
      json(response, 404, { detail: 'Not Found' });
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('creates one session and every model in it', async () => {
    const client = new TinkerClient({ baseUrl: server.url, baseModel: 'base', retryBaseDelayMs: 1 });
    const first = await client.createTrainingModel({ baseModel: 'base', rank: 8 });
    const second = await client.createTrainingModel({ baseModel: 'base', rank: 8 });
    expect([first, second]).toEqual([
      `model-of-model-in-session-${sessions}`,
      `model-of-model-in-session-${sessions}`,
    ]);
  });

  it('creates a new session when the engine forgot its own, once for concurrent calls', async () => {
    const client = new TinkerClient({ baseUrl: server.url, baseModel: 'base', retryBaseDelayMs: 1 });
    await client.createTrainingModel({ baseModel: 'base', rank: 8 });
    const before = sessions;
    known.clear();
    const models = await Promise.all([
      client.createTrainingModel({ baseModel: 'base', rank: 8 }),
      client.createTrainingModel({ baseModel: 'base', rank: 8 }),
    ]);
    expect(sessions).toBe(before + 1);
    expect(models).toEqual([
      `model-of-model-in-session-${sessions}`,
      `model-of-model-in-session-${sessions}`,
    ]);
  });

  it('gives up when the engine refuses the new session too', async () => {
    const client = new TinkerClient({ baseUrl: server.url, baseModel: 'base', retryBaseDelayMs: 1 });
    const before = sessions;
    forgetEverySession = true;
    try {
      await expect(client.createTrainingModel({ baseModel: 'base', rank: 8 })).rejects.toThrow(
        /404: Session not found/,
      );
      expect(sessions - before).toBe(2);
    } finally {
      forgetEverySession = false;
    }
  });
});
