/**
 * A MEL step sends its GRPO datums to the training model while summarize and validate sample, and the policy update
 * then sends only the NLL datums before its one optimizer step. The optimizer step must train on each of the step's
 * datums exactly once: on a clean run, and when the engine applies the GRPO datums but their answer is lost, so that
 * the attempt is retried on a model restored from the saved state. On an engine that sums the loss (hosted Tinker)
 * nothing else is sent; on one that divides by the step's datum count (SkyRL, the double's default) the GRPO datums
 * are scaled for the step's pairs as NLL datums, and zero-weight datums make up those not accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OptimStepRecord } from '../../engine-double/models.js';
import type { EngineDouble } from '../../engine-double/server.js';
import type { RunConfig } from '../../mel/run-config.js';
import type { StepDoc } from '../../store/documents.js';
import { shortRunConfig, trainAndCheck } from './mel-support.js';
import { doubleOptimizerSteps, useClientAndWorkers, useEngineDouble } from './support.js';

async function lastOptimStep(double: EngineDouble, modelId: string): Promise<OptimStepRecord> {
  const response = await fetch(`${double.url}/double/v1/last-optim-step?model_id=${modelId}`);
  expect(response.status).toBe(200);
  return (await response.json()) as OptimStepRecord;
}

/**
 * The model's last optimizer step trained on the step's GRPO datums and then its NLL datums, each once, and then on
 * the zero-weight datums that make up its count to what the GRPO datums were scaled for.
 */
async function expectEachDatumOnce(double: EngineDouble, config: RunConfig, step: StepDoc) {
  const update = step.update!;
  expect(update.grpoSentWhileReflecting).toBe(true);
  const record = await lastOptimStep(double, update.engineModelId);
  expect(record.optimizerStep).toBe(step.step + 1);
  const trained = update.grpoDatums + update.nllDatums;
  expect(record.datums).toHaveLength(trained + (update.countOnlyDatums ?? 0));
  const lossFns = record.datums.map((datum) => datum.lossFn);
  expect(lossFns.slice(0, update.grpoDatums).every((fn) => fn === config.grpo.lossFn)).toBe(true);
  const nllLossFn = record.reduction === 'sum' ? 'cross_entropy' : 'importance_sampling';
  expect(lossFns.slice(update.grpoDatums, trained).every((fn) => fn === nllLossFn)).toBe(true);
  expect(record.datums.slice(trained).every((datum) => datum.weightSum === 0)).toBe(true);
}

function useLossReduction(reduction: 'skyrl' | 'sum') {
  const saved = process.env.MEL_ENGINE_LOSS_REDUCTION;
  beforeAll(() => {
    process.env.MEL_ENGINE_LOSS_REDUCTION = reduction;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.MEL_ENGINE_LOSS_REDUCTION;
    else process.env.MEL_ENGINE_LOSS_REDUCTION = saved;
  });
}

describe('the GRPO gradients sent while reflecting, on an engine that sums the loss', () => {
  const engine = useEngineDouble({
    reduction: 'sum',
    faults: [{ route: 'forward_backward', call: 1, action: { type: 'drop-response' } }],
  });
  useLossReduction('sum');
  const stack = useClientAndWorkers(() => engine.endpoints);

  it('trains on each datum once when the answer to the GRPO datums is lost, on a restored model', async () => {
    const config = shortRunConfig({ steps: 1 });
    const { stepDocs } = await trainAndCheck(stack, config, doubleOptimizerSteps(engine.double));
    const [step] = stepDocs;
    expect(step!.update!.grpoDatums).toBeGreaterThan(0);
    await expectEachDatumOnce(engine.double, config, step!);
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
    await expectEachDatumOnce(engine.double, config, stepDocs[1]!);
  });
});

describe('the GRPO gradients sent while reflecting, on an engine that divides by the datum count', () => {
  const engine = useEngineDouble({ reduction: 'skyrl' });
  useLossReduction('skyrl');
  const stack = useClientAndWorkers(() => engine.endpoints);

  it("are scaled for the step's pairs as NLL datums, and zero-weight datums make up the count", async () => {
    const config = shortRunConfig({ steps: 2 });
    const { stepDocs } = await trainAndCheck(stack, config, doubleOptimizerSteps(engine.double));
    for (const step of stepDocs) {
      const update = step.update!;
      expect(update.grpoSentWhileReflecting).toBe(true);
      expect(step.metrics!.pairs).toBeGreaterThan(0);
      expect(update.nllDatums + (update.countOnlyDatums ?? 0)).toBe(step.metrics!.pairs);
    }
    // Both steps trained the model kept from the one before: its last optimizer step is the second one's.
    await expectEachDatumOnce(engine.double, config, stepDocs[1]!);
  });
});
