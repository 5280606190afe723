/**
 * The policy on the engine. An update continues on the model that recorded the previous one when this worker kept
 * it (nothing went wrong since), and otherwise starts from the previous step's saved training state in a fresh
 * engine model; either way a retried update can never apply the optimizer twice: whatever a crashed attempt did to
 * its model is discarded, and the step's result is recorded once in MongoDB before the activity returns. A MEL
 * step's GRPO datums reach the model earlier, while the step reflects (`accumulateGrpoGradients`), and the update
 * then sends only the NLL datums to that same model.
 */
import { log } from '@temporalio/activity';
import type { SampledSequence, SampleRequest } from '../engine/engine.js';
import { mapPages, type Paged } from '../common/pages.js';
import { isModelGone } from '../engine/errors.js';
import {
  completionText,
  dividesByDatumCount,
  grpoBatchScale,
  scaleAdvantages,
  type Datum,
} from '../mel/index.js';
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
  GrpoGradientsInput,
  GrpoGradientsSummary,
  InitPolicyInput,
  PolicyStepRef,
  PolicyUpdateSummary,
  StepRef,
} from '../temporal/contracts/run.js';
import { KeptModels, StepGradients, type GrpoGradients } from './kept-models.js';
import { RestoredSamplers } from './restored-samplers.js';
import { assertSampledFrom } from './sample-provenance.js';
import { invalidInput, loadRun, origin, showProgress, type MelActivityDeps } from './support.js';
import { accumulateGrpo, accumulateNllAfterGrpo, accumulateStepObjective } from './step-objective.js';

export function createPolicyActivities(deps: MelActivityDeps) {
  const { db, engine } = deps;
  const { runs, steps, datums, metaExperiences, writeOnce } = melCollections(db);
  const reads = stepReads(db);
  const keptModels = new KeptModels();
  const stepGradients = new StepGradients();

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
   * One optimizer step on GRPO + NLL datums of the step: on the model to which this worker sent the step's GRPO
   * datums already (`accumulateGrpoGradients`), or on the model it kept from the previous update (`KeptModels`), or
   * else on a fresh model restored from the previous policy's saved state.
   */
  async function policyUpdate({ runId, step, policy }: PolicyStepRef): Promise<PolicyUpdateSummary> {
    const stepId = ids.step(runId, step);
    const done = await steps.findOne({ _id: stepId });
    if (done?.update) return finishUpdate(done.update, step);
    const sent = stepGradients.take(runId, step, policy);
    const kept = sent ? undefined : keptModels.take(runId, policy);
    await unloadModels((done?.engineModels ?? []).filter((id) => id !== sent?.modelId));

    const run = await loadRun(db, runId);
    const ref = { runId, step, policy };
    const onSent = sent ? await finishOnSentGradients(run.config, ref, sent) : undefined;
    const { result: record, modelId } =
      onSent ??
      (await onTrainingModel(run.config, ref, kept, (modelId, startedFrom) =>
        trainOneStep(run.config, ref, modelId, startedFrom),
      ));
    // Write-once: the step's first recorded update stands, even when it is a stale attempt's late write.
    const [stored] = await setOnce(writeOnce, steps, 'update', [{ id: stepId, fields: { update: record } }]);
    const recorded = stored!.update;
    if (recorded.engineModelId === modelId) keptModels.keep(runId, recorded.policyAfter);
    await unloadModels(
      [policy.modelId, modelId, kept, sent?.modelId, ...(done?.engineModels ?? [])].filter(
        (id): id is string => id !== undefined && id !== recorded.engineModelId,
      ),
    );
    return finishUpdate(recorded, step);
  }

  /**
   * The step's GRPO datums sent to the training model while the reflection stages still sample, so that the policy
   * update has only the NLL datums left to send. They are scaled for the step's GRPO datums and `nllAtMost` NLL
   * datums, a bound the policy update makes exact (`accumulateNllAfterGrpo`); without the bound, only an engine that
   * sums the loss over datums (hosted Tinker) can take them early. The model with its gradients stays with this
   * worker for the step's policy update; after anything else (a failure, the update on another worker, a restart)
   * the policy update sends both halves itself.
   */
  async function accumulateGrpoGradients({
    runId,
    step,
    policy,
    nllAtMost,
  }: GrpoGradientsInput): Promise<GrpoGradientsSummary> {
    const done = await steps.findOne({ _id: ids.step(runId, step) });
    if (done?.update) return { sent: false, grpoDatums: 0, reason: 'the step is updated already' };
    if (nllAtMost === undefined && dividesByDatumCount(engine.lossReduction)) {
      const reason = `the engine's ${engine.lossReduction} loss reduction needs a bound on the step's NLL datums`;
      return { sent: false, grpoDatums: 0, reason };
    }
    const run = await loadRun(db, runId);
    const ref = { runId, step, policy };
    const { modelId, startedFrom, result } = await onTrainingModel(
      run.config,
      ref,
      keptModels.take(runId, policy),
      async (modelId) => {
        const grpo = await grpoPages(run.config, ref);
        showProgress({ stage: 'policy-update', phase: 'grpo-forward-backward', modelId });
        const stepDatums = grpo.count + (nllAtMost ?? 0);
        const grpoLoss = await accumulateGrpo(engine, modelId, grpo, stepDatums, run.config.grpo);
        return { grpoLoss, grpoDatums: grpo.count, stepDatums };
      },
    );
    stepGradients.put(runId, { step, policy, modelId, startedFrom, ...result });
    return { sent: true, grpoDatums: result.grpoDatums };
  }

  /** Claims an engine model for the step, before anything touches it: a retry of the step frees it first. */
  async function claimForStep({ runId, step }: StepRef, modelId: string) {
    await upsertOne(steps, ids.step(runId, step), {
      $set: { runId, step },
      $addToSet: { engineModels: modelId },
    });
  }

  /**
   * `train` on the model this worker kept with the policy's state, or, when it kept none or the engine lost it
   * (restarted, or evicted it: a lost model carries no gradient), on a fresh model restored from the saved state.
   */
  async function onTrainingModel<T>(
    config: RunConfig,
    ref: PolicyStepRef,
    kept: string | undefined,
    train: (modelId: string, startedFrom: StartedFrom) => Promise<T>,
  ): Promise<{ modelId: string; startedFrom: StartedFrom; result: T }> {
    if (kept) {
      await claimForStep(ref, kept);
      const onKept = await unlessModelGone(kept, () => train(kept, 'kept-model'));
      if (onKept) return { modelId: kept, startedFrom: 'kept-model', result: onKept.value };
    }
    const modelId = await engine.createTrainingModel({
      baseModel: deps.baseModel,
      rank: ref.policy.rank,
      seed: config.seed,
    });
    await claimForStep(ref, modelId);
    showProgress({ stage: 'policy-update', phase: 'restoring', modelId });
    await engine.loadState({ modelId, path: ref.policy.statePath });
    return { modelId, startedFrom: 'saved-state', result: await train(modelId, 'saved-state') };
  }

  /** `work` on `modelId`, or undefined when the engine no longer holds that model. */
  async function unlessModelGone<T>(
    modelId: string,
    work: () => Promise<T>,
  ): Promise<{ value: T } | undefined> {
    try {
      return { value: await work() };
    } catch (error) {
      if (!isModelGone(error)) throw error;
      log.warn('the training model is gone; restoring the saved state into a fresh model', {
        modelId,
        error: error.message,
      });
      return undefined;
    }
  }

  /** The update on the model that holds the step's GRPO gradients; undefined when the engine lost it. */
  async function finishOnSentGradients(config: RunConfig, ref: PolicyStepRef, sent: GrpoGradients) {
    const record = await unlessModelGone(sent.modelId, () =>
      trainOneStep(config, ref, sent.modelId, sent.startedFrom, sent),
    );
    return record && { modelId: sent.modelId, result: record.value };
  }

  /**
   * The step's GRPO datums, a page at a time, each page checked as it is read (one sampled by another policy fails
   * the update before its optimizer step, and the model it was sent to is never kept) and scaled by the factor
   * that depends on the whole batch (datums built a prompt chunk at a time still need it).
   */
  async function grpoPages(config: RunConfig, { runId, step, policy }: PolicyStepRef): Promise<Paged<Datum>> {
    const grpo = await reads.grpoDatumPages(runId, step);
    const scale = grpo.batch
      ? grpoBatchScale(grpo.batch, config.mel.loss.grpoAggregation, config.mel.advantage)
      : 1;
    const trainable = (docs: DatumDoc[]) =>
      trainableDatums(docs, policy, step).map((datum) => scaleAdvantages(datum, scale));
    return { count: grpo.count, pages: mapPages(grpo.pages, trainable) };
  }

  /**
   * The update on `modelId`, which holds the previous policy's state, and the step's GRPO gradients too when
   * `sent`: what the step records.
   */
  async function trainOneStep(
    config: RunConfig,
    ref: PolicyStepRef,
    modelId: string,
    startedFrom: StartedFrom,
    sent?: GrpoGradients,
  ): Promise<PolicyUpdateRecord> {
    const { runId, step, policy } = ref;
    const phase = (name: string) => showProgress({ stage: 'policy-update', phase: name, modelId });
    const nll = await datums
      .find({ ...stepScope(runId, step), kind: 'nll' })
      .sort({ index: 1 })
      .toArray();
    const nllDatums = trainableDatums(nll, policy, step);
    phase('forward-backward');
    const grpo = sent ? undefined : await grpoPages(config, ref);
    const { grpoLoss, nllPerDatum, countOnlyDatums } = grpo
      ? {
          ...(await accumulateStepObjective(engine, modelId, { grpo, nll: nllDatums }, config.grpo)),
          countOnlyDatums: 0,
        }
      : {
          grpoLoss: sent!.grpoLoss,
          ...(await accumulateNllAfterGrpo(engine, modelId, nllDatums, sent!)),
        };
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
      grpoDatums: grpo ? grpo.count : sent!.grpoDatums,
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
      ...(sent ? { grpoSentWhileReflecting: true as const } : {}),
      ...(countOnlyDatums > 0 ? { countOnlyDatums } : {}),
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

  return { initPolicy, policyUpdate, accumulateGrpoGradients, releasePolicy, restorePolicy };
}

type StartedFrom = NonNullable<PolicyUpdateRecord['startedFrom']>;

/** Stored datums as the engine takes them, once checked to have been sampled by `policy`. */
function trainableDatums(docs: DatumDoc[], policy: PolicyRef, step: number): Datum[] {
  assertSampledFrom(
    docs.map((d) => ({ _id: d.sourceId, sampledBy: d.sampledBy })),
    policy,
    `the policy update of step ${step}`,
  );
  return docs.map(datumOf);
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
