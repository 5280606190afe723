/**
 * The policy on the engine. An update continues on the model that recorded the previous one when this worker kept
 * it (nothing went wrong since), and otherwise starts from the previous step's saved training state in a fresh
 * engine model; either way a retried update can never apply the optimizer twice: whatever a crashed attempt did to
 * its model is discarded, and the step's result is recorded once in MongoDB before the activity returns.
 */
import { log } from '@temporalio/activity';
import type { SampledSequence, SampleRequest } from '../engine/engine.js';
import { isModelGone } from '../engine/errors.js';
import { completionText } from '../mel/index.js';
import type { RunConfig } from '../mel/run-config.js';
import type { PolicyUpdateRecord } from '../store/documents.js';
import { ids } from '../store/documents.js';
import { melCollections } from '../store/collections.js';
import { setOnce } from '../store/writes.js';
import type { PolicyRef, ReleasePolicyInput, RestorePolicyInput } from '../temporal/contracts/common.js';
import type {
  InitPolicyInput,
  PolicyStepRef,
  PolicyUpdateSummary,
  StepRef,
} from '../temporal/contracts/run.js';
import { KeptModels } from './kept-models.js';
import { RestoredSamplers } from './restored-samplers.js';
import { loadRun, origin, showProgress, type MelActivityDeps } from './support.js';
import { accumulateStepObjective } from './step-objective.js';

export function createPolicyActivities(deps: MelActivityDeps) {
  const { db, engine } = deps;
  const { runs, steps, datums, metaExperiences, writeOnce } = melCollections(db);
  const keptModels = new KeptModels();

  /** The run's starting policy: a fresh LoRA adapter, saved once and reused by every retry and replay. */
  async function initPolicy({ runId }: InitPolicyInput): Promise<PolicyRef> {
    const run = await loadRun(db, runId);
    if (run.initialPolicy) return run.initialPolicy;
    const modelId = await engine.createTrainingModel({
      baseModel: deps.baseModel,
      rank: run.config.lora.rank,
      seed: run.config.seed,
    });
    const name = checkpointName(runId, 'init');
    const policy: PolicyRef = {
      modelId,
      statePath: await engine.saveState({ modelId, name }),
      samplerPath: await engine.saveWeightsForSampler({ modelId, name }),
      updates: 0,
      rank: run.config.lora.rank,
    };
    // Write-once: when another attempt's policy got there first (a stale attempt's late write too), it stands.
    const [stored] = await setOnce(writeOnce, runs, 'initialPolicy', [
      { id: runId, fields: { initialPolicy: policy } },
    ]);
    const recorded = stored!.initialPolicy;
    if (recorded.modelId === modelId) keptModels.keep(runId, recorded);
    else await unloadModels([modelId]);
    return recorded;
  }

  /**
   * One optimizer step on GRPO + NLL datums of the step: on the model this worker kept from the previous update
   * (`KeptModels`), or else on a fresh model restored from the previous policy's saved state.
   */
  async function policyUpdate({ runId, step, policy }: PolicyStepRef): Promise<PolicyUpdateSummary> {
    const stepId = ids.step(runId, step);
    const done = await steps.findOne({ _id: stepId });
    if (done?.update) return finishUpdate(done.update, step);
    const kept = keptModels.take(runId, policy);
    await unloadModels(done?.engineModels ?? []);

    const run = await loadRun(db, runId);
    const ref = { runId, step, policy };
    const onKept = kept ? await trainOnKeptModel(run.config, ref, kept) : undefined;
    const { record, modelId } = onKept ?? (await trainOnFreshModel(run.config, ref));
    // Write-once: the step's first recorded update stands, even when it is a stale attempt's late write.
    const [stored] = await setOnce(writeOnce, steps, 'update', [{ id: stepId, fields: { update: record } }]);
    const recorded = stored!.update;
    if (recorded.engineModelId === modelId) keptModels.keep(runId, recorded.policyAfter);
    await unloadModels(
      [policy.modelId, modelId, kept, ...(done?.engineModels ?? [])].filter(
        (id): id is string => id !== undefined && id !== recorded.engineModelId,
      ),
    );
    return finishUpdate(recorded, step);
  }

  /** Claims an engine model for the step, before anything touches it: a retry of the step frees it first. */
  async function claimForStep({ runId, step }: StepRef, modelId: string) {
    await steps.updateOne(
      { _id: ids.step(runId, step) },
      { $set: { runId, step }, $addToSet: { engineModels: modelId } },
      { upsert: true },
    );
  }

  async function trainOnFreshModel(config: RunConfig, ref: PolicyStepRef) {
    const modelId = await engine.createTrainingModel({
      baseModel: deps.baseModel,
      rank: ref.policy.rank,
      seed: config.seed,
    });
    await claimForStep(ref, modelId);
    return { modelId, record: await trainOneStep(config, ref, modelId, 'saved-state') };
  }

  /**
   * The update on the kept model, or undefined when the engine no longer holds it (restarted, or evicted it): a
   * model the engine lost carries no gradient, so the update then starts over on a fresh model.
   */
  async function trainOnKeptModel(config: RunConfig, ref: PolicyStepRef, modelId: string) {
    await claimForStep(ref, modelId);
    try {
      return { modelId, record: await trainOneStep(config, ref, modelId, 'kept-model') };
    } catch (error) {
      if (!isModelGone(error)) throw error;
      log.warn('the kept training model is gone; restoring the saved state into a fresh model', {
        modelId,
        error: error.message,
      });
      return undefined;
    }
  }

  /** The update on `modelId`, which holds the previous policy's state or gets it restored: what the step records. */
  async function trainOneStep(
    config: RunConfig,
    { runId, step, policy }: PolicyStepRef,
    modelId: string,
    startedFrom: PolicyUpdateRecord['startedFrom'],
  ): Promise<PolicyUpdateRecord> {
    const phase = (name: string) => showProgress({ stage: 'policy-update', phase: name, modelId });
    if (startedFrom === 'saved-state') {
      phase('restoring');
      await engine.loadState({ modelId, path: policy.statePath });
    }
    const grpo = await datums.find({ runId, step, kind: 'grpo' }).sort({ index: 1 }).toArray();
    const nll = await datums.find({ runId, step, kind: 'nll' }).sort({ index: 1 }).toArray();
    phase('forward-backward');
    const { grpoLoss, nllPerDatum } = await accumulateStepObjective(
      engine,
      modelId,
      { grpo: grpo.map((d) => d.datum), nll: nll.map((d) => d.datum) },
      config.grpo,
    );
    phase('optim-step');
    const optimizerMetrics = mongoSafeKeys(await engine.optimStep({ modelId, adam: config.optimizer }));
    phase('saving');
    const name = checkpointName(runId, `step-${step}`);
    const after: PolicyRef = {
      modelId,
      statePath: await engine.saveState({ modelId, name }),
      samplerPath: await engine.saveWeightsForSampler({ modelId, name }),
      updates: policy.updates + 1,
      rank: policy.rank,
    };
    return {
      policyBefore: policy,
      policyAfter: after,
      grpoLoss,
      nllLoss: nllPerDatum.length ? mean(nllPerDatum.map((n) => n.nll)) : null,
      grpoDatums: grpo.length,
      nllDatums: nll.length,
      internalized: nll.map((doc, i) => ({
        metaExperienceId: doc.sourceId,
        datumId: doc._id,
        nll: nllPerDatum[i]!.nll,
        tokens: nllPerDatum[i]!.tokens,
        tokenWeight: nllPerDatum[i]!.weight,
      })),
      optimizerMetrics,
      engineModelId: modelId,
      startedFrom,
      origin: origin(),
    };
  }

  /**
   * Marks each meta-experience the recorded update trained on, from the record itself: the same values whichever
   * attempt writes them, and again on a retry after a crash between the record and these writes.
   */
  async function finishUpdate(record: PolicyUpdateRecord, step: number): Promise<PolicyUpdateSummary> {
    await Promise.all(
      (record.internalized ?? []).map(({ metaExperienceId, ...entry }) =>
        metaExperiences.updateOne(
          { _id: metaExperienceId },
          { $set: { internalization: { step, ...entry } } },
        ),
      ),
    );
    return { policy: record.policyAfter, grpoLoss: record.grpoLoss, nllLoss: record.nllLoss };
  }

  async function unloadModels(modelIds: string[]) {
    for (const id of new Set(modelIds)) {
      await engine
        .unloadModel(id)
        .catch((error: unknown) => log.warn('could not unload engine model', { id, error: String(error) }));
    }
  }

  /**
   * A loaded copy of a saved policy, in a fresh engine model (`mel replay` starts from a policy whose model was
   * unloaded long ago). Same weights, same state path; the step's policy update unloads the copy when done.
   */
  async function restorePolicy({ policy, name }: RestorePolicyInput): Promise<PolicyRef> {
    const modelId = await engine.createTrainingModel({ baseModel: deps.baseModel, rank: policy.rank });
    await engine.loadState({ modelId, path: policy.statePath });
    const samplerPath = await engine.saveWeightsForSampler({
      modelId,
      name: checkpointName(name, 'restored'),
    });
    return { ...policy, modelId, samplerPath };
  }

  /** Frees the engine slot of a finished run's final policy; its saved state stays and can be restored. */
  async function releasePolicy({ policy }: ReleasePolicyInput): Promise<void> {
    keptModels.forgetModel(policy.modelId);
    await unloadModels([policy.modelId]);
  }

  return { initPolicy, policyUpdate, releasePolicy, restorePolicy };
}

/**
 * Samples with the policy's weights. After an engine restart its model is gone from memory; the policy is then
 * restored from its saved training state into a new engine model (same weights), and sampling goes on.
 */
/** What an activity asks of the policy; the sampler and the stop token come from the policy and its tokenizer. */
export type PolicySampleRequest = Omit<SampleRequest, 'sampler' | 'stopTokens'>;

export async function sampleWithPolicy(
  deps: MelActivityDeps,
  policy: PolicyRef,
  request: PolicySampleRequest,
): Promise<{ sequences: SampledSequence[]; samplerPath: string }> {
  const sample = (sampler: string) =>
    deps.engine.sample({ ...request, sampler, stopTokens: [deps.tokenizer.eosTokenId] });
  const known = await restoredSamplers.known(policy);
  try {
    const samplerPath = known ?? policy.samplerPath;
    return { sequences: await sample(samplerPath), samplerPath };
  } catch (error) {
    if (!isModelGone(error)) throw error;
    log.warn('policy sampler unavailable; restoring it from its saved state', { error: error.message });
    if (known) restoredSamplers.forget(policy);
    const restored = await restoredSamplers.restore(deps.engine, deps.baseModel, policy);
    return { sequences: await sample(restored), samplerPath: restored };
  }
}

/** One completion from the policy, with its text; an engine that returns none fails the attempt. */
export async function sampleOneWithPolicy(
  deps: MelActivityDeps,
  policy: PolicyRef,
  request: Omit<PolicySampleRequest, 'numSamples'>,
): Promise<{ sequence: SampledSequence; text: string; samplerPath: string }> {
  const { sequences, samplerPath } = await sampleWithPolicy(deps, policy, { ...request, numSamples: 1 });
  const [sequence] = sequences;
  if (!sequence) throw new Error(`the engine returned no sequence (sampler ${samplerPath})`);
  return {
    sequence,
    text: completionText(deps.tokenizer, sequence.tokens, [deps.tokenizer.eosTokenId]),
    samplerPath,
  };
}

const restoredSamplers = new RestoredSamplers(2, (error) =>
  log.warn('could not unload a restored policy', { error: String(error) }),
);

function checkpointName(runId: string, label: string): string {
  return `${runId}-${label}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Σ_t w_t · loss_t over all datums: the objective the weights encode (Eq. 10's aggregation). */
/** MongoDB field names cannot contain '.' (engine metrics are named like "skyrl.ai/grad_norm"). */
function mongoSafeKeys(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).map(([key, value]) => [key.replaceAll('.', '_'), value]));
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
