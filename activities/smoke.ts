import { activityInfo, log } from '@temporalio/activity';
import type { Db } from 'mongodb';
import type { ModelTokenizer } from '../engine/model-files.js';
import type { PolicyEngine, SampledSequence } from '../engine/engine.js';
import { COLLECTIONS } from '../store/mongo.js';
import { storable } from '../store/storable.js';
import type { SmokeInput, SmokeResult } from '../temporal/contracts/smoke.js';

export interface SmokeDeps {
  db: Db;
  engine: PolicyEngine;
  tokenizer: ModelTokenizer;
  baseModel: string;
}

export interface SmokeRecord {
  _id: string;
  phase: 'started' | 'sampled';
  promptText: string;
  promptTokens: number[];
  modelId?: string;
  samplerPath?: string;
  sampledTokens?: number[];
  sampledLogprobs?: number[];
  sampledText?: string;
  workflowId: string;
  activityId: string;
  updatedAt: Date;
}

/**
 * Proves the wiring end to end: writes to MongoDB, creates a LoRA model on the engine and samples from it.
 * Keyed by the smoke id, never by attempt: a retry overwrites the same document.
 */
export function createSmokeActivities({ db, engine, tokenizer, baseModel }: SmokeDeps) {
  const records = db.collection<SmokeRecord>(COLLECTIONS.smokeRuns);

  async function smokeProbe(input: SmokeInput): Promise<SmokeResult> {
    const info = activityInfo();
    const promptTokens = tokenizer.encode(input.promptText);
    const ids = {
      workflowId: info.workflowExecution?.workflowId ?? 'standalone',
      activityId: info.activityId,
    };
    await records.updateOne(
      { _id: input.smokeId },
      {
        $set: { phase: 'started', promptText: input.promptText, promptTokens, ...ids, updatedAt: new Date() },
      },
      { upsert: true },
    );

    const modelId = await engine.createTrainingModel({ baseModel, rank: 4, seed: 0 });
    let samplerPath: string;
    let sequence: SampledSequence | undefined;
    try {
      samplerPath = await engine.saveWeightsForSampler({ modelId, name: 'smoke' });
      [sequence] = await engine.sample({
        sampler: samplerPath,
        promptTokens,
        numSamples: 1,
        maxTokens: input.maxTokens,
        temperature: 1,
        seed: 0,
        stopTokens: [tokenizer.eosTokenId],
      });
    } finally {
      // The smoke model is thrown away: free its adapter slot on the engine.
      await engine.unloadModel(modelId);
    }
    if (!sequence) throw new Error('the engine returned no sequence');

    await records.updateOne(
      { _id: input.smokeId },
      {
        $set: storable({
          phase: 'sampled',
          modelId,
          samplerPath,
          sampledTokens: sequence.tokens,
          sampledLogprobs: sequence.logprobs,
          sampledText: tokenizer.decode(sequence.tokens),
          updatedAt: new Date(),
        }),
      },
    );
    log.info('smoke probe sampled', { modelId, tokens: sequence.tokens.length });
    return {
      record: { collection: COLLECTIONS.smokeRuns, id: input.smokeId },
      modelId,
      sampledTokenCount: sequence.tokens.length,
    };
  }

  return { smokeProbe };
}

export type SmokeActivities = ReturnType<typeof createSmokeActivities>;
