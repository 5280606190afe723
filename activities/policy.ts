/**
 * The policy on the engine. An update continues on the model that recorded the previous one when this worker kept
 * it (nothing went wrong since), and otherwise starts from the previous step's saved training state in a fresh
 * engine model; either way a retried update can never apply the optimizer twice: whatever a crashed attempt did to
 * its model is discarded, and the step's result is recorded once in MongoDB before the activity returns.
 */
import { log } from '@temporalio/activity';
import type { SampledSequence, SampleRequest } from '../engine/engine.js';
import { mapPages } from '../common/pages.js';
import { isModelGone } from '../engine/errors.js';
import { completionText, grpoBatchScale, scaleAdvantages } from '../mel/index.js';
import type { RunConfig } from '../mel/run-config.js';
import type { DatumDoc, PolicyUpdateRecord } from '../store/documents.js';
import { ids, stepScope } from '../store/documents.js';
import { melCollections } from '../store/collections.js';
import { datumOf } from '../store/datum-codec.js';
import { forkSource, ForkSourceError } from '../store/queries.js';
import { stepReads } from '../store/step-reads.js';
import { setFields, setOnce, upsertOne } from '../store/writes.js';
import type { PolicyRef, ReleasePolicyInput, RestorePolicyInput } from '../temporal/contracts/common.js';
import type {
  InitPolicyInput,
  PolicyStepRef,
  PolicyUpdateSummary,
  StepRef,
} from '../temporal/contracts/run.js';
import { KeptModels } from './kept-models.js';
import { RestoredSamplers } from './restored-samplers.js';
import { assertSampledFrom } from './sample-provenance.js';
import { invalidInput, loadRun, origin, showProgress, type MelActivityDeps } from './support.js';
import { accumulateStepObjective } from './step-objective.js';

export function createPolicyActivities(deps: MelActivityDeps) {
  const { db, engine } = deps;
  const { runs, steps, datums, metaExperiences, writeOnce } = melCollections(db);
  const reads = stepReads(db);
  const keptModels = new KeptModels();

  /**
   * The run's starting policy, saved once and reused by every retry and replay: a fresh LoRA adapter, or a copy of
   * the checkpoint the configuration forks from (`initialPolicy`: its weights and optimizer state).
   */
  async function initPolicy({ runId }: InitPolicyInput): Promise<PolicyRef> {
    const run = await loadRun(db, runId);
    if (run.initialPolicy) return run.initialPolicy;
    const { rank } = run.config.lora;
    const source = run.config.initialPolicy
      ? await forkSource(db, run.config.initialPolicy, rank).catch((error: unknown) => {
          throw error instanceof ForkSourceError ? invalidInput(error.message) : error;
        })
      : null;
    const modelId = await engine.createTrainingModel({
      baseModel: deps.baseModel,
      rank,
      seed: run.config.seed,
    });
    if (source) await engine.loadState({ modelId, path: source.policy.statePath });
    const name = checkpointName(runId, 'init');
    const policy: PolicyRef = {
      modelId,
      statePath: await engine.saveState({ modelId, name }),
      samplerPath: await engine.saveWeightsForSampler({ modelId, name }),
      updates: source?.policy.updates ?? 0,
      rank,
      engine: deps.engineId,
    };
    const forkedFrom = source && {
      runId: source.runId,
      step: source.step,
      statePath: source.policy.statePath,
    };
    // Write-once: when another attempt's policy got there first (a stale attempt's late write too), it stands.
    const [stored] = await setOnce(writeOnce, runs, 'initialPolicy', [
      { id: runId, fields: { initialPolicy: policy, ...(forkedFrom ? { forkedFrom } : {}) } },
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
    await upsertOne(steps, ids.step(runId, step), {
      $set: { runId, step },
      $addToSet: { engineModels: modelId },
    });
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
    // Each page of GRPO datums is checked as it is read: one sampled by another policy fails the update before
    // its optimizer step, and the model it was sent to is never kept.
    const trainable = (docs: DatumDoc[]) => {
      assertSampledFrom(
        docs.map((d) => ({ _id: d.sourceId, sampledBy: d.sampledBy })),
        policy,
        `the policy update of step ${step}`,
      );
      return docs.map(datumOf);
    };
    const nll = await datums
      .find({ ...stepScope(runId, step), kind: 'nll' })
      .sort({ index: 1 })
      .toArray();
    const nllDatums = trainable(nll);
    const grpo = await reads.grpoDatumPages(runId, step);
    // Datums built a prompt chunk at a time still need the factor that depends on the whole batch.
    const scale = grpo.batch
      ? grpoBatchScale(grpo.batch, config.mel.loss.grpoAggregation, config.mel.advantage)
      : 1;
    const trainableGrpo = (docs: DatumDoc[]) => trainable(docs).map((datum) => scaleAdvantages(datum, scale));
    phase('forward-backward');
    const { grpoLoss, nllPerDatum } = await accumulateStepObjective(
      engine,
      modelId,
      { grpo: { count: grpo.count, pages: mapPages(grpo.pages, trainableGrpo) }, nll: nllDatums },
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
      engine: deps.engineId,
    };
    return {
      policyBefore: policy,
      policyAfter: after,
      grpoLoss,
      nllLoss: nllPerDatum.length ? mean(nllPerDatum.map((n) => n.nll)) : null,
      grpoDatums: grpo.count,
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
    await setFields(
      metaExperiences,
      (record.internalized ?? []).map(({ metaExperienceId, ...entry }) => ({
        id: metaExperienceId,
        fields: { internalization: { step, ...entry } },
      })),
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
    return { ...policy, modelId, samplerPath, engine: deps.engineId };
  }

  /** Frees the engine slot of a finished run's final policy; its saved state stays and can be restored. */
  async function releasePolicy({ policy }: ReleasePolicyInput): Promise<void> {
    keptModels.forgetModel(policy.modelId);
    await unloadModels([policy.modelId]);
  }

  return { initPolicy, policyUpdate, releasePolicy, restorePolicy };
}

/** What an activity asks of the policy; the sampler and the stop token come from the policy and its tokenizer. */
export type PolicySampleRequest = Omit<SampleRequest, 'sampler' | 'stopTokens'>;

/**
 * Samples with the policy's weights on the worker's own engine. A policy saved on another engine (another inference
 * engine of the run) is restored here from its saved training state, which the engines share (their checkpoint
 * store). After an engine restart the policy's model is gone from memory; it is then restored the same way (same
 * weights), and sampling goes on.
 */
export async function sampleWithPolicy(
  deps: MelActivityDeps,
  policy: PolicyRef,
  request: PolicySampleRequest,
): Promise<{ sequences: SampledSequence[]; samplerPath: string }> {
  const sample = (sampler: string) =>
    deps.engine.sample({ ...request, sampler, stopTokens: [deps.tokenizer.eosTokenId] });
  const samplers = restoredSamplersOn(deps.engineId);
  const restoreHere = () => restoreOnEngine(deps, samplers, policy);
  const elsewhere = policy.engine !== undefined && policy.engine !== deps.engineId;
  const local = (await samplers.known(policy)) ?? (elsewhere ? await restoreHere() : policy.samplerPath);
  try {
    return { sequences: await sample(local), samplerPath: local };
  } catch (error) {
    if (!isModelGone(error)) throw error;
    log.warn('policy sampler unavailable; restoring it from its saved state', { error: error.message });
    if (local !== policy.samplerPath) samplers.forget(policy);
    const restored = await restoreHere();
    return { sequences: await sample(restored), samplerPath: restored };
  }
}

/** The policy restored on the worker's engine; an engine that cannot read the saved state says whose it is. */
async function restoreOnEngine(
  deps: MelActivityDeps,
  samplers: RestoredSamplers,
  policy: PolicyRef,
): Promise<string> {
  return samplers.restore(deps.engine, deps.baseModel, policy).catch((error: unknown) => {
    if (!isModelGone(error) || policy.engine === undefined || policy.engine === deps.engineId) throw error;
    error.message =
      `engine ${deps.engineId} cannot load ${policy.statePath}, saved by engine ${policy.engine}: the engines ` +
      `of a run must share their checkpoint store (${error.message})`;
    throw error;
  });
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

/** Restored copies per engine (a process may run workers on several engines, as tests do). */
const restoredSamplers = new Map<string, RestoredSamplers>();

function restoredSamplersOn(engineId: string): RestoredSamplers {
  let samplers = restoredSamplers.get(engineId);
  if (!samplers) {
    samplers = new RestoredSamplers(2, (error) =>
      log.warn('could not unload a restored policy', { engine: engineId, error: String(error) }),
    );
    restoredSamplers.set(engineId, samplers);
  }
  return samplers;
}

function checkpointName(runId: string, label: string): string {
  return `${runId}-${label}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** MongoDB field names cannot contain '.' (engine metrics are named like "skyrl.ai/grad_norm"). */
function mongoSafeKeys(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).map(([key, value]) => [key.replaceAll('.', '_'), value]));
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
