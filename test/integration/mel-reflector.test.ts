import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampledSequence, SampleRequest, SamplingEngine } from '../../engine/engine.js';
import { startOpenAIServer, type RunningOpenAIServer } from '../../engine/openai-server.js';
import type { ModelTokenizer } from '../../engine/model-files.js';
import { OpenAICompatibleClient } from '../../engine/openai-compatible.js';
import { melCollections } from '../../store/collections.js';
import { mel } from './cli-support.js';
import { baseModel, tinkerClient, tinyTokenizer } from './engine-helpers.js';
import { shortRunConfig, trainAndCheck } from './mel-support.js';
import { doubleOptimizerSteps, useClientAndWorkers, useEngineDouble } from './support.js';

// MEL_REFLECTION_ENGINE=openai-compatible: a separate OpenAI-compatible server writes the meta-experiences. Here
// that server is the project's own (engine/openai-server.ts) over the engine double's base model, so the test can
// see exactly what it answered; in production it is vLLM, SGLang, Ollama or OpenAI. The policy runs on the double
// too, whose deterministic model gives mixed groups, and so candidates, on every machine.

const API_KEY = 'reflector-test-key';
const REFLECTION_ENV = {
  MEL_REFLECTION_ENGINE: 'openai-compatible',
  MEL_REFLECTION_MODEL: baseModel,
  MEL_REFLECTION_API_KEY_ENV: 'MEL_TEST_REFLECTOR_KEY',
  MEL_TEST_REFLECTOR_KEY: API_KEY,
};

/** The engine behind the reflection server, keeping the texts it returned. */
class RecordingEngine implements SamplingEngine {
  readonly texts: string[] = [];
  private readonly engine: SamplingEngine;

  constructor(
    private readonly tokenizer: ModelTokenizer,
    engineUrl: string,
  ) {
    this.engine = tinkerClient(engineUrl);
  }

  async sample(request: SampleRequest): Promise<SampledSequence[]> {
    const sequences = await this.engine.sample(request);
    for (const { tokens } of sequences) {
      this.texts.push(this.tokenizer.decode(tokens.filter((t) => t !== this.tokenizer.eosTokenId)));
    }
    return sequences;
  }
}

describe('MEL with meta-experiences written by an OpenAI-compatible reflection engine', () => {
  const engine = useEngineDouble({ seed: 5, pCorrect: 0.5, pUnparseable: 0.25, pTruncated: 0 });
  let server: RunningOpenAIServer;
  let reflector: RecordingEngine;
  const savedEnv = { ...process.env };

  // Registered before the workers start (they read the reflection settings), and so run after they stop.
  beforeAll(async () => {
    const tokenizer = await tinyTokenizer();
    reflector = new RecordingEngine(tokenizer, engine.endpoints.engineUrl);
    server = await startOpenAIServer({ engine: reflector, tokenizer, modelName: baseModel, apiKey: API_KEY });
    Object.assign(process.env, REFLECTION_ENV, { MEL_REFLECTION_URL: server.url });
  });

  afterAll(async () => {
    await server?.close();
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  });

  const stack = useClientAndWorkers(() => engine.endpoints);

  it('stores the server’s replies as the candidates, names the reflector in the audit, and trains on them', async () => {
    const config = shortRunConfig({ steps: 1 });
    const { candidates } = await trainAndCheck(stack, config, doubleOptimizerSteps(engine.double));
    const { db } = stack.workers.deps.mongo;
    expect(candidates.length).toBeGreaterThan(0);
    // One chat completion per candidate (single-call mode), and each candidate is exactly what the server said.
    expect(reflector.texts).toHaveLength(candidates.length);
    const expectedName = new OpenAICompatibleClient({ baseUrl: server.url, model: baseModel }).name;
    for (const candidate of candidates) {
      expect(candidate.generation.reflector).toBe(expectedName);
      expect(reflector.texts).toContain(candidate.generation.turns[0]!.text);
    }

    const { datums } = melCollections(db);
    const nllDatums = await datums.find({ runId: config.runId, kind: 'nll' }).toArray();
    expect(nllDatums.map((d) => d.sourceId).sort()).toEqual(
      candidates
        .filter((c) => c.verdict!.accepted)
        .map((c) => c._id)
        .sort(),
    );

    const audit = await mel(['audit', candidates[0]!._id]);
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toContain(`by ${expectedName}`);
  });
});
