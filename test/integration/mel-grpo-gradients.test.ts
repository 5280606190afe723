/**
 * On an engine that sums the loss over datums (hosted Tinker's reduction), a MEL step sends its GRPO datums to the
 * training model while summarize and validate sample, and the policy update then sends only the NLL datums before
 * its one optimizer step. The optimizer step must train on each of the step's datums exactly once: on a clean run,
 * and when the engine applies the GRPO datums but their answer is lost, so that the attempt is retried on a model
 * restored from the saved state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OptimStepRecord } from '../../engine-double/models.js';
import type { StepDoc } from '../../store/documents.js';
import { shortRunConfig, trainAndCheck } from './mel-support.js';
import { doubleOptimizerSteps, useClientAndWorkers, useEngineDouble } from './support.js';

describe('the GRPO gradients sent while reflecting', () => {
  const engine = useEngineDouble({
    reduction: 'sum',
    faults: [{ route: 'forward_backward', call: 1, action: { type: 'drop-response' } }],
  });
  const saved = process.env.MEL_ENGINE_LOSS_REDUCTION;
  beforeAll(() => {
    process.env.MEL_ENGINE_LOSS_REDUCTION = 'sum';
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.MEL_ENGINE_LOSS_REDUCTION;
    else process.env.MEL_ENGINE_LOSS_REDUCTION = saved;
  });
  const stack = useClientAndWorkers(() => engine.endpoints);

  async function lastOptimStep(modelId: string): Promise<OptimStepRecord> {
    const response = await fetch(`${engine.double.url}/double/v1/last-optim-step?model_id=${modelId}`);
    expect(response.status).toBe(200);
    return (await response.json()) as OptimStepRecord;
  }

  /** The model's last optimizer step trained on the step's GRPO datums and then its NLL datums, each once. */
  async function expectEachDatumOnce(step: StepDoc) {
    const update = step.update!;
    expect(update.grpoSentWhileReflecting).toBe(true);
    const record = await lastOptimStep(update.engineModelId);
    expect(record.optimizerStep).toBe(step.step + 1);
    expect(record.datums).toHaveLength(update.grpoDatums + update.nllDatums);
    const lossFns = record.datums.map((datum) => datum.lossFn);
    expect(lossFns.slice(update.grpoDatums).every((fn) => fn === 'cross_entropy')).toBe(true);
    expect(lossFns.slice(0, update.grpoDatums).every((fn) => fn !== 'cross_entropy')).toBe(true);
  }

  it('trains on each datum once when the answer to the GRPO datums is lost, on a restored model', async () => {
    const config = shortRunConfig({ steps: 1 });
    const { stepDocs } = await trainAndCheck(stack, config, doubleOptimizerSteps(engine.double));
    const [step] = stepDocs;
    expect(step!.update!.grpoDatums).toBeGreaterThan(0);
    await expectEachDatumOnce(step!);
    // The lost answer's attempt had taken the model kept from the initial policy; its retry restored the saved state.
    expect(step!.update!.startedFrom).toBe('saved-state');
    const { models } = engine.double.stats().optimizer;
    const applied = Object.values(models).filter((model) => model.optimStepCalls > 0);
    expect(applied).toHaveLength(1);
    expect(applied[0]!.optimStepCalls).toBe(1);
  });

  it('sends them on the model kept from the step before, once a step, in a clean run', async () => {
    const config = shortRunConfig({ steps: 2 });
    const { stepDocs } = await trainAndCheck(stack, config, doubleOptimizerSteps(engine.double));
    expect(stepDocs.map((step) => step.update!.startedFrom)).toEqual(['kept-model', 'kept-model']);
    expect(stepDocs[1]!.update!.engineModelId).toBe(stepDocs[0]!.update!.engineModelId);
    await expectEachDatumOnce(stepDocs[1]!);
  });
});
